package stop

import (
	"context"
	"errors"
	"slices"
	"syscall"
	"time"

	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// signal walks the victims' ladders: it sends each its next signal, waits
// until every one has gone or every port is free, and moves to the next
// rung for those that have not, until SIGKILL. A stopped process is resumed
// after its signal. When the wait is interrupted (ctx), nothing more is
// sent.
func (e *Engine) signal(ctx context.Context, req *Request, r *Report, vs []*Victim) {
	start := time.Now()
	for round := 0; ; round++ {
		sentKill := false
		for _, v := range vs {
			if round >= len(v.Steps) || v.gone > 0 || (round > 0 && !v.sent) {
				continue
			}
			st := v.Steps[round]
			err := e.Guard.Signal(&v.Process, st.Signal)
			if err == nil {
				v.sent, v.stepped = true, round+1
				v.Outcome.Sent = append(v.Outcome.Sent, st.Signal)
				sentKill = sentKill || st.Signal == syscall.SIGKILL
				if st.Signal != syscall.SIGKILL && v.Process.Stopped() {
					// SIGTERM waits, pending, until a stopped process
					// runs again.
					if e.Guard.Continue(&v.Process) == nil {
						v.Outcome.WasStopped = true
					}
				}
				continue
			}
			if round > 0 {
				// It was signalled before: an error now means it went
				// meanwhile; the next wait finds out.
				continue
			}
			v.Outcome.Kind, v.Outcome.Err = signalError(err)
			if v.Outcome.Kind == Changed {
				if p, err := procs.Get(v.Process.PID); err == nil {
					v.Outcome.Now = p
				}
			}
		}
		if !slices.ContainsFunc(vs, func(v *Victim) bool { return v.sent }) {
			return
		}
		wait := req.Timeout
		if sentKill && !e.moreSteps(vs, round) {
			wait = req.KillWait
		}
		// After SIGKILL the port frees itself when the process is gone:
		// wait for the processes, not the ports.
		done := e.waitGone(ctx, r, vs, start, time.Now().Add(wait), !sentKill || e.moreSteps(vs, round))
		if done || ctx.Err() != nil || !e.moreSteps(vs, round) {
			break
		}
		// Before the next signal: what the resisting ones wait for.
		for _, v := range vs {
			if v.sent && v.gone == 0 && v.stepped == round+1 && round+1 < len(v.Steps) {
				v.Outcome.Resisted = append(v.Outcome.Resisted, Resisted{
					Step: v.Steps[round], Clients: e.clients(ctx, v), Next: v.Steps[round+1]})
			}
		}
	}
	for _, v := range vs {
		if !v.sent {
			continue
		}
		last := v.Outcome.Sent[len(v.Outcome.Sent)-1]
		v.Outcome.Signal = last
		switch {
		case v.gone > 0 && last == syscall.SIGKILL && len(v.Outcome.Sent) > 1:
			v.Outcome.Kind, v.Outcome.After = Killed, v.gone
		case v.gone > 0:
			v.Outcome.Kind, v.Outcome.After = ExitedOnSignal, v.gone
		case last == syscall.SIGKILL || ctx.Err() != nil:
			v.Outcome.Kind = StillRunning
		default:
			v.Outcome.Kind, v.Outcome.After = StoppedListening, time.Since(start)
		}
		if v.Outcome.Kind == StillRunning && ctx.Err() != nil && v.stepped < len(v.Steps) {
			// Interrupted before the next rung: say what it resisted.
			v.Outcome.Resisted = append(v.Outcome.Resisted, Resisted{Step: v.Steps[v.stepped-1], Clients: e.clients(context.WithoutCancel(ctx), v)})
		}
	}
}

// moreSteps reports whether a victim still running has a signal left after
// round.
func (e *Engine) moreSteps(vs []*Victim, round int) bool {
	return slices.ContainsFunc(vs, func(v *Victim) bool {
		return v.sent && v.gone == 0 && round+1 < len(v.Steps)
	})
}

func signalError(err error) (Kind, error) {
	var re *procs.RefusedError
	switch {
	case errors.As(err, &re):
		return Refused, err
	case errors.Is(err, procs.ErrReused):
		return Changed, nil
	case errors.Is(err, procs.ErrGone):
		return Gone, nil
	case errors.Is(err, procs.ErrPermission):
		return PermissionDenied, err
	}
	return Failed, err
}

// waitGone polls until every signalled process is gone or, when portsCount,
// until every target is free; it records when each process went and
// reports whether all of that happened before deadline.
func (e *Engine) waitGone(ctx context.Context, r *Report, vs []*Victim, start, deadline time.Time, portsCount bool) bool {
	// Most processes go within a few milliseconds of the signal: look
	// again after 250µs, then back off to Poll.
	pause := min(250*time.Microsecond, e.Poll)
	for {
		all := true
		for _, v := range vs {
			if !v.sent || v.gone > 0 {
				continue
			}
			if e.Guard.Alive(&v.Process) {
				all = false
			} else {
				v.gone = max(time.Since(start), time.Microsecond)
			}
		}
		if all {
			return true
		}
		if portsCount && e.portsFree(ctx, r) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		pause = min(2*pause, e.Poll)
	}
}

func (e *Engine) portsFree(ctx context.Context, r *Report) bool {
	for _, p := range r.Ports {
		if !p.Held() {
			continue
		}
		left, err := e.listeners(ctx, p.Target, true)
		if err != nil || len(left) > 0 {
			return false
		}
	}
	return true
}

// clients lists the connections open to v's TCP listeners, naming the
// client process where it is on this machine and visible.
func (e *Engine) clients(ctx context.Context, v *Victim) []Client {
	var out []Client
	var seen []uint16
	for _, l := range slices.Concat(v.Holds, v.Also) {
		if l.Proto != sockets.TCP || slices.Contains(seen, l.Port()) {
			continue
		}
		seen = append(seen, l.Port())
		snap, err := e.Take(ctx, sockets.Filter{TCP: true, All: true, Port: l.Port(), NoOwners: true})
		if err != nil {
			continue
		}
		for _, s := range snap.Sockets {
			if s.State == sockets.Established || s.State == sockets.CloseWait {
				out = append(out, Client{Local: s.Local, Remote: s.Remote})
			}
		}
	}
	// Name the clients on this machine: the socket at the other end.
	for i := range out {
		if i >= 8 || !out[i].Remote.Addr().Unmap().IsLoopback() {
			continue
		}
		snap, err := e.Take(ctx, sockets.Filter{TCP: true, All: true, Port: out[i].Remote.Port()})
		if err != nil {
			continue
		}
		for _, s := range snap.Sockets {
			if s.Local == out[i].Remote && s.Remote == out[i].Local && len(s.Owners) > 0 {
				p := s.Owners[0]
				out[i].Process = &p
				break
			}
		}
	}
	return out
}

// verify reads the inventory again: a supervisor may have started the
// service again, or a socket may have had an owner that was not visible.
func (e *Engine) verify(ctx context.Context, r *Report) error {
	sent := slices.ContainsFunc(r.Victims, func(v *Victim) bool { return v.sent })
	for _, p := range r.Ports {
		if !p.Held() {
			continue
		}
		left, err := e.listeners(ctx, p.Target, false)
		// A socket whose last holder has just exited may outlive it for a
		// moment without an owner, while the kernel finishes closing it.
		for grace := time.Now().Add(time.Second); sent && err == nil && len(left) > 0 && noOwners(left) && time.Now().Before(grace); {
			time.Sleep(e.Poll)
			left, err = e.listeners(ctx, p.Target, false)
		}
		if err != nil {
			return err
		}
		p.Checked, p.Left = true, left
		for i := range left {
			for _, o := range left[i].Owners {
				if !slices.ContainsFunc(r.Victims, func(v *Victim) bool { return v.Process.PID == o.PID }) {
					p.Restarted = true
				}
			}
		}
	}
	return nil
}

// noOwners reports whether no socket has a visible owner.
func noOwners(socks []sockets.Socket) bool {
	return !slices.ContainsFunc(socks, func(s sockets.Socket) bool { return len(s.Owners) > 0 })
}

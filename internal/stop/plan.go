package stop

import (
	"context"
	"errors"
	"slices"

	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// plan reads who holds each target and decides, for each holder, whether
// and how it will be signalled. Nothing is signalled here.
func (e *Engine) plan(ctx context.Context, req *Request) (*Report, error) {
	r := &Report{}
	for _, t := range req.Targets {
		socks, err := e.listeners(ctx, t, false)
		if err != nil {
			return nil, err
		}
		p := &Port{Target: t, Sockets: socks}
		r.Ports = append(r.Ports, p)
		for i := range socks {
			s := &socks[i]
			if len(s.Owners) == 0 {
				p.Unseen = append(p.Unseen, Unseen{Kind: e.unseenKind(s), UID: s.UID, Socket: *s})
				continue
			}
			for _, o := range s.Owners {
				j := slices.IndexFunc(r.Victims, func(v *Victim) bool {
					return v.Process.PID == o.PID && v.Process.StartTicks == o.StartTicks
				})
				if j < 0 {
					r.Victims = append(r.Victims, &Victim{Process: o, Port: t.Port})
					j = len(r.Victims) - 1
				}
				v := r.Victims[j]
				if !slices.ContainsFunc(v.Holds, func(h sockets.Socket) bool { return sameSocket(&h, s) }) {
					v.Holds = append(v.Holds, *s)
				}
			}
		}
	}
	if len(req.Expect) > 0 {
		r.Victims = expected(r.Victims, req.Expect)
	}
	for _, v := range r.Victims {
		if v.Outcome.Kind == Changed {
			continue
		}
		v.Server = procs.KnownServer(&v.Process)
		v.Steps = procs.StopSteps(&v.Process, req.Signal)
		if e.Note != nil {
			if n, ok := e.Note(v.Process.PID, v.Port); ok {
				v.Note = &n
				v.Outcome.Kind = Refused
				continue
			}
		}
		if err := e.Guard.Check(&v.Process); err != nil {
			var re *procs.RefusedError
			if errors.As(err, &re) {
				v.Refused = re
				v.Outcome.Kind = Refused
			}
		}
	}
	if err := e.others(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// unseenKind says why s shows no owner.
func (e *Engine) unseenKind(s *sockets.Socket) UnseenKind {
	switch uid := e.Guard.UID; {
	case s.UID < 0 || uid < 0:
		return UnseenUnknown
	case uid == 0:
		return UnseenNamespace
	case s.UID == uid:
		return UnseenOwnUser
	}
	return UnseenOtherUser
}

// expected keeps the victims that match an expectation; an expectation
// that matches none becomes a Changed victim, which is never signalled.
func expected(vs []*Victim, exp []Expect) []*Victim {
	var out []*Victim
	for _, x := range exp {
		j := slices.IndexFunc(vs, func(v *Victim) bool { return v.Process.PID == x.PID })
		if j >= 0 && matches(vs[j], x) {
			if !slices.Contains(out, vs[j]) {
				out = append(out, vs[j])
			}
			continue
		}
		v := &Victim{Process: procs.Process{PID: x.PID, Start: x.Start, StartTicks: x.StartTicks, UID: -1}}
		v.Outcome.Kind = Changed
		if j >= 0 {
			now := vs[j].Process
			v.Outcome.Now = &now
		} else if p, err := procs.Get(x.PID); err == nil {
			v.Outcome.Now = p
		}
		out = append(out, v)
	}
	return out
}

func matches(v *Victim, x Expect) bool {
	switch {
	case x.StartTicks != 0 && v.Process.StartTicks != x.StartTicks:
		return false
	case x.StartTicks == 0 && !x.Start.IsZero() && !v.Process.Start.Equal(x.Start):
		return false
	case x.Inode != 0 && !slices.ContainsFunc(v.Holds, func(s sockets.Socket) bool { return s.Inode == x.Inode }):
		return false
	}
	return true
}

// others fills each victim's Also: the listeners it holds besides the
// targets, which close with it.
func (e *Engine) others(ctx context.Context, r *Report) error {
	var pids []int
	for _, v := range r.Victims {
		if v.Outcome.Kind != Changed && v.Note == nil && !slices.Contains(pids, v.Process.PID) {
			pids = append(pids, v.Process.PID)
		}
	}
	if len(pids) == 0 {
		return nil
	}
	snap, err := e.Take(ctx, sockets.Filter{PIDs: pids})
	if err != nil {
		return err
	}
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		for _, v := range r.Victims {
			owned := slices.ContainsFunc(s.Owners, func(o procs.Process) bool {
				return o.PID == v.Process.PID && o.StartTicks == v.Process.StartTicks
			})
			if !owned || slices.ContainsFunc(v.Holds, func(h sockets.Socket) bool { return sameSocket(&h, s) }) ||
				slices.ContainsFunc(v.Also, func(h sockets.Socket) bool { return sameSocket(&h, s) }) {
				continue
			}
			v.Also = append(v.Also, *s)
		}
	}
	return nil
}

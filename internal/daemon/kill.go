package daemon

import (
	"context"
	"fmt"

	"homeport/internal/dashboard"
	"homeport/internal/procs"
	"homeport/internal/sockets"
	"homeport/internal/stop"
)

// kill is the dashboard's kill: the engine `homeport kill` uses, limited to
// the process the row showed (pid, start time, socket inode), with the same
// refusals and outcomes.
func kill(ctx context.Context, req dashboard.KillRequest) (*dashboard.KillResult, error) {
	var e stop.Engine
	rep, err := e.Free(ctx, stop.Request{
		Targets: []stop.Target{{Port: req.Port, Proto: sockets.Proto(req.Proto)}},
		Expect:  []stop.Expect{{PID: req.PID, Start: req.Started, Inode: req.Inode}},
	})
	if err != nil {
		return nil, err
	}
	res := &dashboard.KillResult{Outcomes: []dashboard.KillOutcome{}, Freed: rep.Held() && len(rep.NotFreed()) == 0}
	for _, v := range rep.Victims {
		o := dashboard.KillOutcome{PID: v.Process.PID, Name: v.Process.Name, Kind: v.Outcome.Kind.String(), Detail: outcomeText(v)}
		if v.Outcome.Signal != 0 {
			o.Signal = procs.SignalName(v.Outcome.Signal)
		}
		if v.Outcome.Kind == stop.Changed {
			res.Changed = true
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	return res, nil
}

// outcomeText says what happened in one sentence, for the row.
func outcomeText(v *stop.Victim) string {
	o := &v.Outcome
	sig := procs.SignalName(o.Signal)
	switch o.Kind {
	case stop.ExitedOnSignal:
		return fmt.Sprintf("exited on %s after %s", sig, o.After.Round(1e6))
	case stop.StoppedListening:
		return fmt.Sprintf("stopped listening on %s; still running", sig)
	case stop.Killed:
		return fmt.Sprintf("did not stop on the gentler signals: killed (%s)", sig)
	case stop.Refused:
		if v.Refused != nil {
			return "refused: " + v.Refused.Error()
		}
		if v.Note != nil {
			return "refused: " + v.Note.Reason
		}
		return "refused"
	case stop.PermissionDenied:
		return "permission denied: run the dashboard as the process's user, or as root"
	case stop.StillRunning:
		return "still running after every signal"
	case stop.Gone:
		return "had already exited"
	case stop.Changed:
		if o.Now != nil {
			return fmt.Sprintf("changed since shown: pid %d is now %s; nothing was sent", v.Process.PID, o.Now.Name)
		}
		return "changed since shown: that process no longer holds the port; nothing was sent"
	case stop.Failed:
		if o.Err != nil {
			return "failed: " + o.Err.Error()
		}
		return "failed"
	}
	return o.Kind.String()
}

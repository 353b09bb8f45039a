package runner

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"homeport/internal/daemon"
	"homeport/internal/procs"
	"homeport/internal/router"
)

// Daemon is the daemon's router as Routes. Project, when set, names the
// project whose service the run is: its route carries it, and the
// dashboard groups the service's listeners under it.
type Daemon struct {
	Project string
}

// EnsureDaemon returns the state of this user's daemon, starting one in the
// background (as `homeport up --detach` does, with exe as homeport) when
// none runs; started says it did.
func EnsureDaemon(ctx context.Context, exe string) (st *daemon.State, started bool, err error) {
	st, err = daemon.Find(ctx)
	if err == nil {
		return st, false, nil
	}
	if !errors.Is(err, daemon.ErrNotRunning) {
		return nil, false, err
	}
	st, err = daemon.Detach(ctx, exe, []string{"up", "--no-open", "--port", strconv.Itoa(daemon.DefaultPort)})
	var running *daemon.RunningError
	if errors.As(err, &running) && running.State.PID != 0 {
		return &running.State, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return st, true, nil
}

// Add adds the run route. A name still held by a run whose owner has gone
// (killed with SIGKILL, so it could not remove its route) is taken over.
func (d Daemon) Add(ctx context.Context, name string, port, pid int) error {
	r := daemon.RunRoute{Name: name, Port: port, PID: pid, Project: d.Project}
	_, _, err := daemon.AddRunRoute(ctx, r)
	var ae *daemon.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		return err
	}
	rt, ok := lookup(ctx, name)
	if !ok || rt.Kind != router.KindRun || rt.PID == pid {
		return err
	}
	if _, perr := procs.Get(rt.PID); perr == nil {
		return err
	}
	if _, rerr := daemon.RemoveRoute(ctx, name); rerr != nil {
		return err
	}
	_, _, err = daemon.AddRunRoute(ctx, r)
	return err
}

// Remove removes the route name if the run pid still owns it. A daemon
// that has gone took the route with it.
func (Daemon) Remove(ctx context.Context, name string, pid int) error {
	routes, _, err := daemon.Routes(ctx)
	if errors.Is(err, daemon.ErrNotRunning) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, r := range routes {
		if r.Name == name && r.Kind == router.KindRun && r.PID == pid {
			_, err := daemon.RemoveRoute(ctx, name)
			if errors.Is(err, router.ErrNoRoute) {
				return nil
			}
			return err
		}
	}
	return nil
}

func lookup(ctx context.Context, name string) (router.Route, bool) {
	routes, _, err := daemon.Routes(ctx)
	if err != nil {
		return router.Route{}, false
	}
	for _, r := range routes {
		if r.Name == name {
			return r, true
		}
	}
	return router.Route{}, false
}

var _ Routes = Daemon{}

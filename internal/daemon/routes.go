package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"homeport/internal/procs"
	"homeport/internal/router"
)

// Routes returns the running daemon's routes and the daemon's port.
func Routes(ctx context.Context) ([]router.Route, int, error) {
	c, st, err := Connect()
	if err != nil {
		return nil, 0, err
	}
	var l router.RouteList
	if err := c.do(ctx, http.MethodGet, "/api/v1/routes", nil, &l); err != nil {
		return nil, 0, c.askErr(err, st)
	}
	return l.Routes, st.Port, nil
}

// AddRoute adds the persistent route name → port to the running daemon and
// returns it as stored, with the daemon's port.
func AddRoute(ctx context.Context, name string, port int) (router.Route, int, error) {
	c, st, err := Connect()
	if err != nil {
		return router.Route{}, 0, err
	}
	var rt router.Route
	if err := c.do(ctx, http.MethodPost, "/api/v1/routes", router.AddRequest{Name: name, Port: port}, &rt); err != nil {
		return router.Route{}, 0, c.askErr(err, st)
	}
	return rt, st.Port, nil
}

// RemoveRoute removes the route name from the running daemon and returns it.
func RemoveRoute(ctx context.Context, name string) (router.Route, error) {
	c, st, err := Connect()
	if err != nil {
		return router.Route{}, err
	}
	var rt router.Route
	if err := c.do(ctx, http.MethodPost, "/api/v1/routes/remove", router.RemoveRequest{Name: name}, &rt); err != nil {
		return router.Route{}, c.askErr(err, st)
	}
	return rt, nil
}

// askErr tells an answer of the daemon (an *APIError, kept as it is) from a
// daemon that is gone (ErrNotRunning: a stale daemon.json) or does not
// answer.
func (c *Client) askErr(err error, st *State) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	if _, perr := procs.Get(st.PID); perr != nil {
		return ErrNotRunning
	}
	return fmt.Errorf("%w: pid %d does not answer on %s: %v", ErrNotRunning, st.PID, c.Base, err)
}

// RunRoute is a route that `homeport run` registers for the app it
// started: it goes when its owner does.
type RunRoute struct {
	Name string
	Port int
	// PID owns the route: the `homeport run` process itself, whose end
	// (even by SIGKILL) takes the route away.
	PID int
	// Project names the project the app is a service of (for a
	// homeport.toml, the name of the folder that holds it); the dashboard
	// groups listeners by it. "" for none.
	Project string
}

// AddRunRoute adds the run route r to the running daemon and returns it as
// stored, with the daemon's port.
func AddRunRoute(ctx context.Context, r RunRoute) (router.Route, int, error) {
	c, st, err := Connect()
	if err != nil {
		return router.Route{}, 0, err
	}
	var rt router.Route
	req := router.AddRequest{Name: r.Name, Port: r.Port, Kind: router.KindRun, PID: r.PID, Project: r.Project}
	if err := c.do(ctx, http.MethodPost, "/api/v1/routes", req, &rt); err != nil {
		return router.Route{}, 0, c.askErr(err, st)
	}
	return rt, st.Port, nil
}

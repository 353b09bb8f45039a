// Package runnertest gives tests of runs a real route table, in memory,
// where the daemon's router would be.
package runnertest

import (
	"context"

	"homeport/internal/router"
)

// Routes is a route table as runner.Routes.
type Routes struct{ Table *router.Table }

// NewRoutes returns Routes over a new table.
func NewRoutes() Routes { return Routes{Table: router.NewTable()} }

// Add adds the run route name → port, owned by pid.
func (r Routes) Add(_ context.Context, name string, port, pid int) error {
	_, err := r.Table.Add(router.Route{Name: name, Port: port, Kind: router.KindRun, PID: pid})
	return err
}

// Remove removes the route name if pid owns it.
func (r Routes) Remove(_ context.Context, name string, pid int) error {
	r.Table.RemoveFunc(func(rt router.Route) bool { return rt.Name == name && rt.PID == pid })
	return nil
}

package project

import (
	"slices"
	"strings"
)

// ChangeKind says what a file change means for one service.
type ChangeKind string

// The kinds of change.
const (
	ChangeStart   ChangeKind = "start"   // a new service
	ChangeStop    ChangeKind = "stop"    // a service no longer in the file
	ChangeRestart ChangeKind = "restart" // its process must be started again
)

// Change is what happens to one service when the file changes under a
// running project.
type Change struct {
	Service string
	Kind    ChangeKind
	// OldPort and NewPort are the service's ports before and after (0 for
	// a side that does not have it).
	OldPort, NewPort uint16
	// Edited names what was edited of the service itself, of "port",
	// "run", "env" and "dir".
	Edited []string
	// Because lists the services whose port moved and whose port this
	// one's run or env refer to: it would point at the old port.
	Because []string
}

// Diff says which services a change of the file from old to new starts,
// stops and restarts: a service restarts when its port, run, env or dir
// changed, or when a service its run or env refer to moved to another port.
// No other service restarts; a change of ready, after or restart alone
// needs none. Changes come in new's start order, the stopped ones last.
func Diff(old, new *Plan) []Change {
	var out []Change
	moved := map[string]bool{}
	for _, n := range new.Services {
		if o := old.service(n.Name); o != nil && o.Port != n.Port {
			moved[n.Name] = true
		}
	}
	for _, n := range new.Services {
		o := old.service(n.Name)
		if o == nil {
			out = append(out, Change{Service: n.Name, Kind: ChangeStart, NewPort: n.Port})
			continue
		}
		c := Change{Service: n.Name, Kind: ChangeRestart, OldPort: o.Port, NewPort: n.Port}
		if o.Port != n.Port {
			c.Edited = append(c.Edited, "port")
		}
		if o.Spec.Run != n.Spec.Run {
			c.Edited = append(c.Edited, "run")
		}
		if !slices.Equal(o.Spec.Env, n.Spec.Env) {
			c.Edited = append(c.Edited, "env")
		}
		if o.Dir != n.Dir {
			c.Edited = append(c.Edited, "dir")
		}
		for _, r := range n.Refers {
			if moved[r] {
				c.Because = append(c.Because, r)
			}
		}
		// What the process gets, filled in, is the last word: a URL
		// changes with the router's port, say.
		if len(c.Edited) > 0 || len(c.Because) > 0 || o.Run != n.Run || !slices.Equal(o.Env, n.Env) {
			out = append(out, c)
		}
	}
	var gone []Change
	for _, o := range old.Services {
		if new.service(o.Name) == nil {
			gone = append(gone, Change{Service: o.Name, Kind: ChangeStop, OldPort: o.Port})
		}
	}
	slices.SortFunc(gone, func(a, b Change) int { return strings.Compare(a.Service, b.Service) })
	return append(out, gone...)
}

package dashboard

import (
	"sync"

	"homeport/internal/api"
	"homeport/internal/procs"
	"homeport/internal/router"
	"homeport/internal/sockets"
	"homeport/internal/watch"
)

// labeler gives the listeners the page shows their service and project
// (api.Socket.Service and .Project), by which the page groups them:
//   - the service of a TCP listener is the route to its port (a run route
//     before a persistent one when both go there: the run route is the app
//     homeport started);
//   - its project is that route's project, else the project its owner
//     works in: the nearest folder with a manifest at or above the owner's
//     working folder (procs.FindProject), as `homeport who` shows it.
//
// An owner's project is read once per process (pid and start time) and
// once per working folder: a poll of 10,000 listeners reads nothing for
// the processes it has seen before. A process that changes folder keeps
// the project it had when first seen.
type labeler struct {
	table *router.Table // nil: no routes

	mu       sync.Mutex
	owners   map[ownerKey]string // process → its project's name ("" none)
	projects map[dirKey]string   // working folder → its project's name
}

type ownerKey struct {
	pid   int
	start uint64 // procs.Process.StartTicks: a recycled pid is another process
}

type dirKey struct{ ns, dir string }

func newLabeler(table *router.Table) *labeler {
	return &labeler{table: table, owners: map[ownerKey]string{}, projects: map[dirKey]string{}}
}

// services returns, for each port with a route, the route that names its
// service.
func (l *labeler) services() map[uint16]router.Route {
	if l.table == nil {
		return nil
	}
	routes := l.table.List() // by name: the first of a kind wins
	out := make(map[uint16]router.Route, len(routes))
	for _, r := range routes {
		p := uint16(r.Port)
		if have, ok := out[p]; ok && (have.Kind == router.KindRun || r.Kind != router.KindRun) {
			continue
		}
		out[p] = r
	}
	return out
}

// rows returns the JSON forms of socks with their service and project.
func (l *labeler) rows(socks []sockets.Socket) []api.Socket {
	out := api.Sockets(socks)
	svc := l.services()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range socks {
		l.label(&socks[i], &out[i], svc)
	}
	return out
}

// row is rows for one socket.
func (l *labeler) row(s *sockets.Socket, svc map[uint16]router.Route) api.Socket {
	out := api.SocketOf(s)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.label(s, &out, svc)
	return out
}

// label sets j's service and project; l.mu held.
func (l *labeler) label(s *sockets.Socket, j *api.Socket, svc map[uint16]router.Route) {
	if r, ok := svc[s.Port()]; ok && s.Proto == sockets.TCP {
		j.Service, j.Project = r.Name, r.Project
	}
	if j.Project != "" {
		return
	}
	for i := range s.Owners {
		if p := l.ownerProject(&s.Owners[i]); p != "" {
			j.Project = p
			return
		}
	}
}

// ownerProject returns the name of the project p works in; l.mu held.
func (l *labeler) ownerProject(p *procs.Process) string {
	k := ownerKey{p.PID, p.StartTicks}
	if name, ok := l.owners[k]; ok {
		return name
	}
	name := ""
	if dir, err := procs.Cwd(p.PID); err == nil {
		dk := dirKey{procs.MountNS(p.PID), dir}
		var seen bool
		if name, seen = l.projects[dk]; !seen {
			if pr, ok := procs.FindProject(procs.Root(p.PID), dir); ok {
				name = pr.Name
			}
			if dk.ns != "" {
				// Without its namespace a folder's name may mean
				// another tree in another container.
				l.projects[dk] = name
			}
		}
	}
	if p.PID > 0 {
		l.owners[k] = name
	}
	return name
}

// events returns the JSON forms of evs, their sockets labelled.
func (l *labeler) events(evs []watch.Event) []api.Event {
	out := make([]api.Event, len(evs))
	svc := l.services()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range evs {
		out[i] = api.EventOf(&evs[i])
		l.label(&evs[i].Socket, &out[i].Socket, svc)
	}
	return out
}

// forget drops what is known of the processes that own none of socks (the
// watcher's latest snapshot), so that the caches hold the living only.
func (l *labeler) forget(socks []sockets.Socket) {
	live := make(map[ownerKey]bool, len(l.owners))
	for i := range socks {
		for _, p := range socks[i].Owners {
			live[ownerKey{p.PID, p.StartTicks}] = true
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.owners {
		if !live[k] {
			delete(l.owners, k)
		}
	}
	// Folders are few and cheap to find again: start over once they are
	// many more than the processes.
	if len(l.projects) > 2*len(l.owners)+64 {
		clear(l.projects)
	}
}

// relabel returns, for a stream that last labelled with the routes in
// before, the rows of socks whose service may have changed now that the
// routes are after: the TCP listeners on every port whose route came,
// went or changed.
func (l *labeler) relabel(socks []sockets.Socket, before, after map[uint16]router.Route) []api.Socket {
	ports := map[uint16]bool{}
	for p, r := range before {
		if a, ok := after[p]; !ok || a != r {
			ports[p] = true
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			ports[p] = true
		}
	}
	if len(ports) == 0 {
		return nil
	}
	var out []api.Socket
	for i := range socks {
		s := &socks[i]
		if s.Proto == sockets.TCP && ports[s.Port()] {
			out = append(out, l.row(s, after))
		}
	}
	return out
}

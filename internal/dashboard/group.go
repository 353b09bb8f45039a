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
//   - a listener on another port whose owner was started by a `homeport
//     run` (the owner of a run route, among its parents) belongs to that
//     run: its service, when the run routes one name only, and its project
//     (a dev server's second port, a debugger's);
//   - its project is that route's project, else the project its owner
//     works in: the nearest folder with a manifest at or above the owner's
//     working folder (procs.FindProject), as `homeport who` shows it;
//   - the daemon's own listeners are homeport's: no run's (the first
//     `homeport run` starts the daemon, which stays its child), no
//     project's (it works wherever it was started).
//
// What an owner is (its project, its parents) is read once per process
// (pid and start time), and a folder's project once per folder: a poll of
// 10,000 listeners reads nothing for the processes it has seen before. A
// process that changes folder keeps the project it had when first seen.
type labeler struct {
	table *router.Table // nil: no routes
	self  int           // the daemon's pid

	mu       sync.Mutex
	owners   map[ownerKey]*ownerInfo
	projects map[dirKey]string // working folder → its project's name
}

type ownerKey struct {
	pid   int
	start uint64 // procs.Process.StartTicks: a recycled pid is another process
}

type dirKey struct{ ns, dir string }

// ownerInfo is what the labeler knows of one owner.
type ownerInfo struct {
	project string // the project it works in; "" none
	parents []int  // its parents' pids, nearest first; read when first needed
	chained bool
}

func newLabeler(table *router.Table, self int) *labeler {
	return &labeler{table: table, self: self, owners: map[ownerKey]*ownerInfo{}, projects: map[dirKey]string{}}
}

// routeIndex is the routes as the labeler asks them.
type routeIndex struct {
	ports map[uint16]router.Route // the route that names the service on a port
	runs  map[int]run             // the runs (owners of run routes) by pid
}

// run is what the routes of one `homeport run` say of the processes it
// started: the service ("" when it routes several names) and the project
// ("" when none, or its routes name several).
type run struct {
	service, project string
}

// index reads the routes.
func (l *labeler) index() routeIndex {
	if l.table == nil {
		return routeIndex{}
	}
	routes := l.table.List() // by name: the first of a kind wins
	idx := routeIndex{ports: make(map[uint16]router.Route, len(routes)), runs: map[int]run{}}
	for _, r := range routes {
		p := uint16(r.Port)
		if have, ok := idx.ports[p]; !ok || have.Kind != router.KindRun && r.Kind == router.KindRun {
			idx.ports[p] = r
		}
		if r.Kind != router.KindRun {
			continue
		}
		if have, ok := idx.runs[r.PID]; ok {
			if have.project != r.Project {
				have.project = ""
			}
			have.service = ""
			idx.runs[r.PID] = have
		} else {
			idx.runs[r.PID] = run{service: r.Name, project: r.Project}
		}
	}
	return idx
}

// rows returns the JSON forms of socks with their service and project.
func (l *labeler) rows(socks []sockets.Socket) []api.Socket {
	out := api.Sockets(socks)
	idx := l.index()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range socks {
		out[i].Service, out[i].Project = l.label(&socks[i], idx)
	}
	return out
}

// events returns the JSON forms of evs, their sockets labelled.
func (l *labeler) events(evs []watch.Event) []api.Event {
	out := make([]api.Event, len(evs))
	idx := l.index()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range evs {
		out[i] = api.EventOf(&evs[i])
		out[i].Socket.Service, out[i].Socket.Project = l.label(&evs[i].Socket, idx)
	}
	return out
}

// relabel returns the rows of socks whose service or project under the
// routes before (those a stream last labelled with) differs from the one
// under the routes after: a route that came or went renames the listeners
// on its port and those its run started.
func (l *labeler) relabel(socks []sockets.Socket, before, after routeIndex) []api.Socket {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []api.Socket
	for i := range socks {
		s := &socks[i]
		bs, bp := l.label(s, before)
		as, ap := l.label(s, after)
		if bs != as || bp != ap {
			j := api.SocketOf(s)
			j.Service, j.Project = as, ap
			out = append(out, j)
		}
	}
	return out
}

// label returns the service and project of s; l.mu held.
func (l *labeler) label(s *sockets.Socket, idx routeIndex) (service, project string) {
	if r, ok := idx.ports[s.Port()]; ok && s.Proto == sockets.TCP {
		service, project = r.Name, r.Project
	}
	if len(idx.runs) > 0 && (service == "" || project == "") {
	owners:
		for i := range s.Owners {
			if s.Owners[i].PID == l.self {
				continue
			}
			for _, pid := range l.owner(&s.Owners[i], true).parents {
				if r, ok := idx.runs[pid]; ok {
					if service == "" {
						service = r.service
					}
					if project == "" {
						project = r.project
					}
					break owners
				}
			}
		}
	}
	if project != "" {
		return service, project
	}
	for i := range s.Owners {
		if s.Owners[i].PID == l.self {
			continue
		}
		if p := l.owner(&s.Owners[i], false).project; p != "" {
			return service, p
		}
	}
	return service, ""
}

// owner returns what is known of p, reading its parents too when asked;
// l.mu held.
func (l *labeler) owner(p *procs.Process, parents bool) *ownerInfo {
	k := ownerKey{p.PID, p.StartTicks}
	o, ok := l.owners[k]
	if !ok {
		o = &ownerInfo{project: l.projectOf(p.PID)}
		if p.PID > 0 {
			l.owners[k] = o
		}
	}
	if parents && !o.chained {
		o.chained = true
		if p.PPID > 1 {
			o.parents = []int{p.PPID}
			for _, a := range procs.Chain(p.PID) {
				if a.PID != p.PPID {
					o.parents = append(o.parents, a.PID)
				}
			}
		}
	}
	return o
}

// projectOf returns the name of the project process pid works in; l.mu
// held.
func (l *labeler) projectOf(pid int) string {
	dir, err := procs.Cwd(pid)
	if err != nil {
		return ""
	}
	k := dirKey{procs.MountNS(pid), dir}
	if name, ok := l.projects[k]; ok {
		return name
	}
	name := ""
	if pr, ok := procs.FindProject(procs.Root(pid), dir); ok {
		name = pr.Name
	}
	if k.ns != "" {
		// Without its namespace a folder's name may mean another tree in
		// another container.
		l.projects[k] = name
	}
	return name
}

// forget drops what is known of the processes that own none of socks (the
// watcher's latest snapshot), so that the caches hold the living only.
func (l *labeler) forget(socks []sockets.Socket) {
	live := make(map[ownerKey]bool, 128)
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

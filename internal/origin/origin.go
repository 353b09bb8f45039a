// Package origin tells where the owners of sockets come from: for each
// process homeport shows, the folder and project it runs in, the processes
// that started it, the systemd unit that runs it, and the container behind
// it (by its cgroup, or because it forwards a port a container publishes);
// and the ports containers publish without any listener on the host
// (Docker with --userland-proxy=false forwards them in the kernel).
//
// Everything is read lazily, per process asked about, and once: a listing
// asks only for the owners of the rows it prints.
package origin

import (
	"context"
	"net/netip"
	"os"
	"slices"

	"homeport/internal/containers"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// Options are what Attribute reads from; the zero value reads the system.
type Options struct {
	// Getenv reads DOCKER_HOST and XDG_RUNTIME_DIR; nil: os.Getenv.
	Getenv func(string) string
	// NoContainers skips asking container engines (and the note).
	NoContainers bool
}

// Attribution answers where owners come from, for one inventory.
type Attribution struct {
	// listed is closed once index and problems are set: the engines are
	// asked in the background, while the caller reads its inventory.
	listed   chan struct{}
	index    *containers.Index
	problems []*containers.Unavailable
	explicit bool
	// missing is set once an owner is seen that belongs to a container
	// no engine named: only then is an engine that did not answer worth
	// a note.
	missing bool

	owners   map[int]*Owner
	projects map[projectKey]*procs.Project
}

// Owner is where one process comes from. Fields the OS does not reveal stay
// empty; Chain is read only by Owner(pid, true).
type Owner struct {
	Cwd       string
	Project   *procs.Project
	Chain     []procs.Ancestor // parents, nearest first; nil until asked for
	Cgroup    *procs.Cgroup
	Container *containers.Container

	chained bool
}

type projectKey struct{ ns, dir string }

// Attribute prepares the attribution of owners: it starts asking the
// container engines for their containers (a few milliseconds when one runs;
// nothing when no socket exists) in the background, so that a caller who
// calls it before reading its inventory has the answer when it needs it,
// and reads nothing else until asked.
func Attribute(ctx context.Context, opts Options) *Attribution {
	a := FromContainers(nil)
	if opts.NoContainers {
		return a
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	eps, explicit, missing := containers.Endpoints(getenv)
	a.explicit = explicit
	if len(eps) == 0 {
		if len(missing) > 0 {
			// No engine socket at all: if a container turns up, the
			// note says where homeport looked first.
			a.problems = []*containers.Unavailable{{Kind: containers.NoSocket, Endpoint: missing[0]}}
		}
		return a
	}
	a.listed = make(chan struct{})
	go func() {
		defer close(a.listed)
		var cs []containers.Container
		cs, a.problems = containers.List(ctx, eps)
		a.index = containers.NewIndex(cs)
	}()
	return a
}

// wait waits for the engines' answer.
func (a *Attribution) wait() {
	if a.listed != nil {
		<-a.listed
	}
}

// Wait waits for the engines' answer, so that nothing runs on after a
// caller that may not have asked anything is done. A nil Attribution has
// nothing to wait for.
func (a *Attribution) Wait() {
	if a != nil {
		a.wait()
	}
}

// FromContainers is an Attribution over containers already listed (no
// engine is asked), for a caller that listed them itself.
func FromContainers(cs []containers.Container) *Attribution {
	return &Attribution{
		index:    containers.NewIndex(cs),
		owners:   map[int]*Owner{},
		projects: map[projectKey]*procs.Project{},
	}
}

// Containers is every container the engines listed.
func (a *Attribution) Containers() []containers.Container {
	a.wait()
	return a.index.All()
}

// Owner returns where process p comes from; chain also reads its parents.
func (a *Attribution) Owner(p *procs.Process, chain bool) *Owner {
	a.wait()
	o, ok := a.owners[p.PID]
	if !ok {
		o = &Owner{}
		a.owners[p.PID] = o
		if d, err := procs.Cwd(p.PID); err == nil {
			o.Cwd = d
			o.Project = a.project(p.PID, d)
		}
		if c, err := procs.CgroupOf(p.PID); err == nil {
			o.Cgroup = &c
			if c.ContainerID != "" {
				o.Container = a.index.ByID(c.ContainerID)
				a.missing = a.missing || o.Container == nil
			}
		}
		if o.Container == nil {
			if px, ok := containers.ParseProxy(p.Cmdline); ok {
				o.Container = a.index.ByPublished(px.Proto, netip.AddrPortFrom(px.HostIP, px.HostPort))
				if o.Container == nil {
					o.Container = a.index.ByPort(px.Proto, px.HostPort)
				}
				a.missing = a.missing || o.Container == nil
			}
		}
	}
	if chain && !o.chained {
		o.chained = true
		o.Chain = procs.Chain(p.PID)
	}
	return o
}

// project finds the project of a process's working directory, once per
// directory and mount namespace: forked workers and a dev server's many
// processes share one.
func (a *Attribution) project(pid int, dir string) *procs.Project {
	k := projectKey{procs.MountNS(pid), dir}
	if p, ok := a.projects[k]; ok {
		return p
	}
	var out *procs.Project
	if p, ok := procs.FindProject(procs.Root(pid), dir); ok {
		out = &p
	}
	if k.ns != "" {
		a.projects[k] = out
	}
	return out
}

// Container returns the container behind socket s: the one that publishes
// its address and port (the socket is a forwarder's: docker-proxy,
// rootlesskit, a VM's port forwarder), or the container one of its owners
// runs in. nil when none.
func (a *Attribution) Container(s *sockets.Socket) *containers.Container {
	a.wait()
	if a.index.Len() > 0 {
		if c := a.index.ByPublished(string(s.Proto), s.Local); c != nil {
			return c
		}
	}
	for i := range s.Owners {
		p := &s.Owners[i]
		if containers.IsForwarder(p.Name) {
			if c := a.index.ByPort(string(s.Proto), s.Port()); c != nil {
				return c
			}
			a.missing = true
		}
		if c := a.Owner(p, false).Container; c != nil {
			return c
		}
	}
	return nil
}

// Published is a port a container publishes that no socket on the host
// listens on: the kernel forwards it (iptables or nftables DNAT).
type Published struct {
	Socket    sockets.Socket // Proto, State Listen, Local: the published address; no owners
	Container *containers.Container
}

// Unlisted returns the published ports of running containers that no
// socket in socks listens on, as sockets, filtered like an inventory
// (proto, port). Sorted by port.
func (a *Attribution) Unlisted(socks []sockets.Socket, f sockets.Filter) []Published {
	a.wait()
	var out []Published
	all := a.index.All()
	for i := range all {
		c := &all[i]
		for _, p := range c.Ports {
			if p.Public == 0 || !p.IP.IsValid() {
				continue
			}
			proto := sockets.Proto(p.Proto)
			if proto != sockets.TCP && proto != sockets.UDP {
				continue
			}
			if (f.TCP || f.UDP) && !(f.TCP && proto == sockets.TCP || f.UDP && proto == sockets.UDP) {
				continue
			}
			if f.Port != 0 && f.Port != p.Public {
				continue
			}
			addr := netip.AddrPortFrom(p.IP, p.Public)
			if slices.ContainsFunc(socks, func(s sockets.Socket) bool {
				return s.Proto == proto && s.Port() == p.Public && s.State.Listening()
			}) {
				continue
			}
			state := sockets.Listen
			if proto == sockets.UDP {
				state = sockets.Close
			}
			out = append(out, Published{
				Socket:    sockets.Socket{Proto: proto, State: state, Local: addr, UID: -1, V6Only: p.IP.Is6()},
				Container: c,
			})
		}
	}
	slices.SortStableFunc(out, func(x, y Published) int { return int(x.Socket.Port()) - int(y.Socket.Port()) })
	return out
}

// Note says why container names are missing, when they are: an engine
// could not be asked, and either the user named it (DOCKER_HOST) or an
// owner seen so far belongs to a container that no engine named. nil
// otherwise. Ask it after the owners shown have been attributed.
func (a *Attribution) Note() *containers.Unavailable {
	a.wait()
	if len(a.problems) == 0 || !(a.explicit || a.missing) {
		return nil
	}
	return a.problems[0]
}

package project

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// Plan is what starting a project means: its services in start order, each
// with its port, URL, command and environment filled in.
type Plan struct {
	File     *File
	Services []Planned
}

// Planned is one service of a Plan.
type Planned struct {
	Name  string
	Order int // 1-based place in the start order
	Port  uint16
	// Fixed is true when the file gives the port; else it was picked free,
	// stable for the name.
	Fixed bool
	URL   string // http://NAME.localhost:62893
	// Run is the command with its references filled in, for the shell.
	Run string
	// Env is what the service gets on top of homeport's environment, as
	// KEY=VALUE: PORT and HOST=127.0.0.1, then the file's env (by name),
	// which may override them.
	Env []string
	// Ready is what `homeport wait` must see before the services after this
	// one start; ReadyText is ready as written, filled in ("" when it is the
	// default: the port answers).
	Ready     ports.Target
	ReadyText string
	After     []string
	Restart   Restart
	Dir       string // absolute
	// Refers lists the other services whose port this one's run or env
	// name (${NAME.port}): when one of their ports moves, this one must
	// restart. ${NAME.url} does not count: the router follows the service.
	Refers []string

	// Spec is the service as written.
	Spec *Service
}

// PlanOptions say how Plan picks ports and what it checks on the system.
type PlanOptions struct {
	// Take reads the socket inventory to find processes that hold a fixed
	// port already; nil skips that check.
	Take func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error)

	// Mine, when set, tells the project's own processes: a port they hold
	// is not taken (a runner re-planning a running project).
	Mine func(pid int) bool

	// Current are the ports that services without a fixed port were picked
	// before (a running project: Plan.Picked of the plan it runs). They keep
	// them, so that an edit of one service does not move the others, and a
	// port the service itself holds is not taken for busy.
	Current map[string]uint16

	// Ranges and Holds are passed to ports.Free for the services
	// without a fixed port; empty Ranges means its default ranges.
	Ranges []ports.Range
	Holds  *ports.Holds

	// RouterPort is the daemon's port in URLs; 0 means RouterPort.
	RouterPort uint16
}

// URL is a service's address through the daemon's router.
func URL(name string, routerPort uint16) string {
	if routerPort == 0 {
		routerPort = RouterPort
	}
	return "http://" + name + ".localhost:" + strconv.Itoa(int(routerPort))
}

// Plan picks each service's port, fills in references and orders the
// services. It checks what needs the system: that a fixed port is not held
// by another process (opts.Take), and that each dir is a folder; those
// mistakes come back as Problems. An error that is not Problems (no free
// port, an inventory that cannot be read) is about the machine, not the file.
func (f *File) Plan(ctx context.Context, opts PlanOptions) (*Plan, error) {
	probs, err := f.systemProblems(ctx, opts)
	if err != nil {
		return nil, err
	}
	if len(probs) > 0 {
		return nil, probs
	}
	assigned, err := f.ports(opts)
	if err != nil {
		return nil, err
	}
	value := func(self string) func(Ref) string {
		return func(r Ref) string {
			name := r.Service
			if name == "" {
				name = self
			}
			if r.Field == "url" {
				return URL(name, opts.RouterPort)
			}
			return strconv.Itoa(int(assigned[name]))
		}
	}
	plan := &Plan{File: f}
	for i, name := range f.order() {
		s, _ := f.Service(name)
		v := value(name)
		p := Planned{
			Name: name, Order: i + 1, Port: assigned[name], Fixed: s.Port != 0,
			URL: URL(name, opts.RouterPort), Run: s.run.expand(v),
			After: uniq(s.After), Restart: s.Restart, Dir: f.dir(s), Spec: s,
			Ready: ports.Target{Port: assigned[name], Proto: "tcp"},
		}
		env := []string{"PORT=" + strconv.Itoa(int(p.Port)), "HOST=127.0.0.1"}
		for j, e := range s.Env {
			env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, e.Name+"=") })
			env = append(env, e.Name+"="+s.env[j].expand(v))
		}
		p.Env = env
		if s.Ready != "" {
			p.ReadyText = s.ready.expand(v)
			t, err := parseReady(p.ReadyText)
			if err != nil {
				// Parse checked it with stand-in values; real ones
				// cannot make it worse, but say so if they do.
				return nil, fmt.Errorf("services.%s.ready: %w", name, err)
			}
			p.Ready = t
		}
		p.Refers = s.refers()
		plan.Services = append(plan.Services, p)
	}
	return plan, nil
}

// dir is the absolute folder service s runs in.
func (f *File) dir(s *Service) string {
	switch {
	case s.Dir == "":
		return f.Dir
	case filepath.IsAbs(s.Dir):
		return filepath.Clean(s.Dir)
	}
	return filepath.Join(f.Dir, filepath.FromSlash(s.Dir))
}

// systemProblems are the mistakes only the system shows: a fixed port that
// another process holds (when opts.Take is set), a dir that is no folder.
func (f *File) systemProblems(ctx context.Context, opts PlanOptions) (Problems, error) {
	var probs Problems
	if opts.Take != nil {
		p, err := f.heldPorts(ctx, opts)
		if err != nil {
			return nil, err
		}
		probs = append(probs, p...)
	}
	for _, s := range f.Services {
		if s.Dir == "" {
			continue
		}
		dir := f.dir(s)
		fi, err := os.Stat(dir)
		if err == nil && fi.IsDir() {
			continue
		}
		why := "not a folder"
		if errors.Is(err, fs.ErrNotExist) {
			why = "no such folder"
		} else if err != nil {
			why = err.Error()
		}
		path := []string{"services", s.Name, "dir"}
		probs = append(probs, f.src.problem(f.src.valOff(path), BadValue, path,
			fmt.Sprintf("dir %q: %s (%s)", s.Dir, why, dir),
			fmt.Sprintf("dir is relative to the folder of %s (%s); create the folder or fix dir", filepath.Base(f.Path), f.Dir)))
	}
	probs.sort()
	return probs, nil
}

// refers lists the other services whose ports run and env refer to.
func (s *Service) refers() []string {
	var out []string
	add := func(t template) {
		for _, r := range t.refs() {
			if r.Field == "port" && r.Service != "" && r.Service != s.Name && !slices.Contains(out, r.Service) {
				out = append(out, r.Service)
			}
		}
	}
	add(s.run)
	for _, t := range s.env {
		add(t)
	}
	slices.Sort(out)
	return out
}

// parseReady parses a ready target: what `homeport wait` takes, over TCP.
func parseReady(s string) (ports.Target, error) {
	t, err := ports.ParseTarget(s)
	if err != nil {
		return ports.Target{}, err
	}
	if t.Proto != "tcp" {
		return ports.Target{}, fmt.Errorf("%q: readiness is a TCP port or an http(s) URL, not UDP", s)
	}
	return t, nil
}

// ports gives every service its port: the fixed ones as written, then the
// others in name order, each the stable free port for its name (or the one
// it has now), never one that an earlier service of the file has.
func (f *File) ports(opts PlanOptions) (map[string]uint16, error) {
	got := map[string]uint16{}
	var used []uint16
	for _, s := range f.Services {
		if s.Port != 0 {
			got[s.Name] = s.Port
			used = append(used, s.Port)
		}
	}
	for _, s := range f.Services {
		if s.Port != 0 {
			continue
		}
		if p, ok := opts.Current[s.Name]; ok && p != 0 && !slices.Contains(used, p) {
			got[s.Name] = p
			used = append(used, p)
			continue
		}
		// Free walks from the name's hash, past the ports the file gives.
		// Held, the port is the project's own while it runs: another
		// project's service of the same name walks on.
		picked, err := ports.Free(ports.FreeOptions{Name: s.Name, Skip: used,
			Ranges: opts.Ranges, Holds: opts.Holds, HoldName: f.Dir + "/" + s.Name})
		if err != nil {
			return nil, fmt.Errorf("picking a port for %s: %w", s.Name, err)
		}
		got[s.Name] = picked[0]
		used = append(used, picked[0])
	}
	return got, nil
}

// heldPorts reports fixed ports that another process listens on now.
func (f *File) heldPorts(ctx context.Context, opts PlanOptions) (Problems, error) {
	var probs Problems
	for _, s := range f.Services {
		if s.Port == 0 {
			continue
		}
		snap, err := opts.Take(ctx, sockets.Filter{TCP: true, Port: s.Port})
		if err != nil {
			return nil, fmt.Errorf("checking who holds port %d: %w", s.Port, err)
		}
		var others []sockets.Socket
		for _, sock := range snap.Sockets {
			if !sock.State.Listening() {
				continue
			}
			if opts.Mine != nil && len(sock.Owners) > 0 && !slices.ContainsFunc(sock.Owners, func(p procs.Process) bool { return !opts.Mine(p.PID) }) {
				continue
			}
			others = append(others, sock)
		}
		if len(others) == 0 {
			continue
		}
		path := []string{"services", s.Name, "port"}
		probs = append(probs, f.src.problem(f.src.valOff(path), PortHeld, path,
			fmt.Sprintf("port %d is held by %s", s.Port, Holders(others)),
			fmt.Sprintf("stop it ('homeport who %d' says more, 'homeport kill %d' frees it), give %s another port, or remove its port so homeport picks a free one",
				s.Port, s.Port, s.Name)))
	}
	return probs, nil
}

// Holders names the processes behind sockets: "postgres (pid 811)",
// "node (pid 42, 43)", or says that they cannot be seen.
func Holders(socks []sockets.Socket) string {
	var names []string
	pids := map[string][]int{}
	for _, s := range socks {
		for _, p := range s.Owners {
			n := p.Name
			if n == "" {
				n = "?"
			}
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
			if !slices.Contains(pids[n], p.PID) {
				pids[n] = append(pids[n], p.PID)
			}
		}
	}
	if len(names) == 0 {
		return "a process homeport cannot see (another user's, or outside this PID namespace; try sudo)"
	}
	parts := make([]string, len(names))
	for i, n := range names {
		ps := pids[n]
		slices.Sort(ps)
		txt := make([]string, len(ps))
		for j, p := range ps {
			txt[j] = strconv.Itoa(p)
		}
		parts[i] = fmt.Sprintf("%s (pid %s)", n, strings.Join(txt, ", "))
	}
	return strings.Join(parts, " and ")
}

// order is the start order: a service after the ones it names in after,
// and among those free to start, by name. Parse has ruled out cycles.
func (f *File) order() []string {
	indeg := map[string]int{}
	waiters := map[string][]string{}
	for _, s := range f.Services {
		for _, a := range uniq(s.After) {
			indeg[s.Name]++
			waiters[a] = append(waiters[a], s.Name)
		}
	}
	var ready, out []string
	for _, s := range f.Services {
		if indeg[s.Name] == 0 {
			ready = append(ready, s.Name)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		n := ready[0]
		ready = ready[1:]
		out = append(out, n)
		for _, w := range waiters[n] {
			if indeg[w]--; indeg[w] == 0 {
				ready = append(ready, w)
			}
		}
	}
	return out
}

// UnknownServiceError is a service asked for by name that the file does not
// have.
type UnknownServiceError struct {
	Name     string
	Services []string // the file's
	Suggest  string   // the nearest name, or ""
}

func (e *UnknownServiceError) Error() string {
	return fmt.Sprintf("no service %q in the file", e.Name)
}

// Select returns the plan of the named services and of every service they
// wait for through after, in start order.
func (p *Plan) Select(names ...string) (*Plan, error) {
	want := map[string]bool{}
	var add func(n string)
	add = func(n string) {
		if want[n] {
			return
		}
		want[n] = true
		for _, a := range p.service(n).After {
			add(a)
		}
	}
	for _, n := range names {
		if p.service(n) == nil {
			e := &UnknownServiceError{Name: n, Services: p.File.names()}
			e.Suggest, _ = suggest(n, e.Services)
			return nil, e
		}
		add(n)
	}
	sub := &Plan{File: p.File}
	for _, s := range p.Services {
		if want[s.Name] {
			s.Order = len(sub.Services) + 1
			sub.Services = append(sub.Services, s)
		}
	}
	return sub, nil
}

// Service returns the planned service called name.
func (p *Plan) Service(name string) (*Planned, bool) {
	s := p.service(name)
	return s, s != nil
}

func (p *Plan) service(name string) *Planned {
	for i := range p.Services {
		if p.Services[i].Name == name {
			return &p.Services[i]
		}
	}
	return nil
}

// Referrers lists the services whose run or env refer to name's port, by
// name: when name moves to another port, they must restart too.
func (p *Plan) Referrers(name string) []string {
	var out []string
	for _, s := range p.Services {
		if slices.Contains(s.Refers, name) {
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return out
}

// Restarts lists the services to restart when name's port or run changes:
// name first, then those whose run or env refer to its port, in start
// order. No others: a service that is only after name keeps running. Diff
// answers the same question for a whole edit of the file.
func (p *Plan) Restarts(name string) []string {
	if p.service(name) == nil {
		return nil
	}
	out := []string{name}
	for _, s := range p.Services {
		if s.Name != name && slices.Contains(s.Refers, name) {
			out = append(out, s.Name)
		}
	}
	return out
}

// Picked returns the ports of the services whose port was picked (not
// fixed by the file), for PlanOptions.Current when the file changes under
// a running project.
func (p *Plan) Picked() map[string]uint16 {
	m := make(map[string]uint16, len(p.Services))
	for _, s := range p.Services {
		if !s.Fixed {
			m[s.Name] = s.Port
		}
	}
	return m
}

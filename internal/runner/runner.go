// Package runner runs one local app under a name: it picks the name's port,
// starts the command with PORT and HOST in its environment (and the flags a
// dev server that ignores PORT needs), routes NAME.localhost to the port the
// command's process tree really listens on, forwards signals to the whole
// process group, and removes the route when the command ends.
//
// `homeport run NAME -- COMMAND` is one Run; a project file's services are
// several. Results are typed (Events, a Result); the CLI renders them.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// Routes is where Run registers the command's route: the daemon's router
// (Daemon) in homeport run.
type Routes interface {
	// Add routes name to port for the run owned by pid (homeport run
	// itself): such a route goes when its owner does.
	Add(ctx context.Context, name string, port, pid int) error
	// Remove removes the route name if owner pid still holds it.
	Remove(ctx context.Context, name string, pid int) error
}

// Spec says what to run.
type Spec struct {
	Name    string   // the route name, as router.ParseName returns it
	Command []string // argv
	// Port is the port given in PORT; 0 picks the name's stable port (as
	// `homeport free --name NAME` does).
	Port     int
	NoInject bool     // never add dev servers' port flags
	Dir      string   // the command's folder; "" is the current one
	Env      []string // the environment before PORT and HOST; nil: os.Environ()
	// ExtraEnv comes after PORT and HOST, and wins over them (a project
	// file's env).
	ExtraEnv []string
	Stdin    io.Reader // nil: no input
	Stdout   io.Writer
	Stderr   io.Writer

	Routes Routes
	// Report, when not nil, is told what happens, in order.
	Report func(Event)
	// Signals are forwarded to the command's process group; nil: SIGINT,
	// SIGTERM and SIGHUP.
	Signals []os.Signal
	// OwnSignals says the caller handles signals: Run forwards none, and
	// the caller ends ctx (or closes Kill) instead.
	OwnSignals bool
	// Kill, when closed, sends SIGKILL to the command's process group.
	Kill <-chan struct{}
	// StopTimeout is how long the process group gets after SIGTERM before
	// SIGKILL: once ctx ends, and for what is left of the group after the
	// command ended; 0: 5s.
	StopTimeout time.Duration
}

// EventKind says what an Event tells.
type EventKind int

const (
	// Injected: the command is a dev server that ignores PORT; Injection
	// says what was added.
	Injected EventKind = iota + 1
	// Started: the command runs as PID, with PORT=Port.
	Started
	// Listening: the command's process tree listens on Port, and the route
	// goes there. Given is the port in PORT: when they differ the command
	// ignored it, and the route moved.
	Listening
	// Forwarded: Signal was forwarded to the command's process group.
	Forwarded
	// Leftover: the command ended but Count processes of its group had not;
	// they were sent SIGTERM (Signal), or SIGKILL when they outlasted it.
	Leftover
	// RouteError: the route could not be changed or removed (Err); the
	// command runs on.
	RouteError
	// NotListening: the command has run for QuietAfter without listening
	// on any port; the route waits on Port, the one given.
	NotListening
)

// QuietAfter is how long a command may run without listening before Run
// reports NotListening, once.
const QuietAfter = 30 * time.Second

// Event is one thing that happened during Run.
type Event struct {
	Kind      EventKind
	Port      int
	Given     int
	PID       int
	Signal    syscall.Signal
	Count     int
	Injection *Injection
	Err       error
}

// Result is how the command ended.
type Result struct {
	Port   int // the port given in PORT
	Routed int // the port the route last went to (0: the command never listened)
	// Code is the exit status: the command's own, or 128+Signal when a
	// signal killed it, as a shell reports it.
	Code   int
	Signal syscall.Signal
}

// StartError is returned when the command could not be started; NotFound
// tells a missing command (exit 127 in a shell) from one that cannot run
// (126).
type StartError struct {
	Command  string
	NotFound bool
	Err      error
}

func (e *StartError) Error() string { return fmt.Sprintf("cannot run %s: %v", e.Command, e.Err) }
func (e *StartError) Unwrap() error { return e.Err }

// Poll intervals of the listener search: quick until the command listens,
// then slow, to follow a server that restarts on another port.
const (
	pollStarting = 100 * time.Millisecond
	pollRunning  = time.Second
)

// PickPort returns name's stable port: the one `homeport free --name NAME`
// prints, held for a moment from other homeport free calls.
func PickPort(name string) (int, error) {
	o := ports.FreeOptions{Name: name}
	if h, err := ports.NewHolds(ports.DefaultTTL, ports.CurrentHolder(os.Getpid())); err == nil {
		o.Holds = h
	}
	got, err := ports.Free(o)
	if err != nil {
		return 0, err
	}
	return int(got[0]), nil
}

// Run runs spec's command to its end and returns how it ended. The route is
// added before the command starts (a name another run holds is an error,
// and nothing is started) and removed when it ends. ctx's end stops the
// command as SIGTERM would.
func Run(ctx context.Context, spec Spec) (*Result, error) {
	if len(spec.Command) == 0 {
		return nil, errors.New("no command to run")
	}
	report := spec.Report
	if report == nil {
		report = func(Event) {}
	}
	port := spec.Port
	if port == 0 {
		p, err := PickPort(spec.Name)
		if err != nil {
			return nil, fmt.Errorf("picking a port for %s: %w", spec.Name, err)
		}
		port = p
	}
	argv := spec.Command
	if !spec.NoInject {
		var inj *Injection
		argv, inj = Inject(argv, port, scriptReader(spec.Dir))
		if inj != nil {
			report(Event{Kind: Injected, Port: port, Injection: inj})
		}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, &StartError{Command: argv[0], NotFound: errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist), Err: err}
	}

	self := os.Getpid()
	if err := spec.Routes.Add(ctx, spec.Name, port, self); err != nil {
		return nil, err
	}
	routed := port
	defer func() {
		// The run is over whatever happens: its own context may be done.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := spec.Routes.Remove(rctx, spec.Name, self); err != nil {
			report(Event{Kind: RouteError, Port: routed, Err: err})
		}
	}()

	env := spec.Env
	if env == nil {
		env = os.Environ()
	}
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return hasKey(kv, "PORT") || hasKey(kv, "HOST")
	})
	env = append(env, "PORT="+strconv.Itoa(port), "HOST=127.0.0.1")
	// exec keeps the last value of a key given twice.
	env = append(env, spec.ExtraEnv...)

	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir, cmd.Env = spec.Dir, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, spec.Stdout, spec.Stderr
	// Output that is not a file goes through pipes, which a process the
	// command left behind (a server it forked) may hold open: the
	// command's end must not wait for that process's, which stopLeft
	// brings about.
	cmd.WaitDelay = time.Second
	g := newGroup(cmd)

	sigs := spec.Signals
	if sigs == nil {
		sigs = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}
	}
	sigc := make(chan os.Signal, 4)
	if !spec.OwnSignals {
		signal.Notify(sigc, sigs...)
		defer signal.Stop(sigc)
	}
	stopTimeout := spec.StopTimeout
	if stopTimeout <= 0 {
		stopTimeout = 5 * time.Second
	}
	var escalate <-chan time.Time

	if err := cmd.Start(); err != nil {
		return nil, &StartError{Command: argv[0], Err: err}
	}
	g.started()
	report(Event{Kind: Started, PID: cmd.Process.Pid, Port: port})
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	res := &Result{Port: port}
	routedOnce := false
	quiet := time.Now().Add(QuietAfter)
	lastErr := ""
	poll := time.NewTimer(pollStarting)
	defer poll.Stop()
	ctxDone := ctx.Done()
	forwarded := 0
	var werr error
wait:
	for {
		select {
		case werr = <-exited:
			break wait
		case s := <-sigc:
			sig, _ := s.(syscall.Signal)
			forwarded++
			// A third signal means "now": the group gets SIGKILL.
			if forwarded >= 3 {
				sig = syscall.SIGKILL
			}
			g.signal(sig)
			report(Event{Kind: Forwarded, Signal: sig, PID: cmd.Process.Pid})
		case <-ctxDone:
			ctxDone = nil
			sig := stopSignal(cmd.Process.Pid)
			g.signal(sig)
			report(Event{Kind: Forwarded, Signal: sig, PID: cmd.Process.Pid})
			t := time.NewTimer(stopTimeout)
			defer t.Stop()
			escalate = t.C
		case <-escalate:
			escalate = nil
			g.signal(syscall.SIGKILL)
			report(Event{Kind: Forwarded, Signal: syscall.SIGKILL, PID: cmd.Process.Pid})
		case <-spec.Kill:
			spec.Kill = nil
			g.signal(syscall.SIGKILL)
			report(Event{Kind: Forwarded, Signal: syscall.SIGKILL, PID: cmd.Process.Pid})
		case <-poll.C:
			p := listenPort(ctx, cmd.Process.Pid, port, routed)
			switch {
			case p == 0:
			case p != routed:
				if err := reroute(ctx, spec.Routes, spec.Name, routed, p, self); err != nil {
					// Tried again at every look; told once per error.
					if err.Error() != lastErr {
						lastErr = err.Error()
						report(Event{Kind: RouteError, Port: p, Err: err})
					}
					break
				}
				lastErr = ""
				routed, routedOnce = p, true
				res.Routed = p
				report(Event{Kind: Listening, Port: p, Given: port, PID: cmd.Process.Pid})
			case !routedOnce:
				routedOnce = true
				res.Routed = p
				report(Event{Kind: Listening, Port: p, Given: port, PID: cmd.Process.Pid})
			}
			if routedOnce {
				poll.Reset(pollRunning)
				break
			}
			if !quiet.IsZero() && time.Now().After(quiet) {
				quiet = time.Time{}
				report(Event{Kind: NotListening, Port: port, PID: cmd.Process.Pid})
			}
			if quiet.IsZero() {
				// A command that takes its time (or never listens) is
				// looked at as one that runs.
				poll.Reset(pollRunning)
			} else {
				poll.Reset(pollStarting)
			}
		}
	}
	g.finished()
	if n, sig := g.stopLeft(stopTimeout); n > 0 {
		report(Event{Kind: Leftover, Count: n, Signal: sig})
	}
	res.Code, res.Signal = exitStatus(werr)
	if res.Code < 0 {
		return res, fmt.Errorf("waiting for %s: %w", argv[0], werr)
	}
	return res, nil
}

// stopSignal is the signal that stops the command's process tree cleanly:
// the first of a server's own stop ladder where the tree runs one that
// homeport knows (PostgreSQL's SIGINT, a fast shutdown, where SIGTERM would
// wait for every client to disconnect; uWSGI's SIGINT, where SIGTERM
// reloads it), else SIGTERM.
func stopSignal(pid int) syscall.Signal {
	for _, p := range tree(pid) {
		proc, err := procs.Get(p)
		if err != nil {
			continue
		}
		if s := procs.KnownServer(proc); s != nil && len(s.Ladder) > 0 {
			return s.Ladder[0].Signal
		}
	}
	return syscall.SIGTERM
}

func reroute(ctx context.Context, r Routes, name string, from, to, pid int) error {
	if err := r.Remove(ctx, name, pid); err != nil {
		return err
	}
	if err := r.Add(ctx, name, to, pid); err != nil {
		// Put the old route back rather than leave the name without one.
		_ = r.Add(ctx, name, from, pid)
		return err
	}
	return nil
}

// listenPort returns the TCP port the process tree of pid listens on that
// 127.0.0.1 or ::1 reach: given when it is one of them, else current (the
// port the route goes to), else the lowest; 0 when there is none (yet).
func listenPort(ctx context.Context, pid, given, current int) int {
	pids := tree(pid)
	socks, err := sockets.List(ctx, sockets.Filter{TCP: true, PIDs: pids})
	if err != nil {
		return 0
	}
	lo4, lo6 := netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()
	var found []int
	for i := range socks {
		s := &socks[i]
		if s.Proto != sockets.TCP || !s.State.Listening() || !(s.Takes(lo4) || s.Takes(lo6)) {
			continue
		}
		found = append(found, int(s.Port()))
	}
	switch {
	case len(found) == 0:
		return 0
	case slices.Contains(found, given):
		return given
	case slices.Contains(found, current):
		return current
	}
	return slices.Min(found)
}

// exitStatus returns a shell's exit status for cmd.Wait's error: the code,
// or 128+signal; -1 when Wait failed otherwise.
func exitStatus(err error) (int, syscall.Signal) {
	if err == nil {
		return 0, 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return -1, 0
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), ws.Signal()
	}
	return ee.ExitCode(), 0
}

func hasKey(kv, key string) bool {
	return len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key
}

// scriptReader reads the scripts of dir's package.json once, when asked.
func scriptReader(dir string) func(string) (string, bool) {
	var scripts map[string]string
	read := false
	return func(name string) (string, bool) {
		if !read {
			read = true
			if f, err := os.Open(filepath.Join(dir, "package.json")); err == nil {
				scripts, _ = PackageScripts(f)
				f.Close()
			}
		}
		s, ok := scripts[name]
		return s, ok
	}
}

// Package supervisor runs a project's services side by side, as the
// project file plans them: each service as `homeport run NAME` runs one
// app (its port in PORT, its route NAME.localhost), started once the
// services it is after are ready, stopped all together when one of them
// exits (unless it restarts on failure) or when the run is interrupted,
// and moved when the file changes under it. Results are typed Events; the
// CLI renders them.
package supervisor

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"syscall"
	"time"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/project"
	"homeport/internal/runner"
)

// Options say what to run and how.
type Options struct {
	// Plan is what to run: every service of it, in its start order.
	Plan *project.Plan
	// Names is the selection the plan was made of (nil: every service),
	// applied again to an edited file.
	Names []string

	// Watch is the project file to follow; "" does not follow it.
	Watch string
	// Reload reads and plans the file again after an edit. running is the
	// plan that runs (its picked ports are to be kept); mine tells the
	// project's own processes (their ports are not taken). An error that
	// is project.Problems is a broken edit: the services run on as they
	// were.
	Reload func(ctx context.Context, running *project.Plan, mine func(pid int) bool) (*project.Plan, error)

	// Routes is where the services' routes go (the daemon's router, with
	// the project's name).
	Routes runner.Routes

	// Output gives each service's stdout and stderr.
	Output func(service string) (stdout, stderr io.Writer)
	// Report, when not nil, is told what happens, in order, from one
	// goroutine.
	Report func(Event)

	// StopTimeout is how long a stopped service's processes get after
	// SIGTERM before SIGKILL; 0: 10s.
	StopTimeout time.Duration
	// Kill, when closed, sends SIGKILL to every service's processes at
	// once (a second Ctrl-C).
	Kill <-chan struct{}

	NoInject bool
	Env      []string // the environment services start from; nil: os.Environ()
}

// EventKind says what an Event tells.
type EventKind int

const (
	// Started: Service runs as PID on Port, Command as written.
	Started EventKind = iota + 1
	// Injected: the service is a dev server that ignores PORT (Injection).
	Injected
	// ListensElsewhere: the service ignored PORT (Given) and listens on
	// Port; its route goes there.
	ListensElsewhere
	// Ready: the service answers (its ready target, or its port) After its
	// start; URL is its route. Services after it may start.
	Ready
	// NotReady: the service is not ready after After; Detail is what its
	// ready target saw last. Said once per start.
	NotReady
	// Exited: the service ended by itself with Code (Signal when a signal
	// ended it), or could not start (Err).
	Exited
	// Done: a service marked restart = "on-failure" exited with status 0;
	// it is not restarted, and counts as ready for the services after it.
	Done
	// Restarting: the service exited with Code and starts again after
	// Delay (its Attempt-th restart in a row).
	Restarting
	// Stopping: everything stops, because Service exited (with Code), or,
	// when Service is "", because the run was interrupted.
	Stopping
	// Stopped: homeport stopped Service; it ended with Code/Signal.
	Stopped
	// Forwarded: Signal was sent to Service's processes.
	Forwarded
	// Leftover: Service ended but Count of its processes had not; they got
	// Signal.
	Leftover
	// RouteError: Service's route could not be changed (Err).
	RouteError
	// EditRejected: the file was edited and is wrong (Err, often
	// project.Problems); nothing was changed.
	EditRejected
	// EditApplied: the file was edited; Changes are what it means.
	EditApplied
	// Moved: after an edit Service listens on Port, no longer on OldPort;
	// OldFree says OldPort is free, else Holders hold it.
	Moved
	// PortsFree: every port of the project (Ports) is free after the stop.
	PortsFree
	// PortHeld: Port is still held after the stop, by Holders.
	PortHeld
)

// Event is one thing that happened.
type Event struct {
	Kind      EventKind
	Service   string
	PID       int
	Port      int
	OldPort   int
	Given     int
	URL       string
	Command   string
	Code      int
	Signal    syscall.Signal
	Count     int
	Attempt   int
	After     time.Duration
	Delay     time.Duration
	Detail    string
	Holders   string
	OldFree   bool
	Ports     []int
	Changes   []project.Change
	Injection *runner.Injection
	Err       error
}

// Result is how the run ended.
type Result struct {
	// Code is the exit status for homeport: the status of the service
	// whose exit stopped the others (126/127 when it could not start), 0
	// when the run was interrupted and every service stopped.
	Code int
	// Cause is the service whose exit stopped the others; "" when the run
	// was interrupted.
	Cause string
	// Held are the ports still held after the stop.
	Held []int
}

// Timings of a run, as variables so that tests of slow machines need not
// wait on them and tests of behaviour can shorten them.
var (
	// NotReadyAfter is when a service that is not ready yet is reported.
	NotReadyAfter = 30 * time.Second
	// Backoff is the first restart's delay; each one in a row doubles it,
	// up to MaxBackoff. A service that ran StableAfter starts over.
	Backoff     = time.Second
	MaxBackoff  = 30 * time.Second
	StableAfter = 30 * time.Second
	// debounce gathers an editor's writes of one save.
	debounce = 150 * time.Millisecond
	// freeWithin is how long a stopped service's port may take to be
	// given back by the kernel.
	freeWithin = 3 * time.Second
)

// Run runs the plan's services until one of them exits (one not restarted
// on failure) or ctx ends, then stops them all and checks their ports are
// free.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Plan == nil || len(opts.Plan.Services) == 0 {
		return nil, errors.New("no service to run")
	}
	if opts.Report == nil {
		opts.Report = func(Event) {}
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 10 * time.Second
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	s := &supervisor{
		opts:     opts,
		plan:     opts.Plan,
		msgs:     make(chan msg, 16),
		quit:     make(chan struct{}),
		inst:     map[string]*instance{},
		pending:  map[string]bool{},
		attempts: map[string]int{},
		ports:    map[int]bool{},
		moved:    map[string]int{},
	}
	defer close(s.quit)
	var changed <-chan struct{}
	if opts.Watch != "" && opts.Reload != nil {
		w, err := watchFile(opts.Watch, s.quit)
		if err != nil {
			return nil, err
		}
		defer w.close()
		changed = w.changed
		s.content = w.content()
	}
	for _, svc := range s.plan.Services {
		s.pending[svc.Name] = true
	}
	s.startReady(ctx)

	var settle <-chan time.Time
	var settleTimer *time.Timer
	for {
		select {
		case <-ctx.Done():
			return s.shutdown(ctx, "", 0), nil
		case m := <-s.msgs:
			if res := s.handle(ctx, m); res != nil {
				return res, nil
			}
		case <-changed:
			if settleTimer == nil {
				settleTimer = time.NewTimer(debounce)
			} else {
				settleTimer.Reset(debounce)
			}
			settle = settleTimer.C
		case <-settle:
			settle = nil
			s.reload(ctx)
		}
	}
}

type supervisor struct {
	opts    Options
	plan    *project.Plan
	msgs    chan msg
	quit    chan struct{}
	content []byte // the file as last read

	inst     map[string]*instance
	pending  map[string]bool // to start once what they are after is ready
	attempts map[string]int  // restarts in a row
	gen      int
	ports    map[int]bool   // every port a service was given or listened on
	moved    map[string]int // a service an edit moves: the port it leaves
	stopping bool
}

// instance is one start of a service.
type instance struct {
	svc     project.Planned
	gen     int
	cancel  context.CancelFunc
	pid     int
	port    int // where it listens (0: not yet)
	ready   bool
	done    bool // exited 0 with restart = "on-failure"
	start   time.Time
	waiter  *ports.Waiter
	noticed *time.Timer

	// What homeport wants when it ends: to be gone (removed from the
	// file or the run stopping), or started again with svc of the new plan.
	leaving  bool
	replace  *project.Planned
	movedOff int // the port an edit moved it from
}

type msgKind int

const (
	mRunner msgKind = iota + 1 // a runner.Event
	mReady
	mNotReady
	mExited
	mRetry
	mMoved
)

type msg struct {
	kind    msgKind
	service string
	gen     int
	ev      runner.Event
	res     *runner.Result
	err     error
	port    int
	free    bool
	holders string
}

func (s *supervisor) send(m msg) {
	select {
	case s.msgs <- m:
	case <-s.quit:
	}
}

func (s *supervisor) report(e Event) { s.opts.Report(e) }

// startReady starts the pending services whose after are all ready, in
// start order.
func (s *supervisor) startReady(ctx context.Context) {
	if s.stopping {
		return
	}
	for _, svc := range s.plan.Services {
		if !s.pending[svc.Name] || s.inst[svc.Name] != nil {
			continue
		}
		if !s.afterReady(svc) {
			continue
		}
		delete(s.pending, svc.Name)
		s.start(ctx, svc)
	}
}

func (s *supervisor) afterReady(svc project.Planned) bool {
	for _, a := range svc.After {
		in := s.inst[a]
		if in == nil || !(in.ready || in.done) || in.replace != nil {
			return false
		}
	}
	return true
}

func (s *supervisor) start(ctx context.Context, svc project.Planned) {
	s.gen++
	// A service is stopped on its own, in order, not with ctx.
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	in := &instance{svc: svc, gen: s.gen, cancel: cancel, start: time.Now(), movedOff: s.moved[svc.Name]}
	delete(s.moved, svc.Name)
	s.inst[svc.Name] = in
	s.ports[int(svc.Port)] = true
	stdout, stderr := io.Discard, io.Discard
	if s.opts.Output != nil {
		stdout, stderr = s.opts.Output(svc.Name)
	}
	gen, name := in.gen, svc.Name
	spec := runner.Spec{
		Name:        svc.Name,
		Command:     Command(svc.Run),
		Port:        int(svc.Port),
		NoInject:    s.opts.NoInject,
		Dir:         svc.Dir,
		Env:         s.opts.Env,
		ExtraEnv:    svc.Env,
		Stdout:      stdout,
		Stderr:      stderr,
		Routes:      s.opts.Routes,
		OwnSignals:  true,
		Kill:        s.opts.Kill,
		StopTimeout: s.opts.StopTimeout,
		Report: func(e runner.Event) {
			s.send(msg{kind: mRunner, service: name, gen: gen, ev: e})
		},
	}
	go func() {
		res, err := runner.Run(ictx, spec)
		s.send(msg{kind: mExited, service: name, gen: gen, res: res, err: err})
	}()
	in.noticed = time.AfterFunc(NotReadyAfter, func() {
		s.send(msg{kind: mNotReady, service: name, gen: gen})
	})
}

// handle acts on one message; a Result means the run is over.
func (s *supervisor) handle(ctx context.Context, m msg) *Result {
	in := s.inst[m.service]
	if m.kind == mRetry {
		if svc, ok := s.plan.Service(m.service); ok && in == nil && !s.stopping {
			s.start(ctx, *svc)
		}
		return nil
	}
	if in == nil || in.gen != m.gen {
		return nil // from a start that has ended
	}
	switch m.kind {
	case mRunner:
		s.runnerEvent(ctx, in, m.ev)
	case mReady:
		s.ready(ctx, in)
	case mNotReady:
		if !in.ready && !in.done {
			detail := ""
			if in.waiter != nil {
				detail = in.waiter.Results()[0].Seen.String()
			}
			s.report(Event{Kind: NotReady, Service: in.svc.Name, After: time.Since(in.start), Detail: detail, Port: int(in.svc.Port)})
		}
	case mMoved:
		s.report(Event{Kind: Moved, Service: in.svc.Name, Port: m.port, OldPort: in.movedOff, OldFree: m.free, Holders: m.holders})
	case mExited:
		return s.exited(ctx, in, m.res, m.err)
	}
	return nil
}

func (s *supervisor) runnerEvent(ctx context.Context, in *instance, e runner.Event) {
	name := in.svc.Name
	switch e.Kind {
	case runner.Injected:
		s.report(Event{Kind: Injected, Service: name, Port: e.Port, Injection: e.Injection})
	case runner.Started:
		in.pid = e.PID
		s.report(Event{Kind: Started, Service: name, PID: e.PID, Port: e.Port, Command: in.svc.Run})
		if in.svc.ReadyText != "" {
			s.waitReady(ctx, in)
		}
	case runner.Listening:
		in.port = e.Port
		s.ports[e.Port] = true
		if e.Port != e.Given {
			s.report(Event{Kind: ListensElsewhere, Service: name, Port: e.Port, Given: e.Given})
		}
		if in.svc.ReadyText == "" && !in.ready {
			s.ready(ctx, in)
		}
	case runner.Forwarded:
		s.report(Event{Kind: Forwarded, Service: name, Signal: e.Signal, PID: e.PID})
	case runner.Leftover:
		s.report(Event{Kind: Leftover, Service: name, Count: e.Count, Signal: e.Signal})
	case runner.RouteError:
		s.report(Event{Kind: RouteError, Service: name, Port: e.Port, Err: e.Err})
	}
}

// waitReady waits for the service's ready target in the background.
func (s *supervisor) waitReady(ctx context.Context, in *instance) {
	w := ports.NewWaiter([]ports.Target{in.svc.Ready}, ports.WaitOptions{Interval: 50 * time.Millisecond})
	in.waiter = w
	wctx, cancel := context.WithCancel(ctx)
	prev := in.cancel
	in.cancel = func() { cancel(); prev() }
	name, gen := in.svc.Name, in.gen
	go func() {
		if w.Run(wctx) == nil {
			s.send(msg{kind: mReady, service: name, gen: gen})
		}
	}()
}

func (s *supervisor) ready(ctx context.Context, in *instance) {
	if in.ready || in.leaving || in.replace != nil {
		return
	}
	in.ready = true
	in.noticed.Stop()
	port := in.port
	if port == 0 {
		port = int(in.svc.Port)
	}
	s.report(Event{Kind: Ready, Service: in.svc.Name, Port: port, URL: in.svc.URL, After: time.Since(in.start), PID: in.pid})
	if in.movedOff != 0 && in.movedOff != port {
		old, name, gen := in.movedOff, in.svc.Name, in.gen
		go func() {
			free, holders := waitFree(ctx, old, freeWithin)
			s.send(msg{kind: mMoved, service: name, gen: gen, port: port, free: free, holders: holders})
		}()
	}
	s.startReady(ctx)
}

func (s *supervisor) exited(ctx context.Context, in *instance, res *runner.Result, err error) *Result {
	name := in.svc.Name
	in.noticed.Stop()
	in.cancel()
	delete(s.inst, name)
	code, sig := exitOf(res, err)
	switch {
	case in.replace != nil:
		// It starts again once what it is after is ready (again).
		s.report(Event{Kind: Stopped, Service: name, Code: code, Signal: sig})
		if off := movedFrom(in); off != 0 {
			s.moved[name] = off
		}
		s.pending[name] = true
		s.startReady(ctx)
		return nil
	case in.leaving:
		s.report(Event{Kind: Stopped, Service: name, Code: code, Signal: sig})
		return nil
	}
	if err != nil {
		s.report(Event{Kind: Exited, Service: name, Code: code, Err: err})
		return s.shutdown(ctx, name, code)
	}
	if in.svc.Restart == project.RestartOnFailure {
		if code == 0 {
			// A task that finished: the services after it may go on.
			done := &instance{svc: in.svc, gen: in.gen, done: true, cancel: func() {}, noticed: in.noticed}
			s.inst[name] = done
			s.report(Event{Kind: Done, Service: name})
			s.startReady(ctx)
			return nil
		}
		if time.Since(in.start) >= StableAfter {
			s.attempts[name] = 0
		}
		s.attempts[name]++
		n := s.attempts[name]
		delay := min(Backoff<<(n-1), MaxBackoff)
		if n > 16 {
			delay = MaxBackoff
		}
		s.report(Event{Kind: Restarting, Service: name, Code: code, Signal: sig, Delay: delay, Attempt: n})
		time.AfterFunc(delay, func() { s.send(msg{kind: mRetry, service: name}) })
		return nil
	}
	s.report(Event{Kind: Exited, Service: name, Code: code, Signal: sig})
	return s.shutdown(ctx, name, code)
}

// movedFrom is the port an edit moves the instance from: its port, when
// the new start gets another one.
func movedFrom(in *instance) int {
	old := in.port
	if old == 0 {
		old = int(in.svc.Port)
	}
	if in.replace != nil && old == int(in.replace.Port) {
		return 0
	}
	return old
}

func exitOf(res *runner.Result, err error) (int, syscall.Signal) {
	var se *runner.StartError
	switch {
	case errors.As(err, &se) && se.NotFound:
		return 127, 0
	case errors.As(err, &se):
		return 126, 0
	case err != nil || res == nil:
		return 1, 0
	}
	return res.Code, res.Signal
}

// shutdown stops every service, the ones started last first, and checks
// that the project's ports are free. cause is the service whose exit
// (with code) ends the run; "" is an interrupted run.
func (s *supervisor) shutdown(ctx context.Context, cause string, code int) *Result {
	s.stopping = true
	s.report(Event{Kind: Stopping, Service: cause, Code: code})
	order := slices.Clone(s.plan.Services)
	slices.Reverse(order)
	for _, svc := range order {
		in := s.inst[svc.Name]
		if in == nil {
			continue
		}
		if in.done {
			delete(s.inst, svc.Name)
			continue
		}
		in.leaving, in.replace = true, nil
		in.cancel()
		s.waitExit(svc.Name)
	}
	// Starts that had not been told about yet (a restart's timer).
	for name, in := range s.inst {
		in.leaving = true
		in.cancel()
		s.waitExit(name)
	}
	res := &Result{Code: code, Cause: cause}
	var all []int
	for p := range s.ports {
		all = append(all, p)
	}
	slices.Sort(all)
	vctx := context.WithoutCancel(ctx)
	for _, p := range all {
		if free, holders := waitFree(vctx, p, freeWithin); !free {
			res.Held = append(res.Held, p)
			s.report(Event{Kind: PortHeld, Port: p, Holders: holders})
		}
	}
	if len(res.Held) == 0 {
		s.report(Event{Kind: PortsFree, Ports: all})
	} else if res.Code == 0 {
		res.Code = 1
	}
	return res
}

// waitExit handles messages until the start of name has exited.
func (s *supervisor) waitExit(name string) {
	for s.inst[name] != nil {
		m := <-s.msgs
		in := s.inst[m.service]
		if in == nil || in.gen != m.gen {
			continue
		}
		switch m.kind {
		case mExited:
			code, sig := exitOf(m.res, m.err)
			in.noticed.Stop()
			delete(s.inst, m.service)
			s.report(Event{Kind: Stopped, Service: m.service, Code: code, Signal: sig})
		case mRunner:
			s.runnerEvent(context.Background(), in, m.ev)
		}
	}
}

// mine tells the project's own processes: a service's and its children.
func (s *supervisor) mine(pid int) bool {
	roots := map[int]bool{os.Getpid(): true}
	for _, in := range s.inst {
		if in.pid > 0 {
			roots[in.pid] = true
		}
	}
	if roots[pid] {
		return true
	}
	for _, a := range procs.Chain(pid) {
		if roots[a.PID] {
			return true
		}
	}
	return false
}

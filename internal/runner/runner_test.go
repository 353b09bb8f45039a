package runner

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"homeport/internal/procs"
	"homeport/internal/router"
	"homeport/internal/runner/runnertest"
)

// events collects what Run reports.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }

func (e *events) find(k EventKind) (Event, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.all {
		if ev.Kind == k {
			return ev, true
		}
	}
	return Event{}, false
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const pyServer = `
import os, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
open(sys.argv[2], "w").write(str(os.getpid()))
time.sleep(600)
`

// A command whose child listens on another port than PORT is routed
// there; the run's end (its context) stops the whole tree and removes the
// route.
func TestRunFindsTheTreesPort(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the process tree is read on Linux")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreTopFunction("os/signal.signal_recv"), goleak.IgnoreAnyFunction("os/signal.loop"))
	dir := t.TempDir()
	script := filepath.Join(dir, "server.py")
	if err := os.WriteFile(script, []byte(pyServer), 0o644); err != nil {
		t.Fatal(err)
	}
	given, elsewhere := freePort(t), freePort(t)
	pidFile := filepath.Join(dir, "pid")
	table := router.NewTable()
	var ev events
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type out struct {
		res *Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		// sh stays in between: the listener is a grandchild.
		res, err := Run(ctx, Spec{
			Name:    "api",
			Command: []string{"sh", "-c", "python3 " + script + " " + strconv.Itoa(elsewhere) + " " + pidFile + "; echo after"},
			Port:    given,
			Routes:  runnertest.Routes{Table: table},
			Report:  ev.add,
		})
		done <- out{res, err}
	}()
	waitFor(t, "Listening event", func() bool { _, ok := ev.find(Listening); return ok })
	e, _ := ev.find(Listening)
	if e.Port != elsewhere || e.Given != given {
		t.Errorf("Listening on %d, given %d; want %d, given %d", e.Port, e.Given, elsewhere, given)
	}
	if rt, ok := table.Lookup("api"); !ok || rt.Port != elsewhere || rt.PID != os.Getpid() || rt.Kind != router.KindRun {
		t.Errorf("route api = %+v, %v; want port %d of kind run owned by %d", rt, ok, elsewhere, os.Getpid())
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	grandchild, _ := strconv.Atoi(string(b))
	cancel()
	var o out
	select {
	case o = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of its context's end")
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Code != 128+int(syscall.SIGTERM) || o.res.Routed != elsewhere {
		t.Errorf("Result = %+v; want code %d, routed %d", o.res, 128+int(syscall.SIGTERM), elsewhere)
	}
	if _, ok := table.Lookup("api"); ok {
		t.Error("route api is still there after the run")
	}
	if p, err := procs.Get(grandchild); err == nil && p.State != "Z" {
		t.Errorf("grandchild %d outlived the run (state %s)", grandchild, p.State)
	}
}

// A command that ends and leaves a process of its group behind: run stops
// it, and exits with the command's status.
func TestRunStopsWhatIsLeft(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no process groups")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreTopFunction("os/signal.signal_recv"), goleak.IgnoreAnyFunction("os/signal.loop"))
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	table := router.NewTable()
	var ev events
	res, err := Run(context.Background(), Spec{
		Name: "left",
		// The sleeper ignores SIGTERM: it takes SIGKILL to stop it.
		// The leader exits only once the sleeper ignores SIGTERM.
		Command: []string{"sh", "-c", `sh -c 'trap "" TERM; echo $$ > "$0"; exec sleep 600' ` + pidFile +
			` & while [ ! -s ` + pidFile + ` ]; do sleep 0.01; done; exit 4`},
		Port:        freePort(t),
		Routes:      runnertest.Routes{Table: table},
		Report:      ev.add,
		StopTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != 4 {
		t.Errorf("Code = %d; want 4", res.Code)
	}
	e, ok := ev.find(Leftover)
	if !ok || e.Count != 1 || e.Signal != syscall.SIGKILL {
		t.Errorf("Leftover event = %+v, %v; want 1 process, SIGKILL", e, ok)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(string(b[:len(b)-1]))
	if p, err := procs.Get(pid); pid == 0 || (err == nil && p.State != "Z") {
		t.Errorf("the process left behind (pid %d) still runs", pid)
	}
	if len(table.List()) != 0 {
		t.Errorf("routes after the run: %v", table.List())
	}
}

// A name another run holds: nothing is started.
func TestRunNameTaken(t *testing.T) {
	table := router.NewTable()
	if _, err := table.Add(router.Route{Name: "api", Port: 1234, Kind: router.KindRun, PID: 1}); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	_, err := Run(context.Background(), Spec{Name: "api", Command: []string{"touch", marker}, Port: freePort(t), Routes: runnertest.Routes{Table: table}})
	if _, ok := err.(*router.ConflictError); !ok {
		t.Fatalf("Run with a taken name: %v; want a *router.ConflictError", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran although its name was taken")
	}
}

func TestRunNotFound(t *testing.T) {
	_, err := Run(context.Background(), Spec{Name: "x", Command: []string{"no-such-command-here"}, Port: 1, Routes: runnertest.NewRoutes()})
	se, ok := err.(*StartError)
	if !ok || !se.NotFound {
		t.Fatalf("Run(no-such-command-here) = %v; want a *StartError, not found", err)
	}
}

const pyMover = `
import os, socket, sys, time
def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s
s = listen(int(sys.argv[1]))
while not os.path.exists(sys.argv[3]):
    time.sleep(0.02)
s.close()
s = listen(int(sys.argv[2]))
time.sleep(600)
`

// A server that restarts on another port takes its route along.
func TestRunFollowsAMove(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the process tree is read on Linux")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreTopFunction("os/signal.signal_recv"), goleak.IgnoreAnyFunction("os/signal.loop"))
	dir := t.TempDir()
	script, move := filepath.Join(dir, "mover.py"), filepath.Join(dir, "move")
	if err := os.WriteFile(script, []byte(pyMover), 0o644); err != nil {
		t.Fatal(err)
	}
	given, first, second := freePort(t), freePort(t), freePort(t)
	table := router.NewTable()
	var ev events
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Spec{Name: "mover", Command: []string{"python3", script, strconv.Itoa(first), strconv.Itoa(second), move},
			Port: given, Routes: runnertest.Routes{Table: table}, Report: ev.add})
		done <- err
	}()
	routedTo := func(p int) func() bool {
		return func() bool { rt, ok := table.Lookup("mover"); return ok && rt.Port == p }
	}
	waitFor(t, "route to the first port", routedTo(first))
	if err := os.WriteFile(move, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "route to the second port", routedTo(second))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var ports []int
	for _, e := range ev.all {
		if e.Kind == Listening {
			ports = append(ports, e.Port)
		}
	}
	if len(ports) != 2 || ports[0] != first || ports[1] != second {
		t.Errorf("Listening events on %v; want [%d %d]", ports, first, second)
	}
}

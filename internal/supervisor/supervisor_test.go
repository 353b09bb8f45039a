//go:build unix

package supervisor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"homeport/internal/ports"
	"homeport/internal/project"
	"homeport/internal/runner/runnertest"
	"homeport/internal/sockets"
)

// server is a small HTTP service: it writes its pid to $NAME.pid (and
// appends it to $NAME.pids), answers "NAME UPSTREAM" on /, and /health
// with 503 until HEALTHY_AFTER seconds have passed (then writes
// $NAME.healthy). FAIL_TIMES makes its first starts exit 1; EXIT_AFTER
// makes it exit with EXIT_CODE that many seconds after listening.
const server = `
import http.server, os, sys, threading, time
name = os.environ["NAME"]
port = int(os.environ["PORT"])
with open(name + ".pids", "a") as f:
    f.write(str(os.getpid()) + "\n")
fails = int(os.environ.get("FAIL_TIMES", "0"))
if fails:
    n = int(open(name + ".starts").read()) if os.path.exists(name + ".starts") else 0
    open(name + ".starts", "w").write(str(n + 1))
    if n < fails:
        sys.exit(1)
start = time.time()
after = float(os.environ.get("HEALTHY_AFTER", "0"))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            if time.time() - start < after:
                self.send_response(503); self.end_headers(); return
            open(name + ".healthy", "w").write("1")
        b = (name + " " + os.environ.get("UPSTREAM", "")).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
open(name + ".pid", "w").write(str(os.getpid()))
if "EXIT_AFTER" in os.environ:
    def stop():
        time.sleep(float(os.environ["EXIT_AFTER"]))
        os._exit(int(os.environ.get("EXIT_CODE", "0")))
    threading.Thread(target=stop, daemon=True).start()
srv.serve_forever()
`

func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is needed for the services")
	}
}

// events collects what Run reports.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }

func (e *events) list() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.all)
}

// index is the place of the first event of kind k about service, or -1.
func (e *events) index(k EventKind, service string) int {
	return slices.IndexFunc(e.list(), func(ev Event) bool { return ev.Kind == k && ev.Service == service })
}

func (e *events) count(k EventKind, service string) int {
	n := 0
	for _, ev := range e.list() {
		if ev.Kind == k && ev.Service == service {
			n++
		}
	}
	return n
}

func (e *events) String() string {
	var b strings.Builder
	for _, ev := range e.list() {
		fmt.Fprintf(&b, "%+v\n", ev)
	}
	return b.String()
}

func waitFor(t *testing.T, what string, ev *events, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 90s; events:\n%s", what, ev)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proj is a project folder with the server and a homeport.toml.
type proj struct {
	t    *testing.T
	dir  string
	file string
	hold *ports.Holds
}

func newProject(t *testing.T, toml string) *proj {
	t.Helper()
	needPython(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "server.py"), []byte(server), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &proj{t: t, dir: dir, file: filepath.Join(dir, project.FileName),
		hold: &ports.Holds{Dir: t.TempDir(), TTL: time.Hour, Holder: ports.CurrentHolder(os.Getpid())}}
	p.write(toml)
	return p
}

func (p *proj) write(toml string) {
	p.t.Helper()
	// A new file renamed over the old one, as editors save.
	tmp := p.file + ".new"
	if err := os.WriteFile(tmp, []byte(toml), 0o644); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Rename(tmp, p.file); err != nil {
		p.t.Fatal(err)
	}
}

func (p *proj) plan(ctx context.Context, running *project.Plan, mine func(int) bool) (*project.Plan, error) {
	opts := project.PlanOptions{Take: sockets.Take, Holds: p.hold, Mine: mine}
	if running != nil {
		opts.Current = running.Picked()
	}
	return project.Check(ctx, project.CheckOptions{File: p.file, Dir: p.dir, Plan: opts})
}

func (p *proj) pid(name string) int { return p.pidFile(name + ".pid") }

func (p *proj) pidFile(name string) int {
	b, err := os.ReadFile(filepath.Join(p.dir, name))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func (p *proj) pids(name string) []int {
	b, _ := os.ReadFile(filepath.Join(p.dir, name+".pids"))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// run starts the project in the background; stop ends it and returns
// the result.
type running struct {
	ev     *events
	cancel context.CancelFunc
	done   chan struct{}
	res    *Result
	err    error
	out    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func (p *proj) run(watch bool, tweak func(*Options)) *running {
	p.t.Helper()
	plan, err := p.plan(context.Background(), nil, nil)
	if err != nil {
		p.t.Fatalf("planning: %v", err)
	}
	r := &running{ev: &events{}, done: make(chan struct{}), out: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	opts := Options{
		Plan: plan, Routes: runnertest.NewRoutes(),
		Report:      r.ev.add,
		StopTimeout: 10 * time.Second,
		Output:      func(string) (io.Writer, io.Writer) { return r.out, r.out },
		Env:         append(os.Environ(), "PYTHONUNBUFFERED=1"),
	}
	if watch {
		opts.Watch, opts.Reload = p.file, p.plan
	}
	if tweak != nil {
		tweak(&opts)
	}
	go func() {
		defer close(r.done)
		r.res, r.err = Run(ctx, opts)
	}()
	p.t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

func (r *running) wait(t *testing.T) *Result {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the run did not end; events:\n%s", r.ev)
	}
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	return r.res
}

func (r *running) stop(t *testing.T) *Result {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	// A zombie is gone for the purpose here: Run reaps its children.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func get(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		t.Fatalf("GET port %d: %v", port, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func readyPort(ev *events, service string) int {
	port := 0
	for _, e := range ev.list() {
		if e.Kind == Ready && e.Service == service {
			port = e.Port
		}
	}
	return port
}

// Start order honours after and ready: api starts once db listens, web
// once api's /health answers 200 (not only its port).
func TestStartOrder(t *testing.T) {
	p := newProject(t, `
[services.db]
run = "python3 server.py"
env = { NAME = "db" }

[services.api]
run = "python3 server.py"
env = { NAME = "api", UPSTREAM = "${db.port}", HEALTHY_AFTER = "1" }
ready = "http://localhost:${port}/health"
after = ["db"]

[services.web]
run = "python3 server.py"
env = { NAME = "web" }
after = ["api"]
`)
	var healthyAtWebStart bool
	var dbReadyAtAPIStart bool
	r := p.run(false, nil)
	waitFor(t, "web ready", r.ev, func() bool { return r.ev.index(Ready, "web") >= 0 })
	evs := r.ev.list()
	for i, e := range evs {
		if e.Kind == Started && e.Service == "api" {
			dbReadyAtAPIStart = slices.ContainsFunc(evs[:i], func(e Event) bool { return e.Kind == Ready && e.Service == "db" })
		}
		if e.Kind == Started && e.Service == "web" {
			healthyAtWebStart = slices.ContainsFunc(evs[:i], func(e Event) bool { return e.Kind == Ready && e.Service == "api" })
		}
	}
	if !dbReadyAtAPIStart || !healthyAtWebStart {
		t.Fatalf("start order: db ready before api started %v, api ready before web started %v; events:\n%s",
			dbReadyAtAPIStart, healthyAtWebStart, r.ev)
	}
	// api was ready only once its health check answered 200.
	if _, err := os.Stat(filepath.Join(p.dir, "api.healthy")); err != nil {
		t.Errorf("api was called ready before /health answered 200: %v", err)
	}
	if got, want := get(t, readyPort(r.ev, "api")), "api "+strconv.Itoa(readyPort(r.ev, "db")); got != want {
		t.Errorf("api answers %q; want %q (it gets db's port)", got, want)
	}
	res := r.stop(t)
	if res.Code != 0 || len(res.Held) > 0 {
		t.Errorf("stopped run: %+v; want code 0, nothing held", res)
	}
}

// A service that exits stops the others; the run ends with its status.
func TestCrashStopsTheRest(t *testing.T) {
	p := newProject(t, `
[services.db]
run = "python3 server.py"
env = { NAME = "db" }

[services.api]
# It leaves a process behind that holds its output open: its exit is seen
# all the same, and what it left is stopped.
run = "sh -c 'sleep 300 & echo $! > sleep.pid; exec python3 server.py'"
env = { NAME = "api", EXIT_AFTER = "0.5", EXIT_CODE = "3" }
after = ["db"]
`)
	r := p.run(false, nil)
	res := r.wait(t)
	if pid := p.pidFile("sleep.pid"); pid == 0 || alive(pid) {
		t.Errorf("what api left behind (pid %d) runs on", pid)
	}
	if res.Code != 3 || res.Cause != "api" {
		t.Fatalf("result %+v; want code 3 from api; events:\n%s", res, r.ev)
	}
	if pid := p.pid("db"); pid == 0 || alive(pid) {
		t.Errorf("db (pid %d) still runs after api exited", pid)
	}
	if r.ev.index(Stopped, "db") < 0 || r.ev.index(PortsFree, "") < 0 {
		t.Errorf("want db stopped and the ports free; events:\n%s", r.ev)
	}
}

// restart = "on-failure" restarts with backoff; the others keep running.
func TestOnFailureRestarts(t *testing.T) {
	old := Backoff
	Backoff = 50 * time.Millisecond
	t.Cleanup(func() { Backoff = old })
	p := newProject(t, `
[services.db]
run = "python3 server.py"
env = { NAME = "db" }

[services.api]
run = "python3 server.py"
env = { NAME = "api", FAIL_TIMES = "2" }
restart = "on-failure"
`)
	r := p.run(false, nil)
	waitFor(t, "api ready", r.ev, func() bool { return r.ev.index(Ready, "api") >= 0 && r.ev.index(Ready, "db") >= 0 })
	if n := r.ev.count(Restarting, "api"); n != 2 {
		t.Fatalf("api restarted %d times; want 2; events:\n%s", n, r.ev)
	}
	var delays []time.Duration
	for _, e := range r.ev.list() {
		if e.Kind == Restarting {
			delays = append(delays, e.Delay)
		}
	}
	if !slices.Equal(delays, []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}) {
		t.Errorf("backoff %v; want 50ms then 100ms", delays)
	}
	if n := len(p.pids("db")); n != 1 {
		t.Errorf("db started %d times; want once", n)
	}
	r.stop(t)
}

// An edit of db's port moves db, restarts api (its env names db's port)
// with the new value, and leaves web (only after api) running; a broken
// edit changes nothing.
func TestEditMovesAService(t *testing.T) {
	const file = `
[services.db]
run = "python3 server.py"
env = { NAME = "db" }
port = %d

[services.api]
run = "python3 server.py"
env = { NAME = "api", UPSTREAM = "db=${db.port}" }
after = ["db"]

[services.web]
run = "python3 server.py"
env = { NAME = "web" }
after = ["api"]
`
	first, second := freePort(t), freePort(t)
	p := newProject(t, fmt.Sprintf(file, first))
	r := p.run(true, nil)
	waitFor(t, "web ready", r.ev, func() bool { return r.ev.index(Ready, "web") >= 0 })
	dbPid, apiPid, webPid := p.pid("db"), p.pid("api"), p.pid("web")
	apiPort := readyPort(r.ev, "api")

	p.write(fmt.Sprintf(file, second))
	waitFor(t, "db moved", r.ev, func() bool { return r.ev.index(Moved, "db") >= 0 && r.ev.count(Ready, "api") == 2 })
	moved := r.ev.list()[r.ev.index(Moved, "db")]
	if moved.Port != second || moved.OldPort != first || !moved.OldFree {
		t.Errorf("moved %+v; want port %d, old %d free", moved, second, first)
	}
	if listening(first) {
		t.Errorf("port %d still answers after the move", first)
	}
	if got, want := get(t, second), "db "; got != want {
		t.Errorf("db on %d answers %q; want %q", second, got, want)
	}
	if got, want := get(t, apiPort), "api db="+strconv.Itoa(second); got != want {
		t.Errorf("api answers %q; want %q (restarted with db's new port)", got, want)
	}
	if p.pid("db") == dbPid || p.pid("api") == apiPid {
		t.Errorf("db and api must have new pids: db %d → %d, api %d → %d", dbPid, p.pid("db"), apiPid, p.pid("api"))
	}
	if p.pid("web") != webPid || len(p.pids("web")) != 1 {
		t.Errorf("web was restarted (pids %v); want pid %d only", p.pids("web"), webPid)
	}
	var changes []project.Change
	for _, e := range r.ev.list() {
		if e.Kind == EditApplied {
			changes = e.Changes
		}
	}
	var restarted []string
	for _, c := range changes {
		restarted = append(restarted, c.Service)
	}
	if !slices.Equal(restarted, []string{"db", "api"}) {
		t.Errorf("the edit restarted %v; want [db api]", restarted)
	}

	// A broken edit: reported, nothing stopped.
	p.write(strings.Replace(fmt.Sprintf(file, second), "after = [\"db\"]", "after = [\"dbb\"]", 1))
	waitFor(t, "the broken edit reported", r.ev, func() bool { return r.ev.index(EditRejected, "") >= 0 })
	rej := r.ev.list()[r.ev.index(EditRejected, "")]
	if !strings.Contains(rej.Err.Error(), "homeport.toml:10:") || !strings.Contains(rej.Err.Error(), "dbb") {
		t.Errorf("rejected edit says %q; want the file, line 10 and the bad name", rej.Err)
	}
	dbPid, apiPid = p.pid("db"), p.pid("api")
	if !alive(dbPid) || !alive(apiPid) || !alive(webPid) {
		t.Errorf("a broken edit stopped a service")
	}
	res := r.stop(t)
	if len(res.Held) > 0 {
		t.Errorf("ports still held after the stop: %v", res.Held)
	}
}

// Ctrl-C (ctx) stops every process tree, a shell's child included, and
// every port is free after.
func TestInterruptLeavesNothing(t *testing.T) {
	p := newProject(t, `
[services.db]
run = "python3 server.py"
env = { NAME = "db" }

[services.api]
# A shell that runs the server as its child and waits: the tree, not
# only the shell, must go.
run = "sh -c 'python3 server.py & wait'"
env = { NAME = "api" }
after = ["db"]

[services.stubborn]
# Ignores SIGTERM: it gets SIGKILL after the timeout.
run = "sh -c 'trap \"\" TERM; exec python3 server.py'"
env = { NAME = "stubborn" }
`)
	r := p.run(false, func(o *Options) { o.StopTimeout = 500 * time.Millisecond })
	waitFor(t, "every service ready", r.ev, func() bool {
		return r.ev.index(Ready, "api") >= 0 && r.ev.index(Ready, "stubborn") >= 0
	})
	pids := []int{p.pid("db"), p.pid("api"), p.pid("stubborn")}
	portsUsed := []int{readyPort(r.ev, "db"), readyPort(r.ev, "api"), readyPort(r.ev, "stubborn")}
	res := r.stop(t)
	if res.Code != 0 || len(res.Held) > 0 {
		t.Errorf("result %+v; want 0 and nothing held; events:\n%s", res, r.ev)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d runs on after the stop", pid)
		}
	}
	for _, port := range portsUsed {
		if listening(port) {
			t.Errorf("port %d answers after the stop", port)
		}
	}
	killed := slices.ContainsFunc(r.ev.list(), func(e Event) bool {
		return e.Kind == Forwarded && e.Service == "stubborn" && e.Signal == syscall.SIGKILL
	})
	if !killed {
		t.Errorf("stubborn did not get SIGKILL; events:\n%s", r.ev)
	}
	// Stopped last started first: api before db.
	if a, d := r.ev.index(Stopped, "api"), r.ev.index(Stopped, "db"); a < 0 || d < 0 || a > d {
		t.Errorf("stop order: api at %d, db at %d; want api first", a, d)
	}
}

// Two projects with a service of the same name, started side by side,
// never get the same port.
func TestTwoProjectsNeverShareAPort(t *testing.T) {
	const file = `
[services.api]
run = "python3 server.py"
env = { NAME = "api" }
`
	a, b := newProject(t, file), newProject(t, file)
	b.hold = a.hold // one machine: one holds folder
	ra, rb := a.run(false, nil), b.run(false, nil)
	waitFor(t, "both ready", ra.ev, func() bool { return ra.ev.index(Ready, "api") >= 0 && rb.ev.index(Ready, "api") >= 0 })
	pa, pb := readyPort(ra.ev, "api"), readyPort(rb.ev, "api")
	if pa == pb {
		t.Fatalf("both projects' api got port %d", pa)
	}
	ra.stop(t)
	rb.stop(t)
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

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeport/internal/dashboard"
	"homeport/internal/procs"
)

// The test binary doubles as a process holding a port: with
// HOMEPORT_DAEMON_HELPER=listen it listens on 127.0.0.1:0 (or on
// HOMEPORT_DAEMON_HELPER_ADDR), prints "ready PORT" and waits for a signal.
func TestMain(m *testing.M) {
	if os.Getenv("HOMEPORT_DAEMON_HELPER") == "listen" {
		addr := os.Getenv("HOMEPORT_DAEMON_HELPER_ADDR")
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Println("ready", ln.Addr().(*net.TCPAddr).Port)
		<-sigs
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type holder struct {
	cmd  *exec.Cmd
	port int
	done chan error
}

// holderArgs are extra arguments for the next startHolder, and holderDir
// its working folder ("" the test's own).
var (
	holderArgs []string
	holderDir  string
)

func startHolder(t *testing.T, addr string) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$"}, holderArgs...)...)
	cmd.Env = append(os.Environ(), "HOMEPORT_DAEMON_HELPER=listen", "HOMEPORT_DAEMON_HELPER_ADDR="+addr)
	cmd.Dir = holderDir
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd: cmd, done: make(chan error, 1)}
	line, _ := bufio.NewReader(out).ReadString('\n')
	go func() { h.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-h.done
	})
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "ready" {
		t.Fatalf("holder did not start: %q", line)
	}
	h.port, _ = strconv.Atoi(f[1])
	return h
}

// freePort returns a port that was free a moment ago on both loopbacks.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// stateHome gives the test a state directory of its own.
func stateHome(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	t.Setenv("XDG_STATE_HOME", d)
	return filepath.Join(d, "homeport")
}

type running struct {
	ready chan Ready
	done  chan error
	stop  context.CancelFunc
}

func runDaemon(t testing.TB, opts Options) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{ready: make(chan Ready, 1), done: make(chan error, 1), stop: cancel}
	opts.Ready = func(x Ready) { r.ready <- x }
	if opts.Interval == 0 {
		opts.Interval = 100 * time.Millisecond
	}
	go func() { r.done <- Run(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop")
		}
	})
	return r
}

func (r *running) waitReady(t testing.TB) Ready {
	t.Helper()
	select {
	case x := <-r.ready:
		return x
	case err := <-r.done:
		t.Fatalf("daemon ended before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not ready after 30s")
	}
	return Ready{}
}

func TestRunLifecycle(t *testing.T) {
	dir := stateHome(t)
	port := freePort(t)
	r := runDaemon(t, Options{Port: port, Version: "test"})
	ready := r.waitReady(t)
	if !strings.HasPrefix(ready.LoginURL, "http://127.0.0.1:"+strconv.Itoa(port)+"/login?code=") {
		t.Errorf("login URL %q", ready.LoginURL)
	}
	if len(ready.Addrs) != 2 {
		t.Errorf("listening on %v; want 127.0.0.1 and [::1]", ready.Addrs)
	}
	fi, err := os.Stat(filepath.Join(dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("token mode %v; want 0600", fi.Mode().Perm())
	}
	if di, err := os.Stat(dir); err == nil && runtime.GOOS != "windows" && di.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v; want 0700", di.Mode().Perm())
	}

	st, err := Find(context.Background())
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if st.PID != os.Getpid() || st.Port != port || st.Since.IsZero() {
		t.Errorf("Find = %+v; want this process on port %d", st, port)
	}

	// A second daemon of the same user says where the first one is.
	err = Run(context.Background(), Options{Port: freePort(t)})
	var re *RunningError
	if !errors.As(err, &re) || re.State.PID != os.Getpid() {
		t.Errorf("second Run = %v; want a RunningError naming pid %d", err, os.Getpid())
	}

	c, _, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	url, err := c.Login(context.Background())
	if err != nil || !strings.Contains(url, "/login?code=") {
		t.Errorf("Login = %q, %v", url, err)
	}

	// Without the token the API refuses: another user has no token.
	resp, err := http.Get(c.Base + "/api/v1/ports")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("ports without token = %d; want 401", resp.StatusCode)
	}

	// Stop waits for the daemon's process to go, which here is the test
	// itself: ask for the shutdown alone (the CLI tests run Stop).
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run after shutdown = %v; want nil", err)
		}
		r.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop on shutdown")
	}
	if _, err := os.Stat(filepath.Join(dir, "daemon.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("daemon.json left behind: %v", err)
	}
}

// TestPortHeldNamesHolder: a port held by another process is reported
// with its pid, and the daemon does not move.
func TestPortHeldNamesHolder(t *testing.T) {
	stateHome(t)
	h := startHolder(t, "127.0.0.1:0")
	err := Run(context.Background(), Options{Port: h.port})
	var pe *PortHeldError
	if !errors.As(err, &pe) {
		t.Fatalf("Run on a held port = %v; want a PortHeldError", err)
	}
	// Another test may listen on the same number on ::1: the child must be
	// among the holders named.
	if pe.Port != h.port || !slices.ContainsFunc(pe.Holders, func(o Holder) bool { return o.PID == h.cmd.Process.Pid }) {
		t.Errorf("PortHeldError = %+v; want port %d held by pid %d", pe, h.port, h.cmd.Process.Pid)
	}
	if !strings.Contains(pe.Error(), fmt.Sprintf("(pid %d)", h.cmd.Process.Pid)) {
		t.Errorf("message %q does not name the pid", pe.Error())
	}
}

// TestKillAPI kills a child through the daemon's API with the real kill
// engine: a stale start time is refused with 409, the right one frees the
// port.
func TestKillAPI(t *testing.T) {
	stateHome(t)
	port := freePort(t)
	r := runDaemon(t, Options{Port: port})
	r.waitReady(t)
	c, _, err := Connect()
	if err != nil {
		t.Fatal(err)
	}
	h := startHolder(t, "127.0.0.1:0")

	// The row as the API shows it.
	var who dashboard.Who
	get(t, c, "/api/v1/who?port="+strconv.Itoa(h.port), &who)
	if !who.Held || len(who.Sockets) != 1 || len(who.Sockets[0].Owners) != 1 {
		t.Fatalf("who %d = %+v", h.port, who)
	}
	s := who.Sockets[0]
	o := s.Owners[0]
	if o.PID != h.cmd.Process.Pid || o.Started == nil {
		t.Fatalf("owner %+v; want pid %d with a start time", o, h.cmd.Process.Pid)
	}

	stale := dashboard.KillRequest{Port: s.Port, Proto: s.Proto, PID: o.PID, Started: o.Started.Add(-time.Second), Inode: s.Inode}
	code, res := post(t, c, stale)
	if code != http.StatusConflict || !res.Changed {
		t.Fatalf("kill with a stale start time = %d %+v; want 409 changed", code, res)
	}
	if p, err := procs.Get(o.PID); err != nil || p.State == "Z" {
		t.Fatalf("the process was signalled despite the 409: %v", err)
	}
	wrongInode := stale
	wrongInode.Started, wrongInode.Inode = *o.Started, s.Inode+1
	if code, _ := post(t, c, wrongInode); code != http.StatusConflict {
		t.Fatalf("kill with another inode = %d; want 409", code)
	}

	good := stale
	good.Started = *o.Started
	code, res = post(t, c, good)
	// Kill answers once the port is free; the child may still be exiting.
	if code != http.StatusOK || !res.Freed || len(res.Outcomes) != 1 ||
		(res.Outcomes[0].Kind != "exited" && res.Outcomes[0].Kind != "stopped-listening") {
		t.Fatalf("kill = %d %+v; want 200, freed, exited or stopped listening", code, res)
	}
	select {
	case <-h.done:
		h.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("holder still running after the kill")
	}
}

func get(t *testing.T, c *Client, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", c.Base+path, nil)
	req.Header.Set(dashboard.TokenHeader, c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func post(t *testing.T, c *Client, kr dashboard.KillRequest) (int, *dashboard.KillResult) {
	t.Helper()
	b, _ := json.Marshal(kr)
	req, _ := http.NewRequest("POST", c.Base+"/api/v1/kill", bytes.NewReader(b))
	req.Header.Set(dashboard.TokenHeader, c.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res dashboard.KillResult
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("kill answer %d %s: %v", resp.StatusCode, body, err)
	}
	return resp.StatusCode, &res
}

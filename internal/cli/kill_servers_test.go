//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// These tests stop real servers where the test machine has them (socat,
// memcached) and otherwise the stand-in internal/stop/testdata/standin.py,
// which answers signals as the server it stands in for does.

// started is a child process of the test, waited for in the background.
type started struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(t *testing.T, cmd *exec.Cmd) *started {
	t.Helper()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &started{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // our own child, by its pid
		<-s.done
	})
	return s
}

func (s *started) pid() int { return s.cmd.Process.Pid }

// need skips a test whose server is not installed (scripts/test installs it).
func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("%s is not installed (scripts/test installs it)", prog)
	}
	return p
}

// waitListening waits until pid listens on port (proto "" any).
func waitListening(t *testing.T, pid int, port uint16) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		snap, err := sockets.Take(context.Background(), sockets.Filter{Port: port})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snap.Sockets {
			for _, o := range s.Owners {
				if o.PID == pid {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d does not listen on %d after 30s", pid, port)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startStandin runs the stand-in in mode on addrs and returns it with the
// ports it listens on.
func startStandin(t *testing.T, mode string, addrs ...string) (*started, []uint16) {
	t.Helper()
	py := need(t, "python3")
	script, err := filepath.Abs("../stop/testdata/standin.py")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	s := startProc(t, exec.Command(py, append([]string{script, mode, out}, addrs...)...))
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) > 0 && f[0] == "ready" {
			var ps []uint16
			for _, p := range f[1:] {
				n, _ := strconv.Atoi(p)
				ps = append(ps, uint16(n))
			}
			return s, ps
		}
		if time.Now().After(deadline) {
			t.Fatalf("stand-in not ready after 30s: %q", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func killOf(t *testing.T, target string, timeout time.Duration) (*KillOptions, *syncBuffer) {
	t.Helper()
	opts, out := realKill(t, 1, timeout)
	tg, err := ports.ParseTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	opts.Targets = []ports.Target{tg}
	return opts, out
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestKillUDPOnly: a bare port means every protocol, so `kill N` finds a
// port that only UDP holds (socat, as a user would start it).
func TestKillUDPOnly(t *testing.T) {
	socat := need(t, "socat")
	p := freePort(t)
	s := startProc(t, exec.Command(socat, "-u", fmt.Sprintf("UDP-LISTEN:%d,bind=127.0.0.1", p), "OPEN:/dev/null"))
	waitListening(t, s.pid(), p)

	opts, out := killOf(t, portStr(p)+"/tcp", time.Second)
	if err := killRun(context.Background(), opts); exitCodeOf(err) != exitFailure {
		t.Errorf("kill %d/tcp = %v; want exit 1 (nothing on TCP)\n%s", p, err, out)
	}
	opts, out = killOf(t, portStr(p), 30*time.Second)
	if err := killRun(context.Background(), opts); err != nil {
		t.Fatalf("kill %d = %v\n%s", p, err, out)
	}
	wantLines(t, out.String(), fmt.Sprintf("pid %d socat", s.pid()), fmt.Sprintf("listening on 127.0.0.1:%d/udp", p),
		fmt.Sprintf("port %d is free", p))
}

// TestKillStoppedProcess: a stopped process (Ctrl-Z, SIGSTOP) is resumed
// after SIGTERM, exits on it, and the report says it was stopped.
func TestKillStoppedProcess(t *testing.T) {
	s, ps := startStandin(t, "plain", "tcp:127.0.0.1:0")
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if p, err := procs.Get(s.pid()); err == nil && p.Stopped() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stand-in did not stop")
		}
	}
	opts, out := killOf(t, portStr(ps[0]), 30*time.Second)
	opts.Signal = 0
	if err := killRun(context.Background(), opts); err != nil {
		t.Fatalf("kill = %v\n%s", err, out)
	}
	wantLines(t, out.String(), "it is stopped (Ctrl-Z or SIGSTOP): homeport sends SIGCONT after SIGTERM",
		"it was stopped (Ctrl-Z or SIGSTOP), so homeport resumed it with SIGCONT to let it act on SIGTERM")
	if strings.Contains(out.String(), "SIGKILL") {
		t.Errorf("a stopped process was killed:\n%s", out)
	}
}

// TestKillPostgres: the PostgreSQL postmaster (the stand-in; PostgreSQL
// will not run as root in the tests) gets SIGINT, its fast shutdown, with
// a client connected. Told SIGTERM, it waits for the client; homeport
// names the client and sends SIGINT rather than SIGKILL.
func TestKillPostgres(t *testing.T) {
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		want []string
	}{
		{"its own signal", 0, []string{"PostgreSQL: SIGINT first (fast shutdown: disconnects its clients, then stops cleanly)", "on SIGINT"}},
		{"told SIGTERM", syscall.SIGTERM, []string{
			"it did not stop on SIGTERM within 500ms (PostgreSQL smart shutdown: waits for every client to disconnect); " +
				fmt.Sprintf("1 client was connected: cli.test (pid %d) from 127.0.0.1:", os.Getpid()),
			"; sent SIGINT (fast shutdown: disconnects its clients, then stops cleanly)",
			"on SIGINT"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, ps := startStandin(t, "postgres", "tcp:127.0.0.1:0")
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ps[0]))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go func() { _, _ = io.Copy(io.Discard, c) }() // ends when the server closes it
			opts, out := killOf(t, portStr(ps[0]), 500*time.Millisecond)
			opts.Signal = tt.sig
			if err := killRun(context.Background(), opts); err != nil {
				t.Fatalf("kill = %v\n%s", err, out)
			}
			wantLines(t, out.String(), append(tt.want, fmt.Sprintf("pid %d postgres", s.pid()))...)
			if strings.Contains(out.String(), "SIGKILL") {
				t.Errorf("the postmaster was killed:\n%s", out)
			}
		})
	}
}

// TestKillNamesOtherPorts: the victim's other listeners close with it, and
// kill says so before asking.
func TestKillNamesOtherPorts(t *testing.T) {
	_, ps := startStandin(t, "plain", "tcp:127.0.0.1:0", "tcp:[::1]:0", "udp:127.0.0.1:0")
	opts, out := killOf(t, portStr(ps[0]), 30*time.Second)
	opts.DryRun = true
	if err := killRun(context.Background(), opts); err != nil {
		t.Fatalf("kill --dry-run = %v\n%s", err, out)
	}
	// Both other listeners are named, in the inventory's order.
	also := []string{fmt.Sprintf("[::1]:%d", ps[1]), fmt.Sprintf("127.0.0.1:%d/udp", ps[2])}
	want := map[string]bool{
		"  it also listens on " + strings.Join(also, ", ") + ": those ports close with it": true,
		"  it also listens on " + also[1] + ", " + also[0] + ": those ports close with it": true,
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if want[line] {
			return
		}
	}
	t.Errorf("kill --dry-run printed:\n%s\nwant a line naming %s and %s as closing with it", out, also[0], also[1])
}

// TestKillAsNobodyOwnProcess: memcached started as root with -u nobody
// opens its sockets as nobody, and having changed credentials, hides its
// open files from nobody. kill run as nobody says the holder is its own
// user's and unreadable, not another user's.
func TestKillAsNobodyOwnProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to start memcached as nobody and run homeport as nobody")
	}
	memcached := need(t, "memcached")
	p := freePort(t)
	m := startProc(t, exec.Command(memcached, "-u", "nobody", "-l", "127.0.0.1", "-p", portStr(p), "-U", "0"))
	waitListening(t, m.pid(), p)

	// homeport as nobody: the test binary, copied where nobody may run it.
	dir, err := os.MkdirTemp("", "homeport-nobody")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "homeport")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "HOMEPORT_HELPER=main", "HOMEPORT_HELPER_ARGS=kill\x1f"+portStr(p)+"\x1f--yes", "HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitKillNotFreed {
		t.Fatalf("kill as nobody = %v; want exit %d\nstdout:\n%s\nstderr:\n%s", err, exitKillNotFreed, &stdout, &stderr)
	}
	wantLines(t, stdout.String()+stderr.String(),
		fmt.Sprintf("port %d is held by a process homeport cannot read, though its socket is yours (nobody): it changed its credentials", p),
		"sudo homeport kill "+portStr(p))
	if strings.Contains(stdout.String()+stderr.String(), "another user") {
		t.Errorf("nobody's own memcached is called another user's:\n%s%s", &stdout, &stderr)
	}
	select {
	case <-m.done:
		t.Error("memcached exited")
	default:
	}
}

package procs

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the child process that gets signalled: with
// HOMEPORT_PROCS_CHILD set to a file name, it writes "ready" there once it
// catches signals, then the name of the first signal it gets, and exits.
func TestMain(m *testing.M) {
	if out := os.Getenv("HOMEPORT_PROCS_CHILD"); out != "" {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		if err := os.WriteFile(out, []byte("ready"), 0o600); err != nil {
			os.Exit(3)
		}
		sig := <-ch
		_ = os.WriteFile(out, []byte(sig.String()), 0o600)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type child struct {
	cmd  *exec.Cmd
	out  string
	done chan struct{}
}

func startChild(t *testing.T) *child {
	t.Helper()
	out := filepath.Join(t.TempDir(), "signal")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOMEPORT_PROCS_CHILD="+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
	})
	c.waitFile(t, func(s string) bool { return s == "ready" })
	return c
}

// waitFile waits until the child's file satisfies ok, and returns it.
func (c *child) waitFile(t *testing.T, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(c.out)
		if ok(string(b)) {
			return string(b)
		}
		select {
		case <-c.done:
			b, _ := os.ReadFile(c.out)
			if ok(string(b)) {
				return string(b)
			}
			t.Fatalf("child exited; its file says %q", b)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("child's file says %q after 20s", b)
		}
	}
}

func (c *child) waitExit(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		t.Fatal("child still running after 20s")
	}
}

func TestOSSignalDelivers(t *testing.T) {
	c := startChild(t)
	p, err := Get(c.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	sg := OS()
	if !sg.Alive(p.PID, p.StartTicks) {
		t.Fatalf("Alive(%d) = false for a running child", p.PID)
	}
	if err := sg.Signal(p.PID, p.StartTicks, syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM) = %v", err)
	}
	got := c.waitFile(t, func(s string) bool { return s != "ready" })
	if got != syscall.SIGTERM.String() {
		t.Errorf("child got %q; want %q", got, syscall.SIGTERM.String())
	}
	c.waitExit(t)
	if sg.Alive(p.PID, p.StartTicks) {
		t.Errorf("Alive(%d) = true after the child exited", p.PID)
	}
	if err := sg.Signal(p.PID, p.StartTicks, syscall.SIGTERM); !errors.Is(err, ErrGone) {
		t.Errorf("Signal after exit = %v; want ErrGone", err)
	}
}

// TestOSSignalStartTimeGuard plays a recycled PID: the caller's start time no
// longer matches the process behind the PID, so nothing may be delivered.
// The child records the FIRST signal it gets; a correct SIGINT sent after the
// refused SIGTERM proves that the SIGTERM never arrived.
func TestOSSignalStartTimeGuard(t *testing.T) {
	c := startChild(t)
	p, err := Get(c.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	sg := OS()
	err = sg.Signal(p.PID, p.StartTicks+1, syscall.SIGTERM)
	if !errors.Is(err, ErrReused) {
		t.Fatalf("Signal with a stale start time = %v; want ErrReused", err)
	}
	if !errors.Is(err, ErrGone) {
		t.Errorf("ErrReused should also be ErrGone, got %v", err)
	}
	if sg.Alive(p.PID, p.StartTicks+1) {
		t.Errorf("Alive with a stale start time = true; want false")
	}
	if err := sg.Signal(p.PID, p.StartTicks, syscall.SIGINT); err != nil {
		t.Fatalf("Signal(SIGINT) = %v", err)
	}
	got := c.waitFile(t, func(s string) bool { return s != "ready" })
	if got != syscall.SIGINT.String() {
		t.Errorf("child's first signal was %q; want %q (the guarded SIGTERM must not arrive)", got, syscall.SIGINT.String())
	}
	c.waitExit(t)
}

func TestOSSignalPermission(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a child as another user")
	}
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a process as nobody: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() { _ = cmd.Process.Kill(); <-done }()
	p, err := Get(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if p.UID != 65534 {
		t.Fatalf("child uid = %d; want 65534", p.UID)
	}
	// As another unprivileged user, the guard refuses before the OS would.
	g := &Guard{Signaller: OS(), Self: os.Getpid(), Parent: os.Getppid(), UID: 1000}
	var re *RefusedError
	if err := g.Signal(p, syscall.SIGTERM); !errors.As(err, &re) {
		t.Fatalf("Guard.Signal of another user's process = %v; want a refusal", err)
	}
	if !g.Alive(p) {
		t.Fatal("refused process is not alive")
	}
}

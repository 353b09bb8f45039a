package procs

// These tests run on Windows, and on Linux under Wine through
// scripts/test-windows.sh. They read this process and a real child.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// underWine reports whether the test runs under Wine, whose ntdll exports
// wine_get_version.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// TestHelperProcess is the child the tests start: it waits for its stdin to
// close, so the parent decides when it ends.
//
// With HOMEPORT_PROCS_HELPER=parent it starts a child itself, prints the
// child's PID and exits: the child is left behind as an orphan, as a dev
// server started by a script that exited is. The orphan lives until the
// test process (HOMEPORT_PROCS_TEST_PID) exits or the test stops it. It
// does not wait on the stdin it would share with its parent: under Wine
// 8.0 that read can end with EOF once the parent exits.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv("HOMEPORT_PROCS_HELPER") {
	case "1":
		var b [1]byte
		os.Stdin.Read(b[:])
		os.Exit(0)
	case "orphan":
		pid, err := strconv.Atoi(os.Getenv("HOMEPORT_PROCS_TEST_PID"))
		if err != nil {
			os.Exit(2)
		}
		h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
		if err != nil {
			os.Exit(2)
		}
		windows.WaitForSingleObject(h, windows.INFINITE)
		os.Exit(0)
	case "parent":
		c := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		c.Env = append(os.Environ(), "HOMEPORT_PROCS_HELPER=orphan")
		if err := c.Start(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(c.Process.Pid)
		os.Exit(0)
	}
	t.Skip("helper process for the tests of children and signals")
}

// startHelper starts the helper child; closing the returned stdin ends it.
func startHelper(t *testing.T, mode string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "HOMEPORT_PROCS_HELPER="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, stdin, bufio.NewReader(stdout)
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := Get(pid)
		if errors.Is(err, ErrGone) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(%d) = %v a minute after it was stopped; want ErrGone", pid, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWindowsSignal(t *testing.T) {
	cmd, _, _ := startHelper(t, "1")
	pid := cmd.Process.Pid
	p, err := Get(pid)
	if err != nil {
		t.Fatal(err)
	}
	if !windowsAlive(pid, p.StartTicks) {
		t.Fatalf("windowsAlive(child) = false")
	}
	if windowsAlive(pid, p.StartTicks+1) {
		t.Errorf("windowsAlive(child, another start time) = true")
	}
	if err := windowsSignal(pid, p.StartTicks+1, syscall.SIGKILL); !errors.Is(err, ErrReused) {
		t.Errorf("windowsSignal with another start time = %v; want ErrReused", err)
	}
	if !windowsAlive(pid, p.StartTicks) {
		t.Fatalf("the child died of a refused signal")
	}
	// A console program has no window to close: TERM terminates it.
	if err := windowsSignal(pid, p.StartTicks, syscall.SIGTERM); err != nil {
		t.Fatalf("windowsSignal(child, SIGTERM) = %v", err)
	}
	cmd.Wait()
	waitGone(t, pid)
	if windowsAlive(pid, p.StartTicks) {
		t.Errorf("windowsAlive(terminated child) = true")
	}
	if err := windowsSignal(pid, p.StartTicks, syscall.SIGKILL); !errors.Is(err, ErrGone) {
		t.Errorf("windowsSignal(terminated child) = %v; want ErrGone", err)
	}
}

func TestWindowsSignalRefusesTheKernel(t *testing.T) {
	for _, pid := range []int{WindowsIdlePID, WindowsSystemPID} {
		var re *RefusedError
		if err := windowsSignal(pid, 0, syscall.SIGKILL); !errors.As(err, &re) || re.Hint == "" && pid == WindowsSystemPID {
			t.Errorf("windowsSignal(%d) = %v; want a *RefusedError with a hint", pid, err)
		}
	}
}

// TestWindowsOrphan leaves a child behind its exited parent, the way a dev
// server outlives the script that started it, and finds it by the parent's
// PID.
func TestWindowsOrphan(t *testing.T) {
	t.Setenv("HOMEPORT_PROCS_TEST_PID", strconv.Itoa(os.Getpid()))
	parent, _, out := startHelper(t, "parent")
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the orphan's pid: %v", err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper parent said %q", line)
	}
	t.Cleanup(func() {
		if p, err := Get(orphan); err == nil {
			windowsSignal(orphan, p.StartTicks, syscall.SIGKILL)
		}
	})
	parent.Wait()
	waitGone(t, parent.Process.Pid)

	kids, err := Children(parent.Process.Pid)
	if err != nil {
		t.Fatalf("Children(exited parent) = %v", err)
	}
	if len(kids) != 1 || kids[0].PID != orphan {
		t.Fatalf("Children(exited parent %d) = %+v; want the orphan %d", parent.Process.Pid, kids, orphan)
	}
	n := OrphanNote(parent.Process.Pid, 3000, kids)
	if !strings.Contains(n.Hint, strconv.Itoa(orphan)) || !strings.Contains(n.Reason, "exited") {
		t.Errorf("OrphanNote = %+v; want the orphan %d named", n, orphan)
	}
	// And our own children include nobody else's.
	mine, err := Children(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range mine {
		if c.PID == orphan {
			t.Errorf("Children(self) lists the grandchild %d", orphan)
		}
	}
}

func TestWindowsSelf(t *testing.T) {
	p, err := Get(os.Getpid())
	if err != nil {
		t.Fatalf("Get(self) = %v", err)
	}
	if !strings.HasSuffix(strings.ToLower(p.Name), ".exe") {
		t.Errorf("Name = %q; want the image name (procs.test.exe)", p.Name)
	}
	if len(p.Cmdline) == 0 || !strings.Contains(strings.ToLower(p.Cmdline[0]), "procs.test") {
		t.Errorf("Cmdline = %q; want the test binary first", p.Cmdline)
	}
	if p.UID != -1 {
		t.Errorf("UID = %d; want -1 (Windows has SIDs, not uids)", p.UID)
	}
	if p.User == "" {
		t.Errorf("User is empty")
	}
	now := time.Now()
	if p.Start.After(now) || now.Sub(p.Start) > time.Hour || p.StartTicks == 0 {
		t.Errorf("Start = %v (ticks %d); want a moment ago", p.Start, p.StartTicks)
	}
	// Under Wine the first Windows process has no Windows parent.
	if p.PPID <= 0 && !underWine() {
		t.Errorf("PPID = %d; want the process that started the test", p.PPID)
	}
}

func TestWindowsChild(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "--", "two words", "x")
	cmd.Env = append(os.Environ(), "HOMEPORT_PROCS_HELPER=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}()
	pid := cmd.Process.Pid
	p, err := Get(pid)
	if err != nil {
		t.Fatalf("Get(child %d) = %v", pid, err)
	}
	if p.PID != pid || p.PPID != os.Getpid() {
		t.Errorf("child: pid %d ppid %d; want %d, %d", p.PID, p.PPID, pid, os.Getpid())
	}
	if !slices.Contains(p.Cmdline, "two words") || p.Cmdline[len(p.Cmdline)-1] != "x" {
		t.Errorf("child Cmdline = %q; want its arguments, \"two words\" as one", p.Cmdline)
	}
	again, err := Get(pid)
	if err != nil || again.StartTicks != p.StartTicks {
		t.Errorf("Get(child) again: ticks %v, %v; want %d", again, err, p.StartTicks)
	}

	// Stopped through the guard and the OS signaller (TerminateProcess).
	g := NewGuard()
	if err := g.Signal(p, syscall.SIGKILL); err != nil {
		t.Fatalf("Signal(child, SIGKILL) = %v", err)
	}
	cmd.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := Get(pid)
		if errors.Is(err, ErrGone) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(killed child) = %v; want ErrGone", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if g.Alive(p) {
		t.Errorf("Alive(killed child) = true")
	}
}

func TestWindowsMissing(t *testing.T) {
	// Windows PIDs are multiples of 4; this one is far beyond any in use.
	for _, pid := range []int{0x7ffffffc, -1, 1 << 40} {
		if _, err := Get(pid); !errors.Is(err, ErrGone) {
			t.Errorf("Get(%d) = %v; want ErrGone", pid, err)
		}
	}
}

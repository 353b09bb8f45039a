package procs

// These tests run under Wine through scripts/test-windows.sh: the Guard over
// the OS signaller stops a real Windows child process.

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestWindowsGuardStopsChild(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(SignalName(sig), func(t *testing.T) {
			cmd, _, _ := startHelper(t, "1")
			pid := cmd.Process.Pid
			p, err := Get(pid)
			if err != nil {
				t.Fatal(err)
			}
			g := NewGuard()
			if g.UID != -1 {
				t.Errorf("NewGuard().UID = %d; want -1 on Windows (no uids)", g.UID)
			}
			if !g.Alive(p) {
				t.Fatalf("Guard.Alive(running child) = false")
			}
			if err := g.Signal(p, sig); err != nil {
				t.Fatalf("Guard.Signal(child, %s) = %v", SignalName(sig), err)
			}
			cmd.Wait()
			waitGone(t, pid)
			if g.Alive(p) {
				t.Errorf("Guard.Alive(stopped child) = true")
			}
			if err := g.Signal(p, sig); !errors.Is(err, ErrGone) {
				t.Errorf("Guard.Signal(stopped child) = %v; want ErrGone", err)
			}
		})
	}
}

func TestWindowsGuardRefusesSystem(t *testing.T) {
	g := NewGuard()
	for _, pid := range []int{WindowsIdlePID, WindowsSystemPID} {
		var re *RefusedError
		err := g.Signal(&Process{PID: pid, Name: "System", UID: -1}, syscall.SIGKILL)
		if !errors.As(err, &re) {
			t.Fatalf("Guard.Signal(pid %d) = %v; want a *RefusedError", pid, err)
		}
		note, _ := SystemProcessNote(pid, 0)
		if re.Reason != note.Reason || re.Hint != note.Hint {
			t.Errorf("Guard.Signal(pid %d) refused with %+v; want the SystemProcessNote %+v", pid, re, note)
		}
	}
	var re *RefusedError
	if err := g.Check(&Process{PID: WindowsSystemPID}); !errors.As(err, &re) || !strings.Contains(re.Hint, "netsh http show servicestate") {
		t.Errorf("Guard.Check(pid 4) = %v; want a hint naming netsh http show servicestate", err)
	}
	// Its own process is refused as everywhere, and the refusal comes
	// before any signal.
	self, err := Get(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Signal(self, syscall.SIGKILL); !errors.As(err, &re) {
		t.Errorf("Guard.Signal(self) = %v; want a *RefusedError", err)
	}
}

package procs

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestGetSelf(t *testing.T) {
	p, err := Get(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.PID != os.Getpid() || p.PPID != os.Getppid() {
		t.Errorf("Get(self) pid %d ppid %d; want %d %d", p.PID, p.PPID, os.Getpid(), os.Getppid())
	}
	if p.UID != os.Getuid() || p.User == "" {
		t.Errorf("Get(self) uid %d user %q; want uid %d and a name", p.UID, p.User, os.Getuid())
	}
	if len(p.Cmdline) == 0 || p.Cmdline[0] != os.Args[0] {
		t.Errorf("Get(self).Cmdline = %q; want it to start with %q", p.Cmdline, os.Args[0])
	}
	if d := time.Since(p.Start); d < -2*time.Second || d > time.Hour {
		t.Errorf("Get(self).Start = %v, %v ago; want a moment ago", p.Start, d)
	}
}

func TestGetChildAndGone(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// Until the child has called exec, it is a copy of this process.
	var p *Process
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		p, err = Get(pid)
		if err != nil {
			t.Fatal(err)
		}
		if p.Name == "sleep" && p.Command() == "sleep 60" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(child) name %q command %q; want sleep, \"sleep 60\"", p.Name, p.Command())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := Get(pid); !errors.Is(err, ErrGone) {
		t.Errorf("Get(reaped child) error = %v; want ErrGone", err)
	}
}

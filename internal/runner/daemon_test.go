package runner

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"homeport/internal/daemon"
	"homeport/internal/router"
)

// startDaemon runs a daemon in this process on a free port, with a state
// folder of its own, until the test ends.
func startDaemon(t *testing.T) {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{Port: port, Interval: 100 * time.Millisecond, Ready: func(daemon.Ready) { close(ready) }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the daemon did not stop")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("the daemon ended before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon not ready after 30s")
	}
}

// TestDaemonRoutesCarryTheProject: Daemon{Project} registers its run
// routes with the project, also when it takes over the name from a run
// that died without removing its route; Daemon{} registers none.
func TestDaemonRoutesCarryTheProject(t *testing.T) {
	startDaemon(t)
	ctx := context.Background()
	if err := (Daemon{Project: "shop"}).Add(ctx, "api", 4100, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if err := (Daemon{}).Add(ctx, "solo", 4200, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	// A route of a run that is gone (its pid exited) is taken over.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := daemon.AddRunRoute(ctx, daemon.RunRoute{Name: "web", Port: 4300, PID: dead.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	if err := (Daemon{Project: "shop"}).Add(ctx, "web", 4301, os.Getpid()); err != nil {
		t.Fatalf("taking over web from a run that is gone: %v", err)
	}
	routes, _, err := daemon.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]router.Route{
		"api":  {Name: "api", Port: 4100, Project: "shop"},
		"solo": {Name: "solo", Port: 4200},
		"web":  {Name: "web", Port: 4301, Project: "shop"},
	}
	for _, r := range routes {
		w, ok := want[r.Name]
		if !ok {
			continue
		}
		delete(want, r.Name)
		if r.Port != w.Port || r.Project != w.Project || r.Kind != router.KindRun || r.PID != os.Getpid() {
			t.Errorf("route %s = %+v; want port %d, project %q, kind run, pid %d", r.Name, r, w.Port, w.Project, os.Getpid())
		}
	}
	for name := range want {
		t.Errorf("no route %s", name)
	}
}

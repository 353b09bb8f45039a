package containers

import (
	"context"
	"net"
	"path/filepath"
	"testing"
)

// TestListUnavailable asks engines that are not there: a socket path with
// nothing at it, and a socket file nobody serves. (The private daemon of
// internal/cli's Docker tests checks List against a real engine.)
func TestListUnavailable(t *testing.T) {
	missing := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	_, probs := List(context.Background(), []string{missing})
	if len(probs) != 1 || probs[0].Kind != NoSocket {
		t.Fatalf("List(%s) problems = %v; want one no-socket", missing, probs)
	}
	if r := probs[0].Reason(); r != "container names are missing: no Docker daemon socket at "+missing[len("unix://"):] {
		t.Errorf("Reason() = %q", r)
	}

	dead := filepath.Join(t.TempDir(), "dead.sock")
	ln, err := net.Listen("unix", dead)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	_, probs = List(context.Background(), []string{"unix://" + dead})
	if len(probs) != 1 || probs[0].Kind != NotRunning {
		t.Errorf("List(dead socket) problems = %v; want one not-running", probs)
	}

	_, probs = List(context.Background(), []string{"ssh://me@host"})
	if len(probs) != 1 || probs[0].Kind != Unsupported {
		t.Errorf("List(ssh://) problems = %v; want one unsupported", probs)
	}
}

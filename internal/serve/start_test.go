package serve

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"homeport/internal/ports"
)

func TestStart(t *testing.T) {
	dir := tree(t, map[string]string{"a.txt": "hello"})
	r, err := Start(context.Background(), Options{Dir: dir}, ports.ListenOptions{Hosts: []string{"127.0.0.1"}, Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{URL: "http://" + r.Listeners[0].Addr().String()}
	if got := ts.get(t, "/a.txt"); got.code != 200 || got.body != "hello" {
		t.Errorf("GET /a.txt = %d %q", got.code, got.body)
	}

	// The port it holds is refused to a second Start, typed.
	_, err = Start(context.Background(), Options{Dir: dir}, ports.ListenOptions{Hosts: []string{"127.0.0.1"}, Port: r.Port})
	var pe *ports.PortError
	if !errors.As(err, &pe) || pe.Kind != ports.Held || pe.Port != r.Port {
		t.Errorf("Start on a held port = %v; want a *ports.PortError for port %d", err, r.Port)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	select {
	case err := <-r.Err():
		t.Errorf("Err after Shutdown = %v; want nothing", err)
	default:
	}

	// A folder that cannot be served leaves no listener behind.
	_, err = Start(context.Background(), Options{Dir: dir + "/a.txt"}, ports.ListenOptions{Hosts: []string{"127.0.0.1"}, Port: r.Port})
	if err == nil {
		t.Fatal("Start on a file = nil; want an error")
	}
	ln, err := net.Listen("tcp", r.Listeners[0].Addr().String())
	if err != nil {
		t.Errorf("port %d after a failed Start: %v; want it free", r.Port, err)
	} else {
		ln.Close()
	}
}

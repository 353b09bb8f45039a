//go:build linux

package doctor

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A real listener with backlog 3 and one connection waiting: sock_diag
// reports both numbers.
func TestBacklogLive(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 3); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(sa.(*unix.SockaddrInet4).Port)
	c, err := net.DialTimeout("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	deadline := time.Now().Add(10 * time.Second)
	for {
		qs, err := backlog(port)
		if err != nil {
			t.Fatalf("backlog(%d): %v", port, err)
		}
		want := Queue{Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), Queued: 1, Backlog: 3}
		if len(qs) == 1 && qs[0] == want {
			if qs[0].Full() {
				t.Errorf("queue %+v reported full", qs[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog(%d) = %+v; want [%+v]", port, qs, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestQueueFull(t *testing.T) {
	tests := []struct {
		q    Queue
		want bool
	}{
		{Queue{Queued: 0, Backlog: 0}, false},
		{Queue{Queued: 1, Backlog: 0}, true},
		{Queue{Queued: 128, Backlog: 128}, false},
		{Queue{Queued: 129, Backlog: 128}, true},
	}
	for _, tt := range tests {
		if got := tt.q.Full(); got != tt.want {
			t.Errorf("%+v.Full() = %v; want %v", tt.q, got, tt.want)
		}
	}
}

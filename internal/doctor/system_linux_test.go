//go:build linux

package doctor

import (
	"encoding/binary"
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

func diagRecord(port uint16, queued, backlog uint32) []byte {
	b := make([]byte, 16+72)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], 20)
	m := b[16:]
	m[0] = unix.AF_INET
	m[1] = 10
	binary.BigEndian.PutUint16(m[4:], port)
	copy(m[8:], []byte{127, 0, 0, 1})
	ne.PutUint32(m[56:], queued)
	ne.PutUint32(m[60:], backlog)
	return b
}

func FuzzParseQueues(f *testing.F) {
	done := make([]byte, 20)
	binary.NativeEndian.PutUint32(done, 20)
	binary.NativeEndian.PutUint16(done[4:], 3)
	f.Add(append(diagRecord(3000, 1, 0), done...), uint16(3000))
	f.Add(diagRecord(80, 5, 128)[:50], uint16(0))
	f.Add([]byte{}, uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, port uint16) {
		_, qs, _ := parseQueues(b, port)
		for _, q := range qs {
			if port != 0 && q.Local.Port() != port {
				t.Fatalf("parseQueues kept port %d; asked for %d", q.Local.Port(), port)
			}
		}
	})
}

func TestParseQueues(t *testing.T) {
	done := make([]byte, 20)
	binary.NativeEndian.PutUint32(done, 20)
	binary.NativeEndian.PutUint16(done[4:], 3)
	msg := append(append(diagRecord(3000, 1, 0), diagRecord(3001, 0, 5)...), done...)
	fin, qs, err := parseQueues(msg, 3000)
	if err != nil || !fin || len(qs) != 1 || qs[0].Queued != 1 || qs[0].Backlog != 0 || qs[0].Local.String() != "127.0.0.1:3000" {
		t.Errorf("parseQueues = %v, %+v, %v; want done, [127.0.0.1:3000 1/0], nil", fin, qs, err)
	}
	if _, _, err := parseQueues([]byte{200, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0); err == nil {
		t.Errorf("parseQueues(truncated) = nil error; want one")
	}
}

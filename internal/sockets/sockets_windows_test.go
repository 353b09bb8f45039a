package sockets

// These tests run on Windows, and on Linux under Wine through
// scripts/test-windows.sh (`GOOS=windows go test -exec wine ...`). They open
// real sockets and check that the tables report them.

import (
	"context"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// underWine reports whether the test runs under Wine: Wine's ntdll exports
// wine_get_version, Windows' does not.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// udpSocket binds a UDP socket through the Windows API: Go's
// net.ListenPacket fails under Wine 8.0 (WSAEOPNOTSUPP, 10045, from a socket
// option it sets), and the socket itself is all the test needs.
func udpSocket(t *testing.T, addr netip.AddrPort) netip.AddrPort {
	t.Helper()
	var sa windows.Sockaddr
	family := windows.AF_INET
	if addr.Addr().Is6() {
		family = windows.AF_INET6
		sa = &windows.SockaddrInet6{Addr: addr.Addr().As16(), Port: int(addr.Port())}
	} else {
		sa = &windows.SockaddrInet4{Addr: addr.Addr().As4(), Port: int(addr.Port())}
	}
	fd, err := windows.Socket(family, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
	if err != nil {
		t.Fatalf("socket(udp %s): %v", addr, err)
	}
	t.Cleanup(func() { windows.Closesocket(fd) })
	if err := windows.Bind(fd, sa); err != nil {
		t.Fatalf("bind(udp %s): %v", addr, err)
	}
	got, err := windows.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname(udp %s): %v", addr, err)
	}
	switch got := got.(type) {
	case *windows.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(got.Addr), uint16(got.Port))
	case *windows.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(got.Addr), uint16(got.Port))
	}
	t.Fatalf("getsockname(udp %s) = %T", addr, got)
	return netip.AddrPort{}
}

func tcpListen(t *testing.T, network, addr string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// checkOwner accepts the test process as the owner, or, under Wine only, no
// owner: Wine 8.0 reports PID 0 for every socket.
func checkOwner(t *testing.T, s *Socket) {
	t.Helper()
	if len(s.Owners) == 0 && underWine() {
		return
	}
	if len(s.Owners) != 1 || s.Owners[0].PID != os.Getpid() {
		t.Errorf("%s %s: owners %+v; want this process (pid %d)", s.Proto, s.Local, s.Owners, os.Getpid())
		return
	}
	if s.Owners[0].Name == "" {
		t.Errorf("%s %s: owner without a name: %+v", s.Proto, s.Local, s.Owners[0])
	}
}

func find(socks []Socket, p Proto, local netip.AddrPort) *Socket {
	for i := range socks {
		if socks[i].Proto == p && socks[i].Local == local {
			return &socks[i]
		}
	}
	return nil
}

// testDeadline bounds a test's inventories. Wine reads the host's socket
// tables through /proc and needs seconds per call when the machine has
// thousands of sockets (other tests running beside these); the deadline is
// there for a hang, not for speed.
const testDeadline = 5 * time.Minute

func TestWindowsListeners(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	type want struct {
		proto Proto
		local netip.AddrPort
		state State
	}
	var wants []want
	add := func(p Proto, a netip.AddrPort, st State) { wants = append(wants, want{p, a, st}) }
	add(TCP, tcpListen(t, "tcp4", "127.0.0.1:0"), Listen)
	add(TCP, tcpListen(t, "tcp6", "[::1]:0"), Listen)
	add(UDP, udpSocket(t, netip.MustParseAddrPort("127.0.0.1:0")), Close)
	add(UDP, udpSocket(t, netip.MustParseAddrPort("[::1]:0")), Close)
	for _, w := range wants {
		t.Logf("opened %s %s", w.proto, w.local)
	}

	snap, err := Take(ctx, Filter{})
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	if snap.Source != "GetExtendedTcpTable/GetExtendedUdpTable" {
		t.Errorf("Source = %q", snap.Source)
	}
	for _, w := range wants {
		s := find(snap.Sockets, w.proto, w.local)
		if s == nil {
			t.Errorf("%s %s not in the inventory of %d sockets", w.proto, w.local, len(snap.Sockets))
			continue
		}
		if s.State != w.state {
			t.Errorf("%s %s: state %v; want %v", w.proto, w.local, s.State, w.state)
		}
		if s.UID != -1 {
			t.Errorf("%s %s: uid %d; want -1 (Windows has no uids)", w.proto, w.local, s.UID)
		}
		checkOwner(t, s)
	}

	// Asking for one port returns exactly that port's sockets.
	one := wants[0].local.Port()
	socks, err := List(ctx, Filter{Port: one})
	if err != nil {
		t.Fatalf("List(port %d): %v", one, err)
	}
	if len(socks) == 0 {
		t.Fatalf("List(port %d) found nothing", one)
	}
	for _, s := range socks {
		if s.Port() != one {
			t.Errorf("List(port %d) returned %s %s", one, s.Proto, s.Local)
		}
	}
	// And the UDP filter only UDP sockets.
	socks, err = List(ctx, Filter{UDP: true, NoOwners: true})
	if err != nil {
		t.Fatalf("List(udp): %v", err)
	}
	if find(socks, UDP, wants[2].local) == nil || slices.ContainsFunc(socks, func(s Socket) bool { return s.Proto != UDP }) {
		t.Errorf("List(udp) = %d sockets; want only UDP ones, among them %s", len(socks), wants[2].local)
	}
}

func TestWindowsConnection(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
			defer cancel()
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					accepted <- c
				}
				close(accepted)
			}()
			c, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if s, ok := <-accepted; ok {
				defer s.Close()
			}
			local := c.LocalAddr().(*net.TCPAddr).AddrPort()
			remote := c.RemoteAddr().(*net.TCPAddr).AddrPort()

			// Without All, the connection is not listed.
			socks, err := List(ctx, Filter{TCP: true, Port: local.Port()})
			if err != nil {
				t.Fatal(err)
			}
			if s := find(socks, TCP, local); s != nil {
				t.Errorf("List without All lists the connection %s -> %s (%v)", s.Local, s.Remote, s.State)
			}
			socks, err = List(ctx, Filter{TCP: true, All: true, Port: local.Port()})
			if err != nil {
				t.Fatal(err)
			}
			s := find(socks, TCP, local)
			if s == nil {
				t.Fatalf("connection %s -> %s not listed: %v", local, remote, socks)
			}
			if s.State != Established || s.Remote != remote {
				t.Errorf("connection %s: state %v remote %s; want ESTAB %s", local, s.State, s.Remote, remote)
			}
			checkOwner(t, s)
		})
	}
}

// TestWindowsBufferGrows opens more listeners than the first buffer holds
// (16 KiB is 682 IPv4 rows) and checks that every one is listed.
func TestWindowsBufferGrows(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1500 sockets")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	const n = 1500
	want := make(map[netip.AddrPort]bool, n)
	for range n {
		want[tcpListen(t, "tcp4", "127.0.0.1:0")] = true
	}
	for _, first := range []int{winFirstBuf, 4} {
		w := &windowsImpl{bufSize: first}
		socks, _, _, err := w.inventory(ctx, &Filter{TCP: true})
		if err != nil {
			t.Fatalf("inventory (first buffer %d bytes): %v", first, err)
		}
		if w.grows == 0 {
			t.Errorf("first buffer %d bytes: the buffer never grew, yet %d listeners need %d bytes", first, n, n*winTCP4RowSize)
		}
		found := 0
		for _, s := range socks {
			if want[s.Local] && s.State == Listen {
				found++
			}
		}
		if found != n {
			t.Errorf("first buffer %d bytes: %d of our %d listeners listed (of %d sockets)", first, found, n, len(socks))
		}
	}
}

// TestWindowsPIDZero checks the Wine exception itself: elsewhere a socket
// the test opened must name this process.
func TestWindowsPIDZero(t *testing.T) {
	local := tcpListen(t, "tcp4", "127.0.0.1:0")
	w := newImpl().(*windowsImpl)
	socks, _, _, err := w.inventory(context.Background(), &Filter{TCP: true, Port: local.Port()})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(socks, func(s Socket) bool { return s.Local == local })
	if i < 0 {
		t.Fatalf("%s not listed", local)
	}
	pid := w.pids[i]
	switch {
	case pid == uint32(os.Getpid()):
	case pid == 0 && underWine():
		t.Logf("under Wine: pid 0 for %s", local)
	default:
		t.Errorf("%s: pid %d; want %d", local, pid, os.Getpid())
	}
}

package doctor

import (
	"context"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeport/internal/sockets"
)

// reserve binds ap without listening, so that no other process can take it
// while a test expects its connections to be refused (a bound socket that
// does not listen refuses them). It reports false when ap is taken.
func reserve(t *testing.T, ap netip.AddrPort) bool {
	t.Helper()
	var family int
	var sa syscall.Sockaddr
	if ap.Addr().Is4() {
		family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		family, sa = syscall.AF_INET6, &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return false
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return true
}

// nodeReserving starts nodeListen on host and makes sure the port is
// nobody else's on the other loopback family, so that a refusal there is
// Node's doing. For 127.0.0.1 or ::1 it reserves the other address; an
// IPv6-only [::] socket may be given a port that a 127.0.0.1 listener
// already holds (the two do not conflict), so there the inventory must show
// no other listener. It returns Node's pid, address and port.
func nodeReserving(t *testing.T, args ...string) (int, string, int) {
	t.Helper()
	for range 10 {
		pid, line := nodeServer(t, append([]string{"-e", nodeListen}, args...)...)
		addr, port := nodeAddr(t, line)
		if addr == "::" {
			if soleListener(t, pid, port) {
				return pid, addr, port
			}
			t.Logf("port %d is shared with another listener; again", port)
			continue
		}
		other := netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port))
		if strings.Contains(addr, ":") {
			other = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
		}
		if reserve(t, other) {
			return pid, addr, port
		}
		t.Logf("%s was taken meanwhile; again", other)
	}
	t.Fatal("no port whose other loopback address stayed free")
	return 0, "", 0
}

// soleListener reports whether pid is the only owner of TCP listeners on
// port.
func soleListener(t *testing.T, pid, port int) bool {
	t.Helper()
	socks, err := sockets.List(t.Context(), sockets.Filter{Port: uint16(port), TCP: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range socks {
		if !s.State.Listening() {
			continue
		}
		if len(s.Owners) != 1 || s.Owners[0].PID != pid {
			return false
		}
	}
	return true
}

// The family fix, against what real Node does: server.listen(port,
// "localhost") binds the one address localhost resolves to first, so
// "listen on localhost" is not the fix; an IPv6-only [::] socket needs
// IPV6_V6ONLY turned off, which listening on "::" again does not do.
func TestFamilyFixLiveNode(t *testing.T) {
	t.Run("localhost binds one family", func(t *testing.T) {
		pid, addr, port := nodeReserving(t, "localhost")
		other := "[::1]"
		if strings.Contains(addr, ":") {
			other = "127.0.0.1"
		}
		env := System()
		ownInventory(env, pid)
		target := other + ":" + itoa(port)
		rep, _ := Diagnose(context.Background(), env, mustTarget(t, target), &Options{Timeout: 2 * time.Second})
		f := findingByID(rep, IDFamilyMismatch)
		if f == nil {
			t.Fatalf("doctor %s (node on %s) findings = %v; want %s", target, addr, ids(rep), IDFamilyMismatch)
		}
		checkNames(t, f, "too: two listeners", "node (pid "+itoa(pid)+")")
		if !strings.Contains(f.Fix, `"localhost" is not enough`) {
			t.Errorf("fix = %q; want it to say that the host \"localhost\" does not fix it", f.Fix)
		}
		if strings.Contains(f.Evidence[0], "resolves to") {
			t.Errorf("evidence = %q; an IP literal resolves to nothing", f.Evidence[0])
		}
	})
	t.Run("IPv6-only [::]", func(t *testing.T) {
		pid, _, port := nodeReserving(t, "::", "v6only")
		env := System()
		ownInventory(env, pid)
		target := "127.0.0.1:" + itoa(port)
		rep, _ := Diagnose(context.Background(), env, mustTarget(t, target), &Options{Timeout: 2 * time.Second})
		f := findingByID(rep, IDFamilyMismatch)
		if f == nil {
			t.Fatalf("doctor %s (node on [::] v6only) findings = %v; want %s", target, ids(rep), IDFamilyMismatch)
		}
		checkNames(t, f, "turn IPV6_V6ONLY off", "node (pid "+itoa(pid)+")", "IPv6-only", "[::]:"+itoa(port))
		if strings.Contains(f.Fix, `host "::"`) {
			t.Errorf("fix = %q; listening on \"::\" is what the server does already", f.Fix)
		}
	})
	t.Run("dual-stack [::] takes both", func(t *testing.T) {
		pid, line := nodeServer(t, "-e", nodeListen, "::")
		_, port := nodeAddr(t, line)
		env := System()
		ownInventory(env, pid)
		rep, _ := Diagnose(context.Background(), env, mustTarget(t, "127.0.0.1:"+itoa(port)), &Options{Timeout: 2 * time.Second})
		if !rep.OK {
			t.Errorf("doctor 127.0.0.1:%d (node on \"::\") = %v; want healthy: Node's \"::\" is dual-stack", port, ids(rep))
		}
	})
}

package ports

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"homeport/internal/sockets"
)

// holdTCP listens on 127.0.0.1:port as another program would (port 0: any)
// and returns the port, or 0 when the port cannot be had.
func holdTCP(t *testing.T, port int) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return 0
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// holdRun holds n consecutive ports on 127.0.0.1 and returns the first.
func holdRun(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		lns := []net.Listener{}
		first := 0
		for i := 0; i < n; i++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(first+i)))
			if err != nil {
				break
			}
			if i == 0 {
				first = ln.Addr().(*net.TCPAddr).Port
			}
			lns = append(lns, ln)
		}
		if len(lns) == n {
			t.Cleanup(func() {
				for _, ln := range lns {
					ln.Close()
				}
			})
			return first
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatalf("could not hold %d consecutive ports", n)
	return 0
}

func closeAll(l *Listening) {
	for _, ln := range l.Listeners {
		ln.Close()
	}
}

// needInventory skips when this machine's socket inventory cannot name
// owners.
func needInventory(t *testing.T) {
	t.Helper()
	if _, err := sockets.Take(context.Background(), sockets.Filter{Port: 1}); err != nil {
		t.Skipf("socket inventory unavailable: %v", err)
	}
}

func ownedByUs(r Refusal) bool {
	return slices.ContainsFunc(r.Owners, func(o Owner) bool { return o.PID == os.Getpid() && o.Name != "" })
}

func TestListenAnyPortOnBothLoopbacks(t *testing.T) {
	l, err := Listen(context.Background(), ListenOptions{Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(l)
	if l.Port == 0 || len(l.Listeners)+len(l.Absent) != 2 || len(l.Passed) != 0 {
		t.Fatalf("Listen(port 0) = %+v; want one port on both loopbacks", l)
	}
	for _, ln := range l.Listeners {
		if got := ln.Addr().(*net.TCPAddr).Port; got != l.Port {
			t.Errorf("listener %v; want port %d", ln.Addr(), l.Port)
		}
	}
	if !slices.Contains(LoopbackHosts, l.Listeners[0].Addr().(*net.TCPAddr).IP.String()) {
		t.Errorf("first listener on %v; want a loopback", l.Listeners[0].Addr())
	}
}

func TestListenHeldNamesTheHolder(t *testing.T) {
	needInventory(t)
	port := holdTCP(t, 0)
	_, err := Listen(context.Background(), ListenOptions{Port: port})
	var pe *PortError
	if !errors.As(err, &pe) {
		t.Fatalf("Listen on held port %d = %v; want a *PortError", port, err)
	}
	if pe.Port != port || pe.Kind != Held || !ownedByUs(pe.Refusal) || pe.Exhausted || len(pe.Passed) != 0 {
		t.Errorf("Listen on held port = %+v; want Held by pid %d", pe, os.Getpid())
	}
	// The port is free again for the holder: nothing was left open on it.
	if l, err := Listen(context.Background(), ListenOptions{Hosts: []string{"::1"}, Port: port}); err == nil {
		closeAll(l)
	} else if !errors.As(err, &pe) {
		t.Errorf("Listen on [::1]:%d = %v", port, err)
	}
}

func TestListenMovesPastHeldPorts(t *testing.T) {
	needInventory(t)
	first := holdRun(t, 2)
	l, err := Listen(context.Background(), ListenOptions{Port: first, Move: true})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(l)
	if l.Port < first+2 || len(l.Passed) < 2 || len(l.Passed) != l.Port-first {
		t.Fatalf("Listen(%d, Move) = port %d, passed %+v; want a later port and every port before it passed", first, l.Port, l.Passed)
	}
	for i, r := range l.Passed[:2] {
		if r.Port != first+i || r.Kind != Held || !ownedByUs(r) {
			t.Errorf("Passed[%d] = %+v; want port %d held by pid %d", i, r, first+i, os.Getpid())
		}
	}
}

func TestListenUnknownHolderInDynamicRange(t *testing.T) {
	port := holdTCP(t, 0)
	blind := func(context.Context, sockets.Filter) (*sockets.Snapshot, error) { return nil, sockets.ErrNotSupported }
	tests := []struct {
		name string
		dyn  Range
		want Range
	}{
		{"inside", Range{uint16(port), uint16(port)}, Range{uint16(port), uint16(port)}},
		{"outside", Range{1, 2}, Range{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Listen(context.Background(), ListenOptions{Hosts: []string{"127.0.0.1"}, Port: port, Inventory: blind, Reserved: FixedReserved{DynamicRange: tt.dyn}})
			var pe *PortError
			if !errors.As(err, &pe) {
				t.Fatalf("Listen = %v; want *PortError", err)
			}
			want := Refusal{Port: port, Kind: Held, Dynamic: tt.want}
			if diff := cmp.Diff(want, pe.Refusal); diff != "" {
				t.Errorf("refusal (-want +got):\n%s", diff)
			}
			if got, want := pe.Error(), "port "+strconv.Itoa(port)+" is taken"; got != want {
				t.Errorf("Error() = %q; want %q", got, want)
			}
		})
	}
}

// An excluded range is passed in one step. The first port is held so that
// the bind fails on Linux too; the provider says the range is excluded.
func TestListenExcludedRange(t *testing.T) {
	first := holdRun(t, 1)
	ex := Exclusion{Range: Range{uint16(first), uint16(first + 2)}}
	res := FixedReserved{Exclusions: map[string][]Exclusion{"tcp": {ex}}}

	_, err := Listen(context.Background(), ListenOptions{Hosts: []string{"127.0.0.1"}, Port: first, Reserved: res})
	var pe *PortError
	if !errors.As(err, &pe) || pe.Kind != Excluded || pe.Exclusion != ex || pe.Port != first {
		t.Fatalf("Listen on an excluded port = %#v; want Excluded by %v", err, ex)
	}

	l, err := Listen(context.Background(), ListenOptions{Hosts: []string{"127.0.0.1"}, Port: first, Move: true, Reserved: res})
	if err != nil {
		if errors.As(err, &pe) && pe.Kind == Held {
			t.Skipf("port %d after the range is taken by someone else", first+3)
		}
		t.Fatal(err)
	}
	defer closeAll(l)
	// The range goes in one step. A port after it that another program
	// holds right now (tests run side by side) is passed as held.
	want := []Refusal{{Port: first, Kind: Excluded, Exclusion: ex}}
	for _, r := range l.Passed[min(1, len(l.Passed)):] {
		if r.Kind == Held && r.Port == first+2+len(want) {
			want = append(want, r)
		}
	}
	if diff := cmp.Diff(want, l.Passed); diff != "" || l.Port != first+2+len(want) {
		t.Errorf("Listen(Move) = port %d; want %d, passed (-want +got):\n%s", l.Port, first+2+len(want), diff)
	}
}

func TestListenExhausted(t *testing.T) {
	if holdTCP(t, 65535) == 0 {
		t.Skip("port 65535 is in use here")
	}
	_, err := Listen(context.Background(), ListenOptions{Hosts: []string{"127.0.0.1"}, Port: 65535, Move: true})
	var pe *PortError
	if !errors.As(err, &pe) || !pe.Exhausted || pe.Port != 65535 {
		t.Fatalf("Listen(65535, Move) with 65535 held = %v; want Exhausted", err)
	}
}

func TestListenAbsentHost(t *testing.T) {
	// 192.0.2.1 (TEST-NET-1) is no address of this machine: skipped once
	// another host listens, an error alone. No packet is sent.
	l, err := Listen(context.Background(), ListenOptions{Hosts: []string{"127.0.0.1", "192.0.2.1"}, Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	closeAll(l)
	if len(l.Listeners) != 1 || !slices.Equal(l.Absent, []string{"192.0.2.1"}) {
		t.Errorf("Listen = %+v; want 127.0.0.1 only and 192.0.2.1 absent", l)
	}
	_, err = Listen(context.Background(), ListenOptions{Hosts: []string{"192.0.2.1"}, Port: 0})
	var pe *PortError
	if err == nil || errors.As(err, &pe) {
		t.Errorf("Listen on 192.0.2.1 alone = %v; want a plain error", err)
	}
}

func TestRefusalString(t *testing.T) {
	tests := []struct {
		name string
		r    Refusal
		want string
	}{
		{"one owner", Refusal{Port: 62893, Kind: Held, Owners: []Owner{{4242, "node"}}}, "port 62893 is held by node (pid 4242)"},
		{"two owners", Refusal{Port: 80, Kind: Held, Owners: []Owner{{1, "nginx"}, {2, "nginx"}}}, "port 80 is held by nginx (pid 1), nginx (pid 2)"},
		{"unknown", Refusal{Port: 3000, Kind: Held}, "port 3000 is taken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.String(); got != tt.want {
				t.Errorf("%+v.String() = %q; want %q", tt.r, got, tt.want)
			}
		})
	}
	ex := Refusal{Port: 50010, Kind: Excluded, Exclusion: Exclusion{Range: Range{50000, 50059}}}
	if got, want := ex.String(), ex.Exclusion.Explain(50010); got != want {
		t.Errorf("excluded String() = %q; want %q", got, want)
	}
}

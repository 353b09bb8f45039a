package sockets

import (
	"context"
	"homeport/internal/procs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

func TestTakes(t *testing.T) {
	v4, v6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	tests := []struct {
		name   string
		local  string
		v6only bool
		a      netip.Addr
		want   bool
	}{
		{"v4 loopback takes itself", "127.0.0.1:1", false, v4, true},
		{"v4 loopback refuses ::1", "127.0.0.1:1", false, v6, false},
		{"v4 loopback refuses another loopback", "127.0.0.1:1", false, netip.MustParseAddr("127.0.0.2"), false},
		{"v4 wildcard takes v4", "0.0.0.0:1", false, v4, true},
		{"v4 wildcard takes a LAN address", "0.0.0.0:1", false, netip.MustParseAddr("198.18.0.5"), true},
		{"v4 wildcard refuses v6", "0.0.0.0:1", false, v6, false},
		{"dual-stack takes v4", "[::]:1", false, v4, true},
		{"dual-stack takes v6", "[::]:1", false, v6, true},
		{"v6-only refuses v4", "[::]:1", true, v4, false},
		{"v6-only takes v6", "[::]:1", true, v6, true},
		{"v6 loopback takes itself", "[::1]:1", true, v6, true},
		{"mapped local is v4", "[::ffff:127.0.0.1]:1", false, v4, true},
		{"mapped target is v4", "127.0.0.1:1", false, netip.MustParseAddr("::ffff:127.0.0.1"), true},
		{"zone of the target ignored", "[fe80::1]:1", false, netip.MustParseAddr("fe80::1%eth0"), true},
		{"mapped wildcard is the v4 wildcard", "[::ffff:0.0.0.0]:1", false, v6, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Socket{Proto: TCP, State: Listen, Local: netip.MustParseAddrPort(tt.local), V6Only: tt.v6only}
			if got := s.Takes(tt.a); got != tt.want {
				t.Errorf("Socket{%s v6only=%v}.Takes(%s) = %v; want %v", tt.local, tt.v6only, tt.a, got, tt.want)
			}
		})
	}
}

func TestFormatAddr(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"v4", "127.0.0.1:3000", "127.0.0.1:3000"},
		{"v6 in brackets", "[::1]:3000", "[::1]:3000"},
		{"v6 wildcard", "[::]:53", "[::]:53"},
		{"mapped as v4", "[::ffff:192.0.2.1]:80", "192.0.2.1:80"},
		{"zone kept", "[fe80::1%eth0]:22", "[fe80::1%eth0]:22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatAddr(netip.MustParseAddrPort(tt.in)); got != tt.want {
				t.Errorf("FormatAddr(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFilterMatch(t *testing.T) {
	pg := procs.Process{PID: 811, Name: "postgres", UID: 101, User: "postgres", Cmdline: []string{"/usr/lib/postgresql/15/bin/postgres", "-D", "/data"}}
	node := procs.Process{PID: 4242, Name: "node", UID: 1000, User: "dev", Cmdline: []string{"node", "Server.js"}}
	loop := Socket{Proto: TCP, State: Listen, Local: netip.MustParseAddrPort("127.0.0.1:3000"), UID: 1000, Owners: []procs.Process{node}}
	wild := Socket{Proto: TCP, State: Listen, Local: netip.MustParseAddrPort("[::]:5432"), UID: 101, Owners: []procs.Process{pg}}
	unseen := Socket{Proto: UDP, State: Close, Local: netip.MustParseAddrPort("0.0.0.0:53"), UID: 0}
	tests := []struct {
		name string
		f    Filter
		s    Socket
		want bool
	}{
		{"zero filter takes all", Filter{}, unseen, true},
		{"pid matches", Filter{PIDs: []int{4242}}, loop, true},
		{"pid does not", Filter{PIDs: []int{1}}, loop, false},
		{"pid needs an owner", Filter{PIDs: []int{1}}, unseen, false},
		{"one of the ports", Filter{Ports: []uint16{22, 3000}}, loop, true},
		{"none of the ports", Filter{Ports: []uint16{22, 80}}, loop, false},
		{"exposed wildcard", Filter{Exposed: true}, wild, true},
		{"exposed refuses loopback", Filter{Exposed: true}, loop, false},
		{"user by owner's name", Filter{User: "dev"}, loop, true},
		{"user by uid", Filter{User: "101"}, wild, true},
		{"user by the socket's uid without owners", Filter{User: "0"}, unseen, true},
		{"other user", Filter{User: "postgres"}, loop, false},
		{"process by name, any case", Filter{Process: "NODE"}, loop, true},
		{"process by command line", Filter{Process: "server.js"}, loop, true},
		{"process by path", Filter{Process: "postgresql/15"}, wild, true},
		{"process needs an owner", Filter{Process: "dnsmasq"}, unseen, false},
		{"all parts must hold", Filter{Process: "node", Exposed: true}, loop, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(&tt.s); got != tt.want {
				t.Errorf("%+v.Match(%s) = %v; want %v", tt.f, tt.s.Local, got, tt.want)
			}
		})
	}
}

// Take applies the filter's late parts to a real inventory.
func TestTakeSelectsReal(t *testing.T) {
	a, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pa, pb := uint16(a.Addr().(*net.TCPAddr).Port), uint16(b.Addr().(*net.TCPAddr).Port)
	me := filepath.Base(os.Args[0])
	ports := func(f Filter) (out []uint16) {
		t.Helper()
		socks, err := List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range socks {
			if s.Port() == pa || s.Port() == pb {
				out = append(out, s.Port())
			}
		}
		slices.Sort(out)
		return out
	}
	want := []uint16{min(pa, pb), max(pa, pb)}
	if got := ports(Filter{TCP: true, Ports: []uint16{pa, pb}}); !slices.Equal(got, want) {
		t.Errorf("Ports %d,%d: got %v; want %v", pa, pb, got, want)
	}
	if got := ports(Filter{TCP: true, Ports: []uint16{pa, pb}, Exposed: true}); !slices.Equal(got, []uint16{pb}) {
		t.Errorf("Exposed: got %v; want [%d]", got, pb)
	}
	if got := ports(Filter{TCP: true, Process: me, NoOwners: true}); !slices.Equal(got, want) {
		t.Errorf("Process %q (owners read though NoOwners): got %v; want %v", me, got, want)
	}
	if got := ports(Filter{TCP: true, Process: me + "-not"}); len(got) != 0 {
		t.Errorf("Process %q-not: got %v; want none", me, got)
	}
	if got := ports(Filter{TCP: true, Port: pa, User: strconv.Itoa(os.Geteuid())}); !slices.Equal(got, []uint16{pa}) {
		t.Errorf("User %d: got %v; want [%d]", os.Geteuid(), got, pa)
	}
}

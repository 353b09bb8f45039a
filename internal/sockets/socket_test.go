package sockets

import (
	"net/netip"
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

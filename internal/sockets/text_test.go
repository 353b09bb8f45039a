package sockets

import (
	"net/netip"
	"testing"

	"homeport/internal/procs"
)

func TestExposureText(t *testing.T) {
	tests := []struct {
		name   string
		local  string
		v6only bool
		want   string
	}{
		{"v4 loopback", "127.0.0.1:3000", false, "loopback"},
		{"v6 loopback", "[::1]:3000", true, "loopback"},
		{"v4 wildcard", "0.0.0.0:3000", false, "all interfaces (v4)"},
		{"dual-stack wildcard", "[::]:3000", false, "all interfaces (v4+v6)"},
		{"v6-only wildcard", "[::]:3000", true, "all interfaces (v6)"},
		{"one address", "198.18.0.5:3000", false, "198.18.0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Socket{Local: netip.MustParseAddrPort(tt.local), V6Only: tt.v6only}
			if got := s.ExposureText(); got != tt.want {
				t.Errorf("ExposureText(%q) = %q; want %q", tt.local, got, tt.want)
			}
		})
	}
}

func TestOwnerTexts(t *testing.T) {
	node := procs.Process{PID: 4242, Name: "node", User: "dev", Cmdline: []string{"node", "server.js"}}
	worker := procs.Process{PID: 4243, Name: "node", User: "dev"}
	nameless := procs.Process{PID: 7}
	tests := []struct {
		name                       string
		s                          Socket
		pids, names, user, command string
	}{
		{"no owner, unknown uid", Socket{UID: -1}, "-", "-", "", ""},
		{"one owner", Socket{UID: 1000, Owners: []procs.Process{node}}, "4242", "node", "dev", "node server.js"},
		{"forked workers", Socket{Owners: []procs.Process{node, worker}}, "4242,4243", "node", "dev", "node server.js"},
		{"nameless owner", Socket{UID: -1, Owners: []procs.Process{nameless}}, "7", "?", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.PIDsText(); got != tt.pids {
				t.Errorf("PIDsText() = %q; want %q", got, tt.pids)
			}
			if got := tt.s.NamesText(); got != tt.names {
				t.Errorf("NamesText() = %q; want %q", got, tt.names)
			}
			if got := tt.s.UserText(); got != tt.user {
				t.Errorf("UserText() = %q; want %q", got, tt.user)
			}
			if got := tt.s.CommandText(); got != tt.command {
				t.Errorf("CommandText() = %q; want %q", got, tt.command)
			}
		})
	}
	// Without an owner the uid names the user.
	if got := (&Socket{UID: 0}).UserText(); got != "root" && got != "0" {
		t.Errorf("UserText() of uid 0 = %q; want root", got)
	}
}

package sockets

import (
	"slices"
	"strconv"
	"strings"

	"homeport/internal/procs"
)

// The texts every surface shows for a socket (the ports table, who, kill,
// homeport top), kept in one place so that they read the same everywhere.

// ExposureText says who can reach the socket: "loopback", "all interfaces"
// with the families it takes ("(v4)", "(v6)", "(v4+v6)" for a dual-stack
// wildcard), or the one address it is bound to.
func (s *Socket) ExposureText() string {
	switch s.Exposure() {
	case Loopback:
		return "loopback"
	case AllInterfaces:
		switch {
		case s.DualStack():
			return "all interfaces (v4+v6)"
		case s.Local.Addr().Is6():
			return "all interfaces (v6)"
		default:
			return "all interfaces (v4)"
		}
	default:
		return s.Local.Addr().String()
	}
}

// PIDsText lists the owners' pids, "4242" or "4242,4243"; "-" when no owner
// could be seen.
func (s *Socket) PIDsText() string {
	if len(s.Owners) == 0 {
		return "-"
	}
	parts := make([]string, len(s.Owners))
	for i, p := range s.Owners {
		parts[i] = strconv.Itoa(p.PID)
	}
	return strings.Join(parts, ",")
}

// NamesText lists the owners' distinct names ("?" for a nameless one); "-"
// when no owner could be seen.
func (s *Socket) NamesText() string {
	if len(s.Owners) == 0 {
		return "-"
	}
	var names []string
	for _, p := range s.Owners {
		n := p.Name
		if n == "" {
			n = "?"
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// UserText names the socket's user: its first owner's, else the socket's
// uid's; "" when neither is known.
func (s *Socket) UserText() string {
	for _, p := range s.Owners {
		if p.User != "" {
			return p.User
		}
	}
	if s.UID >= 0 {
		return procs.UserName(s.UID)
	}
	return ""
}

// CommandText is the first owner's command line; "" without an owner.
func (s *Socket) CommandText() string {
	if len(s.Owners) == 0 {
		return ""
	}
	return s.Owners[0].Command()
}

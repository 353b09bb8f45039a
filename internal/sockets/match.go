package sockets

import (
	"slices"
	"strconv"
	"strings"

	"homeport/internal/procs"
)

// selects reports whether f has parts that Match applies.
func (f *Filter) selects() bool {
	return len(f.PIDs) > 0 || len(f.Ports) > 0 || f.Exposed || f.User != "" || f.Process != ""
}

// Match reports whether s passes the parts of f that Take applies after the
// backend has answered: PIDs, Ports, Exposed, User and Process. Protocol,
// state and Port are the backend's.
func (f *Filter) Match(s *Socket) bool {
	switch {
	case len(f.PIDs) > 0 && !slices.ContainsFunc(s.Owners, func(p procs.Process) bool { return slices.Contains(f.PIDs, p.PID) }):
		return false
	case len(f.Ports) > 0 && !slices.Contains(f.Ports, s.Port()):
		return false
	case f.Exposed && !s.Exposed():
		return false
	case f.User != "" && !s.OfUser(f.User):
		return false
	case f.Process != "" && !s.OwnedBy(f.Process):
		return false
	}
	return true
}

// OfUser reports whether the socket is user's, a name or a uid: the user
// that created it, or one of its owners'.
func (s *Socket) OfUser(user string) bool {
	if uid, err := strconv.Atoi(user); err == nil {
		return s.UID == uid || slices.ContainsFunc(s.Owners, func(p procs.Process) bool { return p.UID == uid })
	}
	if s.UID >= 0 && procs.UserName(s.UID) == user {
		return true
	}
	return slices.ContainsFunc(s.Owners, func(p procs.Process) bool { return p.User == user })
}

// OwnedBy reports whether an owner's name or command line contains name, in
// any case.
func (s *Socket) OwnedBy(name string) bool {
	name = strings.ToLower(name)
	return slices.ContainsFunc(s.Owners, func(p procs.Process) bool {
		return strings.Contains(strings.ToLower(p.Name), name) || strings.Contains(strings.ToLower(p.Command()), name)
	})
}

package router

import (
	"net/netip"
	"strings"

	"homeport/internal/httpguard"
)

// Target is whom a request's Host header addresses on the daemon's port.
type Target int

const (
	// TargetForeign is any other name: a page whose DNS name was rebound to
	// 127.0.0.1, or a typo. It gets 403, never a default backend.
	TargetForeign Target = iota
	// TargetDashboard is "localhost" or a loopback literal (127.0.0.1, [::1]).
	TargetDashboard
	// TargetRoute is NAME.localhost: the route NAME, known or not.
	TargetRoute
)

func (t Target) String() string {
	switch t {
	case TargetDashboard:
		return "dashboard"
	case TargetRoute:
		return "route"
	default:
		return "foreign"
	}
}

// ParseHost reads a Host header value ("api.localhost:62893",
// "API.LOCALHOST.", "[::1]:62893") by httpguard's rules (port dropped, case
// folded, one trailing dot dropped) and says whom it addresses. For TargetRoute it
// also returns the name: the part before ".localhost", lower case. That name
// is not checked against ParseName: "a.b.localhost" or "my_app.localhost" is
// still a loopback name, so it is answered (404, no such route), not refused.
func ParseHost(host string) (Target, string) {
	name, ok := httpguard.Hostname(host)
	if !ok {
		return TargetForeign, ""
	}
	if name == "localhost" {
		return TargetDashboard, ""
	}
	if label, ok := strings.CutSuffix(name, ".localhost"); ok {
		return TargetRoute, label
	}
	if a, err := netip.ParseAddr(name); err == nil && a.Unmap().IsLoopback() {
		return TargetDashboard, ""
	}
	return TargetForeign, ""
}

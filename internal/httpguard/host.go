// Package httpguard holds the checks every homeport HTTP surface makes before
// it does anything else: the Host allow-list that defeats DNS rebinding.
//
// A browser on the developer's machine will happily send requests to
// 127.0.0.1 on behalf of any web page whose DNS name was rebound to it; the
// only thing that gives such a request away is its Host header, which still
// carries the attacker's name. Every handler is therefore wrapped in Hosts,
// which answers 403 to any Host that is not a loopback name or an address the
// user asked for explicitly (the LAN address of `serve --lan`).
package httpguard

import (
	"net/http"
	"net/netip"
	"strings"

	"homeport/internal/ports"
)

// Hosts is an allow-list of Host header values. The zero value allows the
// loopback names only: "localhost", any "*.localhost" (RFC 6761 reserves them
// for loopback), 127.0.0.0/8 and [::1], each with or without a port, in any
// case and with or without one trailing dot.
type Hosts struct {
	names map[string]bool
	addrs map[netip.Addr]bool
}

// NewHosts returns an allow-list of the loopback names plus extra, which may be
// names ("myhost.lan") or IP literals ("192.168.1.20", "fe80::1", "[fe80::1]"),
// with or without a port. Extra entries that cannot be a host are ignored.
func NewHosts(extra ...string) *Hosts {
	h := &Hosts{names: map[string]bool{}, addrs: map[netip.Addr]bool{}}
	for _, e := range extra {
		h.Add(e)
	}
	return h
}

// Add allows one more host. It is not safe to call while requests are served.
func (h *Hosts) Add(host string) {
	name, ok := hostname(host)
	if !ok {
		// A bare IPv6 literal without brackets ("fe80::1") is fine here,
		// where no port can follow.
		if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
			name, ok = a.Unmap().String(), true
		}
	}
	if !ok {
		return
	}
	if h.names == nil {
		h.names = map[string]bool{}
		h.addrs = map[netip.Addr]bool{}
	}
	if a, err := netip.ParseAddr(name); err == nil {
		h.addrs[a.Unmap()] = true
		return
	}
	h.names[name] = true
}

// Allowed reports whether a request's Host header value is on the list.
func (h *Hosts) Allowed(host string) bool {
	name, ok := hostname(host)
	if !ok {
		return false
	}
	if a, err := netip.ParseAddr(name); err == nil {
		a = a.Unmap()
		return a.IsLoopback() || (h != nil && h.addrs[a])
	}
	// hostname took one trailing dot off already: "localhost.." is no name.
	if !strings.HasSuffix(name, ".") && ports.IsLocalhost(name) {
		return true
	}
	return h != nil && h.names[name]
}

// IsLoopback reports whether host (a Host header value) names this machine's
// loopback interface: Allowed for the zero allow-list.
func IsLoopback(host string) bool {
	var h *Hosts
	return h.Allowed(host)
}

// Wrap returns a handler that answers 403 Forbidden to requests whose Host is
// not allowed, and passes the others to next.
func (h *Hosts) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.Allowed(r.Host) {
			Forbid(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Forbid writes the 403 answer for a request whose Host is not allowed. The
// body says why, so that a developer who reached the server under a new name
// knows what to do.
func Forbid(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte("403 forbidden: this server answers only to localhost, *.localhost and loopback addresses (DNS rebinding protection)\n"))
}

// hostname takes a Host header value apart: it drops the port, the brackets
// around an IPv6 literal and one trailing dot, folds the case, and checks that
// what is left can be a host name or an IP literal. IPv6 zones are refused:
// they never appear in a browser's Host header.
func hostname(host string) (string, bool) {
	if host == "" {
		return "", false
	}
	var name string
	if host[0] == '[' {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", false
		}
		name = host[1:end]
		if !validPort(host[end+1:]) {
			return "", false
		}
		a, err := netip.ParseAddr(name)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", false
		}
		return a.String(), true
	}
	name = host
	if i := strings.IndexByte(host, ':'); i >= 0 {
		name = host[:i]
		if !validPort(host[i:]) {
			return "", false
		}
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c >= 'A' && c <= 'Z':
		case c == '.':
			// No empty labels: "a..localhost" and ".localhost" are not names.
			if i == 0 || name[i-1] == '.' {
				return "", false
			}
		default:
			return "", false
		}
	}
	name = strings.ToLower(name)
	if a, err := netip.ParseAddr(name); err == nil {
		if !a.Is4() {
			return "", false
		}
		return a.String(), true
	}
	if looksNumeric(name) {
		// "127.1", "2130706433" and "0x7f.1" are loopback to some resolvers
		// and not to others: refuse rather than guess.
		return "", false
	}
	return name, true
}

// validPort checks the ":port" part after a host: empty, or a colon and at
// most 5 digits (RFC 3986 allows an empty port after the colon).
func validPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' || len(s) > 6 {
		return false
	}
	for _, c := range []byte(s[1:]) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// looksNumeric reports whether the last label of name starts with a digit or
// is a hex number, as in the inet_aton forms "127.1" and "0x7f000001".
func looksNumeric(name string) bool {
	last := name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		last = name[i+1:]
	}
	if last == "" {
		return false
	}
	if last[0] >= '0' && last[0] <= '9' {
		for _, c := range []byte(last) {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == 'x') {
				return false
			}
		}
		return true
	}
	return false
}

package ports

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"homeport/internal/sockets"
)

// Target is what a user names when asking about a port: a bare port, a
// host and port, or an http(s) URL, optionally with a protocol suffix.
type Target struct {
	// Host is the host as typed, without brackets ("" when only a port was
	// given, meaning any local address).
	Host string
	Port uint16
	// Proto is "tcp" unless the target ended in "/udp": the protocol to
	// connect with.
	Proto string
	// AnyProto is true when the target named no protocol and is not a URL:
	// for the listeners on a port, `who 53` means TCP and UDP alike, and
	// "53/tcp" or "53/udp" narrows it.
	AnyProto bool
	// URL is set for http:// and https:// targets.
	URL *url.URL
}

// String formats the target the way a user would type it.
func (t Target) String() string {
	if t.URL != nil {
		return t.URL.String()
	}
	s := strconv.Itoa(int(t.Port))
	if t.Host != "" {
		s = net.JoinHostPort(t.Host, s)
	}
	if !t.AnyProto {
		s += "/" + t.Proto
	}
	return s
}

// Filter is the inventory filter for the listeners on the target's port, of
// its protocols.
func (t Target) Filter() sockets.Filter {
	if t.AnyProto {
		return sockets.Filter{Port: t.Port}
	}
	return sockets.Filter{Port: t.Port, TCP: t.Proto == "tcp", UDP: t.Proto == "udp"}
}

// ParseTarget parses a target: "3000", ":3000", "3000/udp",
// "localhost:3000", "127.0.0.1:3000", "[::1]:3000", "host:53/udp",
// "http://localhost:3000/health", "https://app.localhost".
// Errors name the part that is wrong.
func ParseTarget(s string) (Target, error) {
	orig := s
	if s == "" {
		return Target{}, fmt.Errorf("empty target: give a port like 3000 or an address like 127.0.0.1:3000")
	}
	if i := strings.Index(s, "://"); i > 0 {
		return parseURLTarget(orig)
	}
	t := Target{Proto: "tcp", AnyProto: true}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		switch p := strings.ToLower(s[i+1:]); p {
		case "tcp", "udp":
			t.Proto, t.AnyProto = p, false
			s = s[:i]
		default:
			return Target{}, fmt.Errorf("%q in %q is not a protocol (tcp or udp)", s[i+1:], orig)
		}
	}
	host, portStr := "", s
	if strings.HasPrefix(s, "[") || strings.Contains(s, ":") {
		if strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
			return Target{}, fmt.Errorf("%q: put an IPv6 address in brackets, like [::1]:3000", orig)
		}
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return Target{}, fmt.Errorf("%q is not host:port: %s", orig, strings.TrimPrefix(err.Error(), "address "+s+": "))
		}
		host, portStr = h, p
		if host != "" {
			if err := checkHost(host); err != nil {
				return Target{}, fmt.Errorf("%q: %w", orig, err)
			}
		}
	}
	port, err := ParsePort(portStr)
	if err != nil {
		return Target{}, err
	}
	t.Host, t.Port = host, port
	return t, nil
}

// ParsePort parses a port number 1-65535.
func ParsePort(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("missing port: give a number from 1 to 65535")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a port (1-65535)", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port (1-65535)", s)
	}
	return uint16(n), nil
}

func parseURLTarget(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("%q is not a URL: %v", s, unwrapURLError(err))
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return Target{}, fmt.Errorf("%q: scheme %q is not supported (use http:// or https://)", s, u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return Target{}, fmt.Errorf("%q has no host", s)
	}
	if err := checkHost(host); err != nil {
		return Target{}, fmt.Errorf("%q: %w", s, err)
	}
	var port uint16 = 80
	if scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		port, err = ParsePort(p)
		if err != nil {
			return Target{}, err
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return Target{}, fmt.Errorf("%q: missing port after ':'", s)
	}
	return Target{Host: host, Port: port, Proto: "tcp", URL: u}, nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// checkHost accepts IP literals and DNS names (RFC 1123 labels, with "_"
// allowed as resolvers do).
func checkHost(h string) error {
	if strings.Contains(h, "%") { // IPv6 zone: fe80::1%eth0
		if i := strings.IndexByte(h, '%'); i > 0 && net.ParseIP(h[:i]) != nil && i < len(h)-1 {
			return nil
		}
		return fmt.Errorf("%q is not a host name or IP address", h)
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%q is not a host name or IP address", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a host name or IP address", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%q is not a host name or IP address", h)
			}
		}
	}
	return nil
}

// IsLocalhost reports whether host is "localhost" or a name under it
// ("api.localhost"), in any case and with or without one trailing dot: the
// names RFC 6761 (section 6.3) reserves for loopback.
func IsLocalhost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// lookupTimeout bounds one lookup of a target's host: the questions are
// about this machine, and a resolver that has not answered by then will not
// help (wait retries).
const lookupTimeout = 3 * time.Second

// Resolver looks up host names; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Resolve returns the addresses a target's host stands for. "", localhost and
// *.localhost are both loopback addresses, 127.0.0.1 and ::1, whatever
// /etc/hosts or the resolver say (RFC 6761 section 6.3; browsers do the same),
// so that a server on either family answers. An IP literal is itself, zone
// included (a link-local address needs it to be dialled). Other names go to r
// (net.DefaultResolver when nil) for at most 3s; their IPv4-mapped answers come
// back as IPv4.
// A name without addresses is a *net.DNSError that IsNotFound.
func Resolve(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	if host == "" || IsLocalhost(host) {
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a = a.Unmap(); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return out, nil
}

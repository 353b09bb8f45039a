package ports

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"homeport/internal/sockets"
)

func TestTargetFilter(t *testing.T) {
	tests := []struct {
		in   string
		want sockets.Filter
	}{
		{"53", sockets.Filter{Port: 53}},
		{"localhost:53", sockets.Filter{Port: 53}},
		{"53/tcp", sockets.Filter{Port: 53, TCP: true}},
		{"53/udp", sockets.Filter{Port: 53, UDP: true}},
		{"http://localhost:8080/", sockets.Filter{Port: 8080, TCP: true}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tg, err := ParseTarget(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tg.Filter()); diff != "" {
				t.Errorf("ParseTarget(%q).Filter() mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// fakeResolver answers from a table, as a DNS server would.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestResolve(t *testing.T) {
	loop := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}
	r := fakeResolver{
		"db.lan":     {netip.MustParseAddr("::ffff:198.18.0.7"), netip.MustParseAddr("198.18.0.7"), netip.MustParseAddr("2001:db8::7")},
		"empty.lan":  {},
		"localhost":  {netip.MustParseAddr("127.0.0.1")}, // what /etc/hosts says; not asked
		"LOCALHOST.": {netip.MustParseAddr("127.0.0.1")},
	}
	tests := []struct {
		name, host string
		want       []netip.Addr
		notFound   bool
	}{
		{"no host is both loopbacks", "", loop, false},
		{"localhost is both loopbacks", "localhost", loop, false},
		{"any case, trailing dot", "LOCALHOST.", loop, false},
		{"a name under localhost", "api.localhost", loop, false},
		{"v4 literal", "127.0.0.1", []netip.Addr{netip.MustParseAddr("127.0.0.1")}, false},
		{"v6 literal keeps its zone", "fe80::1%eth0", []netip.Addr{netip.MustParseAddr("fe80::1%eth0")}, false},
		{"names unmapped, once each", "db.lan", []netip.Addr{netip.MustParseAddr("198.18.0.7"), netip.MustParseAddr("2001:db8::7")}, false},
		{"no addresses", "empty.lan", nil, true},
		{"unknown", "nope.lan", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(context.Background(), r, tt.host)
			var dnsErr *net.DNSError
			if tt.notFound != (errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
				t.Fatalf("Resolve(%q) error = %v; want not found %v", tt.host, err, tt.notFound)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("Resolve(%q) mismatch (-want +got):\n%s", tt.host, diff)
			}
		})
	}
}

// Holders over real sockets: a bare port finds UDP and TCP, a protocol
// narrows it, and a host keeps the listeners that take its addresses.
func TestHoldersRealSockets(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	pc, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Skipf("UDP port %d is taken: %v", port, err)
	}
	defer pc.Close()

	protos := func(h *Holding) (out []string) {
		for _, s := range h.Sockets {
			out = append(out, string(s.Proto))
		}
		return out
	}
	tests := []struct {
		target string
		want   []string
	}{
		{strconv.Itoa(port), []string{"tcp", "udp"}},
		{strconv.Itoa(port) + "/udp", []string{"udp"}},
		{strconv.Itoa(port) + "/tcp", []string{"tcp"}},
		{"localhost:" + strconv.Itoa(port), []string{"tcp", "udp"}},
		{"[::1]:" + strconv.Itoa(port), nil},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			tg, err := ParseTarget(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			h, err := Holders(context.Background(), sockets.Take, tg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, protos(h)); diff != "" {
				t.Errorf("Holders(%s) protocols mismatch (-want +got):\n%s", tt.target, diff)
			}
			if h.Held() != (len(tt.want) > 0) || len(h.OnPort) != 2 && tg.AnyProto {
				t.Errorf("Holders(%s) = held %v, %d on the port", tt.target, h.Held(), len(h.OnPort))
			}
		})
	}

	tg, _ := ParseTarget("nope.invalid:" + strconv.Itoa(port))
	_, err = Holders(context.Background(), sockets.Take, tg, fakeResolver{})
	var re *ResolveError
	if !errors.As(err, &re) || re.Error() != `cannot resolve "nope.invalid": no such host` {
		t.Errorf("Holders(nope.invalid) error = %v; want a ResolveError saying no such host", err)
	}
}

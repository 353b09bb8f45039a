package stop

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// noNames is a resolver that knows no name.
type noNames struct{}

func (noNames) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestTargetOf(t *testing.T) {
	listener := func(addr string) *sockets.Socket {
		ap := netip.MustParseAddrPort(addr)
		return &sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: ap}
	}
	tests := []struct {
		name   string
		target string
		proto  sockets.Proto
		takes  map[string]bool // listener address -> taken by the target; nil: no address rule
	}{
		{"bare port: every protocol, every address", "3000", "", nil},
		{"a protocol narrows it", "53/udp", sockets.UDP, nil},
		{"localhost is both loopbacks", "localhost:3000", "", map[string]bool{
			"127.0.0.1:3000": true, "[::1]:3000": true, "0.0.0.0:3000": true, "192.0.2.1:3000": false}},
		{"an IPv6 literal", "[::1]:3000/tcp", sockets.TCP, map[string]bool{
			"[::1]:3000": true, "127.0.0.1:3000": false, "[::]:3000": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := ports.ParseTarget(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			st, err := TargetOf(context.Background(), pt, noNames{})
			if err != nil {
				t.Fatalf("TargetOf(%q) error: %v", tt.target, err)
			}
			if st.Port != pt.Port || st.Proto != tt.proto {
				t.Errorf("TargetOf(%q) = port %d proto %q; want %d %q", tt.target, st.Port, st.Proto, pt.Port, tt.proto)
			}
			if (st.Accepts == nil) != (tt.takes == nil) {
				t.Fatalf("TargetOf(%q).Accepts set = %v; want %v", tt.target, st.Accepts != nil, tt.takes != nil)
			}
			for addr, want := range tt.takes {
				if got := st.Accepts(listener(addr)); got != want {
					t.Errorf("TargetOf(%q) takes %s = %v; want %v", tt.target, addr, got, want)
				}
			}
		})
	}
}

func TestTargetOfUnknownHost(t *testing.T) {
	pt, err := ports.ParseTarget("nosuch.invalid:3000")
	if err != nil {
		t.Fatal(err)
	}
	_, err = TargetOf(context.Background(), pt, noNames{})
	var re *ResolveError
	if !errors.As(err, &re) || re.Host != "nosuch.invalid" || re.Port != 3000 {
		t.Errorf("TargetOf(nosuch.invalid:3000) error = %v; want a ResolveError naming the host and port", err)
	}
}

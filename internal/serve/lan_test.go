package serve

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseRoutes(t *testing.T) {
	f, err := os.Open("testdata/route-docker.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := parseRoutes(f)
	if err != nil {
		t.Fatal(err)
	}
	// tun0's route is down (flags 0002), the mask-24 routes are not default.
	want := []defaultRoute{{"docker0", 0}, {"eth0", 100}, {"wlp2s0", 600}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseRoutes(route-docker.txt) = %v; want %v", got, want)
	}
	for _, in := range []string{"", "Iface\n", "Iface\nbroken line\n", "Iface\neth0 00000000 0 zz 0 0 0 00000000\n"} {
		if got, err := parseRoutes(strings.NewReader(in)); err != nil || len(got) != 0 {
			t.Errorf("parseRoutes(%q) = %v, %v; want none", in, got, err)
		}
	}
}

func TestPickLAN(t *testing.T) {
	up := net.FlagUp | net.FlagBroadcast
	ifaces := []net.Interface{
		{Name: "lo", Flags: net.FlagUp | net.FlagLoopback},
		{Name: "docker0", Flags: up},
		{Name: "veth12ab", Flags: up},
		{Name: "wg0", Flags: up},
		{Name: "eth0", Flags: up},
		{Name: "wlp2s0", Flags: up},
		{Name: "eth1", Flags: 0},
	}
	addrs := map[string][]string{
		"lo":       {"127.0.0.1", "::1"},
		"docker0":  {"172.17.0.1"},
		"veth12ab": {"169.254.3.3"},
		"wg0":      {"10.8.0.2"},
		"eth0":     {"fe80::1", "169.254.1.1", "192.168.1.20", "192.168.1.21"},
		"wlp2s0":   {"10.0.0.5"},
		"eth1":     {"192.168.9.9"},
	}
	addrsOf := func(ifi *net.Interface) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, a := range addrs[ifi.Name] {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
	tests := []struct {
		name   string
		routes []defaultRoute
		want   string
		iface  string
	}{
		{"docker route first is skipped", []defaultRoute{{"docker0", 0}, {"eth0", 100}, {"wlp2s0", 600}}, "192.168.1.20", "eth0"},
		{"vpn route is skipped", []defaultRoute{{"wg0", 0}, {"wlp2s0", 600}}, "10.0.0.5", "wlp2s0"},
		{"only virtual routes", []defaultRoute{{"docker0", 0}, {"wg0", 1}}, "", ""},
		{"route on a down interface", []defaultRoute{{"eth1", 0}}, "", ""},
		{"no route table: first private address of a real interface", nil, "192.168.1.20", "eth0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, iface, err := pickLAN(tt.routes, ifaces, addrsOf)
			if tt.want == "" {
				if !errors.Is(err, ErrNoLAN) {
					t.Errorf("pickLAN(%v) = %v, %q, %v; want ErrNoLAN", tt.routes, a, iface, err)
				}
				return
			}
			if err != nil || a.String() != tt.want || iface != tt.iface {
				t.Errorf("pickLAN(%v) = %v, %q, %v; want %s on %s", tt.routes, a, iface, err, tt.want, tt.iface)
			}
		})
	}
}

func TestVirtual(t *testing.T) {
	for name, want := range map[string]bool{
		"docker0": true, "br-1a2b": true, "veth9f": true, "virbr0": true, "tun0": true, "tap1": true, "wg0": true,
		"tailscale0": true, "utun3": true, "zt7": true, "vboxnet0": true, "awdl0": true, "bridge100": true,
		"eth0": false, "enp3s0": false, "wlan0": false, "wlp2s0": false, "en0": false, "Ethernet": false, "Wi-Fi": false,
	} {
		if got := Virtual(name); got != want {
			t.Errorf("Virtual(%q) = %v; want %v", name, got, want)
		}
	}
}

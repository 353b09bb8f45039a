package router

import (
	"strings"
	"testing"

	"homeport/internal/httpguard"
)

func TestParseHost(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		target Target
		route  string
	}{
		{"route", "api.localhost", TargetRoute, "api"},
		{"route with port", "api.localhost:62893", TargetRoute, "api"},
		{"route upper case", "API.LocalHost:62893", TargetRoute, "api"},
		{"route trailing dot", "api.localhost.", TargetRoute, "api"},
		{"route trailing dot and port", "web.localhost.:62893", TargetRoute, "web"},
		{"route with hyphen and digits", "my-app2.localhost:1", TargetRoute, "my-app2"},
		{"deeper name is still a route host", "a.b.localhost", TargetRoute, "a.b"},
		{"underscore is a loopback name", "my_app.localhost", TargetRoute, "my_app"},

		{"localhost", "localhost", TargetDashboard, ""},
		{"localhost port", "localhost:62893", TargetDashboard, ""},
		{"localhost dot upper", "LOCALHOST.:62893", TargetDashboard, ""},
		{"ipv4 loopback", "127.0.0.1:62893", TargetDashboard, ""},
		{"ipv4 loopback no port", "127.0.0.1", TargetDashboard, ""},
		{"ipv6 loopback", "[::1]:62893", TargetDashboard, ""},
		{"ipv6 loopback long", "[0:0:0:0:0:0:0:1]", TargetDashboard, ""},

		{"empty", "", TargetForeign, ""},
		{"rebinding", "evil.example", TargetForeign, ""},
		{"rebinding port", "evil.example:62893", TargetForeign, ""},
		{"localhost as a label", "localhost.evil.example", TargetForeign, ""},
		{"api.localhost as a label", "api.localhost.evil.example", TargetForeign, ""},
		{"suffix without dot", "evillocalhost", TargetForeign, ""},
		{"empty name", ".localhost", TargetForeign, ""},
		{"empty label", "a..localhost", TargetForeign, ""},
		{"unspecified", "0.0.0.0:62893", TargetForeign, ""},
		{"unspecified v6", "[::]:62893", TargetForeign, ""},
		{"lan address", "192.168.1.20:62893", TargetForeign, ""},
		{"inet_aton shorthand", "127.1", TargetForeign, ""},
		{"bad port", "api.localhost:http", TargetForeign, ""},
		{"zone", "[::1%25lo]:62893", TargetForeign, ""},
		{"space", "api.localhost :1", TargetForeign, ""},
		{"at", "x@api.localhost", TargetForeign, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, route := ParseHost(tt.host)
			if target != tt.target || route != tt.route {
				t.Errorf("ParseHost(%q) = %v, %q; want %v, %q", tt.host, target, route, tt.target, tt.route)
			}
		})
	}
}

func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"api.localhost:62893", "API.LOCALHOST.", "localhost", "[::1]:62893", "127.0.0.1", "evil.example", "a..localhost", "x.localhost.evil", "[::1%25lo]", "127.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		target, name := ParseHost(host)
		// Whatever the router serves, the Host allow-list allows: the two
		// never disagree on what is this machine's own name.
		if target != TargetForeign && !httpguard.IsLoopback(host) {
			t.Fatalf("ParseHost(%q) = %v, but httpguard refuses it", host, target)
		}
		if target == TargetForeign && httpguard.IsLoopback(host) {
			t.Fatalf("ParseHost(%q) = foreign, but httpguard allows it as loopback", host)
		}
		if (target == TargetRoute) != (name != "") {
			t.Fatalf("ParseHost(%q) = %v, %q; a name exactly for routes", host, target, name)
		}
		if target == TargetRoute {
			if name != strings.ToLower(name) || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
				t.Fatalf("ParseHost(%q) name %q not folded", host, name)
			}
			for _, c := range []byte(name) {
				if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
					t.Fatalf("ParseHost(%q) name %q has %q", host, name, c)
				}
			}
		}
	})
}

package httpguard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAllowed(t *testing.T) {
	lan := NewHosts("192.168.1.20", "devbox.lan", "fe80::1", "[fd00::2]:8080")
	tests := []struct {
		name string
		host string
		want bool
	}{
		{"localhost", "localhost", true},
		{"localhost with port", "localhost:62893", true},
		{"localhost upper case", "LocalHost:62893", true},
		{"localhost trailing dot", "localhost.", true},
		{"localhost trailing dot and port", "localhost.:62893", true},
		{"sub of localhost", "api.localhost", true},
		{"deep sub of localhost", "a.b.api.localhost:3000", true},
		{"sub of localhost upper case dot", "API.LOCALHOST.:1", true},
		{"ipv4 loopback", "127.0.0.1", true},
		{"ipv4 loopback port", "127.0.0.1:62893", true},
		{"ipv4 loopback other", "127.8.9.10:80", true},
		{"ipv6 loopback", "[::1]", true},
		{"ipv6 loopback port", "[::1]:62893", true},
		{"ipv6 loopback long form", "[0:0:0:0:0:0:0:1]:80", true},
		{"ipv4-mapped loopback", "[::ffff:127.0.0.1]:80", true},
		{"empty port", "localhost:", true},

		{"empty", "", false},
		{"rebinding name", "evil.example", false},
		{"rebinding name port", "evil.example:62893", false},
		{"localhost as label", "localhost.evil.example", false},
		{"localhost suffix without dot", "evillocalhost", false},
		{"bare dot localhost", ".localhost", false},
		{"empty label", "a..localhost", false},
		{"two trailing dots", "localhost..", false},
		{"bare ipv6 without brackets", "::1", false},
		{"unclosed bracket", "[::1", false},
		{"ipv4 in brackets", "[127.0.0.1]", false},
		{"zone", "[::1%25lo]:80", false},
		{"junk after bracket", "[::1]x", false},
		{"non numeric port", "localhost:http", false},
		{"long port", "localhost:123456", false},
		{"short ipv4", "127.1", false},
		{"decimal ipv4", "2130706433", false},
		{"hex ipv4", "0x7f000001", false},
		{"octal-ish ipv4", "0177.0.0.1", false},
		{"public ip", "93.184.216.34", false},
		{"unspecified", "0.0.0.0:62893", false},
		{"unspecified v6", "[::]:62893", false},
		{"lan ip not allowed by default", "192.168.1.20", false},
		{"space", "localhost :80", false},
		{"slash", "localhost/x", false},
		{"at", "user@localhost", false},
		{"nul", "localhost\x00.evil", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsLoopback(tt.host); got != tt.want {
				t.Errorf("IsLoopback(%q) = %v; want %v", tt.host, got, tt.want)
			}
			var zero Hosts
			if got := zero.Allowed(tt.host); got != tt.want {
				t.Errorf("Hosts{}.Allowed(%q) = %v; want %v", tt.host, got, tt.want)
			}
		})
	}

	extra := []struct {
		host string
		want bool
	}{
		{"192.168.1.20", true},
		{"192.168.1.20:62893", true},
		{"[::ffff:192.168.1.20]:62893", true},
		{"DevBox.LAN.:62893", true},
		{"[fe80::1]:62893", true},
		{"[FD00::2]", true},
		{"192.168.1.21", false},
		{"devbox.lan.evil", false},
		{"localhost", true},
	}
	for _, tt := range extra {
		if got := lan.Allowed(tt.host); got != tt.want {
			t.Errorf("lan.Allowed(%q) = %v; want %v", tt.host, got, tt.want)
		}
	}
}

func TestWrapRealServer(t *testing.T) {
	srv := httptest.NewServer(NewHosts().Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	for _, tt := range []struct {
		host string
		want int
	}{
		{"", http.StatusOK}, // the client sends the listener's 127.0.0.1:port
		{"localhost", http.StatusOK},
		{"app.localhost:62893", http.StatusOK},
		{"evil.example", http.StatusForbidden},
		{"evil.example:62893", http.StatusForbidden},
	} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if tt.host != "" {
			req.Host = tt.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET with Host %q = %d; want %d", tt.host, resp.StatusCode, tt.want)
		}
	}
}

func FuzzAllowed(f *testing.F) {
	for _, s := range []string{"localhost", "[::1]:80", "127.0.0.1:1", "a.localhost.", "evil.example", "[::ffff:127.0.0.1]", "0x7f.1", "localhost.evil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !IsLoopback(host) {
			return
		}
		// Whatever is allowed must be a loopback IP literal or a .localhost name.
		name, ok := hostname(host)
		if !ok {
			t.Fatalf("IsLoopback(%q) = true but hostname() refuses it", host)
		}
		if name != "localhost" && !hasSuffix(name, ".localhost") {
			for _, c := range name {
				if !(c >= '0' && c <= '9' || c == '.' || c == ':' || c >= 'a' && c <= 'f') {
					t.Fatalf("IsLoopback(%q) = true for name %q", host, name)
				}
			}
		}
	})
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

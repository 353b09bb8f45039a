package ports

import (
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in    string
		host  string
		port  uint16
		proto string
		url   bool
		str   string
	}{
		{"3000", "", 3000, "tcp", false, "3000"},
		{":3000", "", 3000, "tcp", false, "3000"},
		{"3000/udp", "", 3000, "udp", false, "3000/udp"},
		{"3000/TCP", "", 3000, "tcp", false, "3000/tcp"},
		{"localhost:3000", "localhost", 3000, "tcp", false, "localhost:3000"},
		{"127.0.0.1:3000", "127.0.0.1", 3000, "tcp", false, "127.0.0.1:3000"},
		{"[::1]:3000", "::1", 3000, "tcp", false, "[::1]:3000"},
		{"[fe80::1%eth0]:22", "fe80::1%eth0", 22, "tcp", false, "[fe80::1%eth0]:22"},
		{"api.localhost:62893", "api.localhost", 62893, "tcp", false, "api.localhost:62893"},
		{"dns.example:53/udp", "dns.example", 53, "udp", false, "dns.example:53/udp"},
		{"65535", "", 65535, "tcp", false, "65535"},
		{"http://localhost:3000/health", "localhost", 3000, "tcp", true, "http://localhost:3000/health"},
		{"https://app.localhost", "app.localhost", 443, "tcp", true, "https://app.localhost"},
		{"http://[::1]/", "::1", 80, "tcp", true, "http://[::1]/"},
		{"HTTP://LOCALHOST:8080", "LOCALHOST", 8080, "tcp", true, "http://LOCALHOST:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTarget(tt.in)
			if err != nil {
				t.Fatalf("ParseTarget(%q) error: %v", tt.in, err)
			}
			if got.Host != tt.host || got.Port != tt.port || got.Proto != tt.proto || (got.URL != nil) != tt.url {
				t.Errorf("ParseTarget(%q) = %+v; want host %q port %d proto %s url %v", tt.in, got, tt.host, tt.port, tt.proto, tt.url)
			}
			if any := !strings.Contains(tt.in, "/") && !tt.url; got.AnyProto != any {
				t.Errorf("ParseTarget(%q).AnyProto = %v; want %v", tt.in, got.AnyProto, any)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("ParseTarget(%q).String() = %q; want %q", tt.in, s, tt.str)
			}
		})
	}
}

func TestParseTargetErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "empty target"},
		{"70000", `"70000" is not a port (1-65535)`},
		{"0", `"0" is not a port`},
		{"-1", `"-1" is not a port`},
		{"abc", `"abc" is not a port`},
		{"3000/sctp", `"sctp" in "3000/sctp" is not a protocol`},
		{"localhost:", "missing port"},
		{"::1:3000", "put an IPv6 address in brackets"},
		{"[::1:3000", "is not host:port"},
		{"bad host!:80", `"bad host!" is not a host name`},
		{"-x.com:80", "is not a host name"},
		{"ftp://localhost:21", `scheme "ftp" is not supported`},
		{"http://:3000", "has no host"},
		{"http://localhost:99999", `"99999" is not a port`},
		{"http://localhost:/", "missing port"},
		{"3000/", `"" in "3000/" is not a protocol`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseTarget(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseTarget(%q) error = %v; want one containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestClassOf(t *testing.T) {
	for _, tt := range []struct {
		p    uint16
		want Class
	}{{1, WellKnown}, {1023, WellKnown}, {1024, Registered}, {49151, Registered}, {49152, Dynamic}, {62893, Dynamic}} {
		if got := ClassOf(tt.p); got != tt.want {
			t.Errorf("ClassOf(%d) = %s; want %s", tt.p, got, tt.want)
		}
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"3000", ":3000", "3000/udp", "localhost:3000", "[::1]:3000", "http://localhost:3000/x",
		"https://a.localhost", "[fe80::1%eth0]:22", "70000", "::1:3000", "http://[::1]:0/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			if err.Error() == "" {
				t.Errorf("ParseTarget(%q): empty error", s)
			}
			return
		}
		if tg.Port == 0 {
			t.Errorf("ParseTarget(%q) = port 0 without an error", s)
		}
		if tg.Proto != "tcp" && tg.Proto != "udp" {
			t.Errorf("ParseTarget(%q).Proto = %q", s, tg.Proto)
		}
		// What String prints parses back to the same target.
		back, err := ParseTarget(tg.String())
		if err != nil {
			t.Errorf("ParseTarget(%q).String() = %q, which does not parse: %v", s, tg.String(), err)
			return
		}
		if back.Host != tg.Host || back.Port != tg.Port || back.Proto != tg.Proto || back.AnyProto != tg.AnyProto {
			t.Errorf("round trip %q -> %q -> %+v; want %+v", s, tg.String(), back, tg)
		}
	})
}

package dashboard

import (
	"strings"
	"testing"
)

func TestRouteName(t *testing.T) {
	tests := []struct {
		name, host, want string
		ok               bool
	}{
		{"dashboard by name", "localhost:62893", "", false},
		{"dashboard by v4", "127.0.0.1:62893", "", false},
		{"dashboard by v6", "[::1]:62893", "", false},
		{"route", "api.localhost:62893", "api", true},
		{"route without port", "api.localhost", "api", true},
		{"route upper case, trailing dot", "API.LocalHost.:62893", "api", true},
		{"nested", "a.b.localhost:1", "a.b", true},
		{"bare suffix", ".localhost:1", "", false},
		{"not localhost", "api.localhost.evil.example", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := routeName(tt.host)
			if got != tt.want || ok != tt.ok {
				t.Errorf("routeName(%q) = %q, %v; want %q, %v", tt.host, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzRouteName(f *testing.F) {
	for _, s := range []string{"api.localhost:62893", "localhost", "[::1]:1", "A.LOCALHOST.", ".localhost", "x.localhost:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		name, ok := routeName(host)
		if !ok {
			return
		}
		if name == "" || strings.HasSuffix(name, ".localhost") && name == "localhost" {
			t.Errorf("routeName(%q) = %q, true", host, name)
		}
		if !strings.Contains(strings.ToLower(host), name+".localhost") {
			t.Errorf("routeName(%q) = %q: not a label of the host", host, name)
		}
	})
}

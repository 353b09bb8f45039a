package router

import (
	"errors"
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	long := strings.Repeat("a", MaxNameLen)
	tests := []struct {
		name    string
		in      string
		want    string
		problem NameProblem
		pos     int
		msg     string // a part of the error text
	}{
		{"lower", "api", "api", 0, 0, ""},
		{"upper folded", "API", "api", 0, 0, ""},
		{"mixed with digits and hyphen", "My-App2", "my-app2", 0, 0, ""},
		{"digits only", "3000", "3000", 0, 0, ""},
		{"one letter", "a", "a", 0, 0, ""},
		{"inner double hyphen", "xn--bcher-kva", "xn--bcher-kva", 0, 0, ""},
		{"63 characters", long, long, 0, 0, ""},

		{"empty", "", "", NameEmpty, -1, "cannot be empty"},
		{"64 characters", long + "a", "", NameTooLong, -1, "64 characters long; a name has at most 63"},
		{"underscore", "my_app", "", NameBadChar, 2, `has '_' at position 3`},
		{"dot", "api.v2", "", NameBadChar, 3, `has '.' at position 4`},
		{"space", "my app", "", NameBadChar, 2, `has ' ' at position 3`},
		{"slash", "a/b", "", NameBadChar, 1, `'/'`},
		{"non-ascii", "café", "", NameBadChar, 3, `has 'é' at position 4`},
		{"bad utf-8", "ab\xff", "", NameBadChar, 2, "byte 0xff at position 3"},
		{"nul", "a\x00", "", NameBadChar, 1, `'\x00'`},
		{"leading hyphen", "-api", "", NameHyphenAtEdge, 0, `starts with "-"`},
		{"trailing hyphen", "api-", "", NameHyphenAtEdge, 3, `ends with "-"`},
		{"lone hyphen", "-", "", NameHyphenAtEdge, 0, `starts with "-"`},
		{"bad char before length", strings.Repeat("a", 70) + "_", "", NameBadChar, 70, "'_'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseName(tt.in)
			if tt.problem == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("ParseName(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
				}
				return
			}
			var ne *NameError
			if !errors.As(err, &ne) {
				t.Fatalf("ParseName(%q) = %q, %v; want a *NameError", tt.in, got, err)
			}
			if ne.Problem != tt.problem || ne.Pos != tt.pos {
				t.Errorf("ParseName(%q) problem, pos = %v, %d; want %v, %d", tt.in, ne.Problem, ne.Pos, tt.problem, tt.pos)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ParseName(%q) error = %q; want it to contain %q", tt.in, err, tt.msg)
			}
			if err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] || strings.HasSuffix(err.Error(), ".") {
				t.Errorf("ParseName(%q) error = %q; want lowercase, no final period", tt.in, err)
			}
		})
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"api", "API", "my_app", "-x", "x-", "café", "ab\xff", strings.Repeat("a", 64), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseName(s)
		if err != nil {
			var ne *NameError
			if !errors.As(err, &ne) {
				t.Fatalf("ParseName(%q) error %T is not a *NameError", s, err)
			}
			if ne.Pos >= len(s) {
				t.Fatalf("ParseName(%q) error position %d is past the end", s, ne.Pos)
			}
			_ = err.Error()
			return
		}
		if len(got) == 0 || len(got) > MaxNameLen || got[0] == '-' || got[len(got)-1] == '-' {
			t.Fatalf("ParseName(%q) = %q; not a DNS label", s, got)
		}
		for _, c := range []byte(got) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				t.Fatalf("ParseName(%q) = %q; has %q", s, got, c)
			}
		}
		if !strings.EqualFold(got, s) {
			t.Fatalf("ParseName(%q) = %q; not the same name", s, got)
		}
		// A valid name is a route host: NAME.localhost reaches it.
		if target, name := ParseHost(got + ".localhost:62893"); target != TargetRoute || name != got {
			t.Fatalf("ParseHost(%q) = %v, %q; want route %q", got+".localhost:62893", target, name, got)
		}
		if again, err := ParseName(got); err != nil || again != got {
			t.Fatalf("ParseName(%q) = %q, %v; want it unchanged", got, again, err)
		}
	})
}

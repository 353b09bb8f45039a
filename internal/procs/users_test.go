package procs

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePasswd(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"debian", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", []string{"root", "daemon", "nobody"}},
		{"comments and blanks", "# users\n\nroot:x:0:0::/root:/bin/sh\n   \n", []string{"root"}},
		{"nis entries", "+@admins::::::\n-baduser::::::\n+::::::\npg:x:100:100::/var/lib/pg:/bin/sh\n", []string{"pg"}},
		{"no colon", "garbage\nroot:x:0:0::/:/bin/sh", []string{"root"}},
		{"empty name", ":x:0:0::/:/bin/sh\n", nil},
		{"crlf", "root:x:0:0::/root:/bin/sh\r\n", []string{"root"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parsePasswd(strings.NewReader(tt.in))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parsePasswd(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestClosest(t *testing.T) {
	names := []string{"root", "daemon", "nobody", "postgres", "redis", "www-data"}
	tests := []struct {
		name, in, want string
	}{
		{"one extra letter", "nobodyx", "nobody"},
		{"swapped letters", "postrges", "postgres"},
		{"case", "ROOT", "root"},
		{"missing letter", "redi", "redis"},
		{"too far", "alice", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := closest(tt.in, names); got != tt.want {
				t.Errorf("closest(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLookupUID(t *testing.T) {
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Skip("no /etc/passwd here")
	}
	if uid, err := LookupUID("root"); err != nil || uid != 0 {
		t.Errorf("LookupUID(root) = %d, %v; want 0", uid, err)
	}
	if uid, err := LookupUID("4242"); err != nil || uid != 4242 {
		t.Errorf("LookupUID(4242) = %d, %v; want 4242 (a uid needs no name)", uid, err)
	}
	_, err := LookupUID("nobodyx")
	u, ok := err.(*UnknownUserError)
	if !ok || u.Closest != "nobody" {
		t.Errorf("LookupUID(nobodyx) error = %#v; want an UnknownUserError suggesting nobody", err)
	}
	if got := UserName(0); got != "root" {
		t.Errorf("UserName(0) = %q; want root", got)
	}
	if got := UserName(4242421); got != strconv.Itoa(4242421) {
		t.Errorf("UserName(4242421) = %q; want the number, which has no name", got)
	}
}

func FuzzParsePasswd(f *testing.F) {
	for _, s := range []string{"root:x:0:0:root:/root:/bin/bash\n", "+::::::\n", "# c\n\n:x\n", "a:b\r\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range parsePasswd(strings.NewReader(s)) {
			if n == "" || strings.ContainsAny(n, ":\n") || n[0] == '#' || n[0] == '+' || n[0] == '-' {
				t.Errorf("parsePasswd(%q) gave name %q", s, n)
			}
		}
		if d := editDistance(s, "nobody"); d < 0 || d > max(len(s), 6) {
			t.Errorf("editDistance(%q, nobody) = %d", s, d)
		}
	})
}

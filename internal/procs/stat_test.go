package procs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tail is what follows the name in a real /proc/<pid>/stat line (fields 3-52).
const tail = " S 1 4242 4242 0 -1 4194560 1090 0 0 0 3 1 0 0 20 0 1 0 8841224 7524352 935 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Stat
	}{
		{"plain", "4242 (node)" + tail, Stat{PID: 4242, Name: "node", State: 'S', PPID: 1, StartTicks: 8841224}},
		{"space", "7 (tmux: server)" + tail, Stat{PID: 7, Name: "tmux: server", State: 'S', PPID: 1, StartTicks: 8841224}},
		{"open paren", "8 (nc ()" + tail, Stat{PID: 8, Name: "nc (", State: 'S', PPID: 1, StartTicks: 8841224}},
		{"close paren", "9 (a) b)" + tail, Stat{PID: 9, Name: "a) b", State: 'S', PPID: 1, StartTicks: 8841224}},
		{"fake fields", "10 (x) R 99 (y)" + tail, Stat{PID: 10, Name: "x) R 99 (y", State: 'S', PPID: 1, StartTicks: 8841224}},
		{"newline", "11 (a\nb)" + tail, Stat{PID: 11, Name: "a\nb", State: 'S', PPID: 1, StartTicks: 8841224}},
		{"empty name", "12 ()" + tail, Stat{PID: 12, Name: "", State: 'S', PPID: 1, StartTicks: 8841224}},
		{"zombie", "13 (defunct) Z 1 13 13 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0 0\n", Stat{PID: 13, Name: "defunct", State: 'Z', PPID: 1, StartTicks: 99}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseStat(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseStat(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseStatErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "no (name)"},
		{"no close", "1 (node S 1", "no (name)"},
		{"bad pid", "x (node)" + tail, "pid"},
		{"short", "1 (node) S 1 2 3", "fields"},
		{"bad state", "1 (node) SS 1" + tail[2:], "state"},
		{"bad ppid", "1 (node) S x" + tail[4:], "ppid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseStat([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseStat(%q) error = %v; want one naming %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00", nil},
		{"node\x00server.js\x00", []string{"node", "server.js"}},
		{"nginx: worker process", []string{"nginx: worker process"}}, // rewritten argv, no NUL
		{"a\x00\x00b\x00", []string{"a", "", "b"}},
	}
	for _, tt := range tests {
		if got := ParseCmdline([]byte(tt.in)); !cmp.Equal(got, tt.want) {
			t.Errorf("ParseCmdline(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkParseStat(b *testing.B) {
	line := []byte("4242 (node server) " + tail[1:])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseStat(line); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("4242 (node)" + tail))
	f.Add([]byte("9 (a) b)" + tail))
	f.Add([]byte("8 (nc ()" + tail))
	f.Add([]byte("11 (a\nb)" + tail))
	f.Add([]byte("1 (x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStat(b)
		if err != nil {
			return
		}
		// The name is exactly what lies between the first "(" and the last ")".
		s := string(b)
		want := s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')]
		if st.Name != want {
			t.Errorf("ParseStat(%q).Name = %q; want %q", b, st.Name, want)
		}
		if st.PID < 0 || st.PPID < 0 {
			t.Errorf("ParseStat(%q) = %+v: negative ids", b, st)
		}
		_ = fmt.Sprint(st)
	})
}

package metrics

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		file    string // under testdata, or the line itself
		want    procStat
		wantErr bool
	}{
		{name: "bash", file: "stat-bash.txt", want: procStat{UTime: 3, STime: 8, StartTime: 977404, VSize: 5263360, RSS: 945}},
		{name: "name with spaces and parentheses", file: "stat-parens.txt", want: procStat{StartTime: 999823, VSize: 2990080, RSS: 415}},
		{name: "empty", file: "", wantErr: true},
		{name: "no closing parenthesis", file: "1 (x S 0 0", wantErr: true},
		{name: "too few fields", file: "1 (x) S 1 1 1 0 -1 4194304 1 0 0 0 5 6", wantErr: true},
		{name: "a letter where utime is", file: "1 (x) S 1 1 1 0 -1 4194304 1 0 0 0 u 6 0 0 20 0 1 0 9 10 11 0", wantErr: true},
		{name: "a negative rss", file: "1 (x) S 1 1 1 0 -1 4194304 1 0 0 0 5 6 0 0 20 0 1 0 9 10 -1 0", want: procStat{UTime: 5, STime: 6, StartTime: 9, VSize: 10, RSS: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.file)
			if strings.HasSuffix(tt.file, ".txt") {
				var err error
				if in, err = os.ReadFile("testdata/" + tt.file); err != nil {
					t.Fatal(err)
				}
			}
			got, err := parseStat(in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStat(%q) error = %v; want error %v", in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseStat(%q) (-want +got):\n%s", in, diff)
			}
		})
	}
}

func TestParseNetstat(t *testing.T) {
	tests := []struct {
		name, in string
		in_, out uint64
		wantErr  bool
	}{
		{name: "captured", in: "@netstat.txt", in_: 423480324471, out: 422842303835},
		{name: "only IpExt", in: "IpExt: InOctets OutOctets\nIpExt: 10 20\n", in_: 10, out: 20},
		{name: "no IpExt", in: "TcpExt: A B\nTcpExt: 1 2\n", wantErr: true},
		{name: "names without values", in: "IpExt: InOctets OutOctets\n", wantErr: true},
		{name: "counts differ", in: "IpExt: InOctets OutOctets\nIpExt: 10\n", wantErr: true},
		{name: "no octets", in: "IpExt: InNoRoutes\nIpExt: 1\n", wantErr: true},
		{name: "not a number", in: "IpExt: InOctets OutOctets\nIpExt: x 20\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.in
			if f, ok := strings.CutPrefix(tt.in, "@"); ok {
				b, err := os.ReadFile("testdata/" + f)
				if err != nil {
					t.Fatal(err)
				}
				text = string(b)
			}
			in, out, err := parseNetstat(strings.NewReader(text))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseNetstat(%q) error = %v; want error %v", text, err, tt.wantErr)
			}
			if !tt.wantErr && (in != tt.in_ || out != tt.out) {
				t.Errorf("parseNetstat(%q) = %d, %d; want %d, %d", text, in, out, tt.in_, tt.out)
			}
		})
	}
}

func TestParseBootTime(t *testing.T) {
	tests := []struct {
		name, in string
		want     uint64
		wantErr  bool
	}{
		{"present", "cpu  1 2 3\nintr 5\nbtime 1796134291\nprocesses 9\n", 1796134291, false},
		{"missing", "cpu  1 2 3\n", 0, true},
		{"not a number", "btime soon\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBootTime(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseBootTime(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	for _, name := range []string{"stat-bash.txt", "stat-parens.txt"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("1 (x) S"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStat(b)
		if err != nil && s != (procStat{}) {
			t.Errorf("parseStat(%q) = %+v with error %v; want the zero value", b, s, err)
		}
	})
}

func FuzzParseNetstat(f *testing.F) {
	b, err := os.ReadFile("testdata/netstat.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Add("IpExt: InOctets OutOctets\nIpExt: 10 20\n")
	f.Fuzz(func(t *testing.T, s string) {
		in, out, err := parseNetstat(strings.NewReader(s))
		if err != nil && (in != 0 || out != 0) {
			t.Errorf("parseNetstat(%q) = %d, %d with error %v; want zeros", s, in, out, err)
		}
	})
}

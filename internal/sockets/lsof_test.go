package sockets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"homeport/internal/procs"
)

// lsofSummary prints a parsed socket in one line for comparisons:
// "tcp LISTEN 127.0.0.1:3000 <- 0.0.0.0:0 uid 501 by 4242/node".
func lsofSummary(ss []lsofSocket) []string {
	var out []string
	for _, s := range ss {
		line := fmt.Sprintf("%s %s %s <- %s uid %d by", s.Proto, s.State, s.Local, s.Remote, s.UID)
		for _, p := range s.owners {
			line += fmt.Sprintf(" %d/%s(%d,%s,ppid %d)", p.PID, p.Name, p.UID, p.User, p.PPID)
		}
		out = append(out, line)
	}
	return out
}

func TestParseLsofFixture(t *testing.T) {
	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{
			name:   "listeners",
			filter: Filter{},
			want: []string{
				"udp UNCONN 0.0.0.0:5353 <- 0.0.0.0:0 uid 65 by 385/mDNSResponder(65,_mdnsresponder,ppid 1)",
				"udp UNCONN [::]:5353 <- [::]:0 uid 65 by 385/mDNSResponder(65,_mdnsresponder,ppid 1)",
				"tcp LISTEN 0.0.0.0:7000 <- 0.0.0.0:0 uid 501 by 512/ControlCenter(501,dev,ppid 1)",
				"tcp LISTEN [::]:7000 <- [::]:0 uid 501 by 512/ControlCenter(501,dev,ppid 1)",
				"tcp LISTEN 0.0.0.0:5000 <- 0.0.0.0:0 uid 501 by 512/ControlCenter(501,dev,ppid 1)",
				"tcp LISTEN 127.0.0.1:3000 <- 0.0.0.0:0 uid 501 by 4242/node(501,dev,ppid 4200)",
				"tcp LISTEN [::1]:9229 <- [::]:0 uid 501 by 4242/node(501,dev,ppid 4200)",
				"tcp LISTEN [::1]:5432 <- [::]:0 uid 502 by 811/postgres(502,postgres,ppid 1)",
				"tcp LISTEN 127.0.0.1:5432 <- 0.0.0.0:0 uid 502 by 811/postgres(502,postgres,ppid 1)",
				// One socket, shared by nginx's master and its worker (which
				// holds it twice): one row with two owners.
				"tcp LISTEN 0.0.0.0:8080 <- 0.0.0.0:0 uid 501 by 900/nginx(501,dev,ppid 1) 901/nginx(501,dev,ppid 900)",
			},
		},
		{
			name:   "tcp port 3000, all states",
			filter: Filter{TCP: true, All: true, Port: 3000},
			want: []string{
				"tcp LISTEN 127.0.0.1:3000 <- 0.0.0.0:0 uid 501 by 4242/node(501,dev,ppid 4200)",
				"tcp ESTAB 127.0.0.1:3000 <- 127.0.0.1:52344 uid 501 by 4242/node(501,dev,ppid 4200)",
			},
		},
		{
			name:   "udp, all states",
			filter: Filter{UDP: true, All: true},
			want: []string{
				"udp UNCONN 0.0.0.0:5353 <- 0.0.0.0:0 uid 65 by 385/mDNSResponder(65,_mdnsresponder,ppid 1)",
				"udp UNCONN [::]:5353 <- [::]:0 uid 65 by 385/mDNSResponder(65,_mdnsresponder,ppid 1)",
				"udp ESTAB [fe80::1c2b:3dff:fe4e:5f60]:61234 <- [fe80::1]:53 uid 501 by 1502/Google Chrome Helper(501,dev,ppid 1)",
			},
		},
		{
			name:   "tcp connections of a command with spaces",
			filter: Filter{TCP: true, All: true, PIDs: []int{1502}},
			want: []string{
				"tcp ESTAB 192.168.1.20:52345 <- 140.82.112.3:443 uid 501 by 1502/Google Chrome Helper(501,dev,ppid 1)",
				"tcp CLOSE-WAIT 192.168.1.20:52350 <- 151.101.1.69:443 uid 501 by 1502/Google Chrome Helper(501,dev,ppid 1)",
				"tcp UNCONN 127.0.0.1:52399 <- 0.0.0.0:0 uid 501 by 1502/Google Chrome Helper(501,dev,ppid 1)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open("testdata/lsof/darwin-all.txt")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := parseLsof(f, lsofKeep(&tt.filter))
			if err != nil {
				t.Fatalf("parseLsof(darwin-all.txt) = %v", err)
			}
			if len(tt.filter.PIDs) > 0 {
				// lsof's -a -p does this part when it runs.
				got = slices.DeleteFunc(got, func(s lsofSocket) bool {
					return !slices.ContainsFunc(s.owners, func(p procs.Process) bool { return slices.Contains(tt.filter.PIDs, p.PID) })
				})
			}
			if diff := cmp.Diff(tt.want, lsofSummary(got)); diff != "" {
				t.Errorf("parseLsof(darwin-all.txt) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLsof(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  bool
	}{
		{name: "empty", in: ""},
		{name: "process without files", in: "p12\ncsleep\nu501\n"},
		{
			name: "crlf and unknown fields",
			in:   "p12\r\nR1\r\ncx\r\nu7\r\nK99\r\nf3\r\naw\r\ntIPv4\r\nPTCP\r\nn10.0.0.1:80\r\nTST=LISTEN\r\nTQR=0\r\n",
			want: []string{"tcp LISTEN 10.0.0.1:80 <- 0.0.0.0:0 uid 7 by 12/x(7,,ppid 1)"},
		},
		{
			name: "v4-mapped in an IPv6 file",
			in:   "p12\nf3\ntIPv6\nPTCP\nn[::ffff:127.0.0.1]:80\nTST=LISTEN\n",
			want: []string{"tcp LISTEN [::ffff:127.0.0.1]:80 <- [::]:0 uid -1 by 12/(-1,,ppid 0)"},
		},
		{
			name: "skips unix sockets, pipes, unbound and unknown states",
			in: "p12\nf3\ntunix\nn/tmp/s\nf4\ntPIPE\nf5\ntIPv4\nPUDP\nn*:*\n" +
				"f6\ntIPv4\nPTCP\nn*:1\nTST=UNKNOWN\nf7\ntIPv4\nPSCTP\nn*:2\n",
		},
		{name: "bad pid", in: "px\n", err: true},
		{name: "negative pid", in: "p-3\n", err: true},
		{name: "file before process", in: "f3\ntIPv4\n", err: true},
		{name: "no port", in: "p1\nf3\ntIPv4\nPTCP\nn127.0.0.1\nTST=LISTEN\n", err: true},
		{name: "port out of range", in: "p1\nf3\ntIPv4\nPTCP\nn127.0.0.1:65536\nTST=LISTEN\n", err: true},
		{name: "bad address", in: "p1\nf3\ntIPv6\nPTCP\nn[::g]:80\nTST=LISTEN\n", err: true},
		{name: "host name (lsof run without -n)", in: "p1\nf3\ntIPv4\nPTCP\nnlocalhost:80\nTST=LISTEN\n", err: true},
		{name: "bad remote", in: "p1\nf3\ntIPv4\nPTCP\nn1.2.3.4:80->x:1\nTST=ESTABLISHED\n", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLsof(strings.NewReader(tt.in), nil)
			if tt.err {
				if !errors.Is(err, errLsof) {
					t.Fatalf("parseLsof(%q) error = %v; want one wrapping errLsof", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseLsof(%q) = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, lsofSummary(got)); diff != "" {
				t.Errorf("parseLsof(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestLsofArgs(t *testing.T) {
	tests := []struct {
		name string
		f    Filter
		want string
	}{
		{"listeners", Filter{}, "-iTCP -iUDP"},
		{"tcp listeners", Filter{TCP: true}, "-iTCP -sTCP:LISTEN"},
		{"all tcp on a port", Filter{TCP: true, All: true, Port: 3000}, "-iTCP:3000"},
		{"udp of two pids", Filter{UDP: true, PIDs: []int{4, 42}}, "-iUDP -a -p 4,42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(lsofArgs(&tt.f), " ")
			want := "-n -P -w +c0 -Ts -FpcuLRfdtPnT " + tt.want
			if got != want {
				t.Errorf("lsofArgs(%+v) = %q; want %q", tt.f, got, want)
			}
		})
	}
}

// TestLsofLive runs this machine's real lsof with the arguments the macOS
// backend uses (lsof's field output is the same on Linux) against sockets
// the test opens, and parses what it prints.
func TestLsofLive(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("lsof is a Unix tool")
	}
	lsof, err := exec.LookPath("lsof")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("lsof is not installed; the test script installs it (apt-get install -y lsof)")
		}
		t.Skip("lsof is not installed (apt-get install -y lsof)")
	}
	tcp4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp4.Close()
	port := uint16(tcp4.Addr().(*net.TCPAddr).Port)
	// The same port on ::1 and over UDP, where free.
	want := []string{fmt.Sprintf("tcp LISTEN 127.0.0.1:%d", port)}
	if tcp6, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", port)); err == nil {
		defer tcp6.Close()
		want = append(want, fmt.Sprintf("tcp LISTEN [::1]:%d", port))
	}
	if udp4, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		defer udp4.Close()
		want = append(want, fmt.Sprintf("udp UNCONN 127.0.0.1:%d", port))
	}
	f := Filter{Port: port, PIDs: []int{os.Getpid()}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, lsof, lsofArgs(&f)...).Output()
	if err != nil {
		t.Fatalf("lsof %s: %v", strings.Join(lsofArgs(&f), " "), err)
	}
	got, err := parseLsof(strings.NewReader(string(out)), lsofKeep(&f))
	if err != nil {
		t.Fatalf("parseLsof(%q) = %v", out, err)
	}
	var lines []string
	for _, s := range got {
		lines = append(lines, fmt.Sprintf("%s %s %s", s.Proto, s.State, s.Local))
		if len(s.owners) != 1 || s.owners[0].PID != os.Getpid() || s.owners[0].Name == "" {
			t.Errorf("socket %s: owners %+v; want this test process (%d)", s.Local, s.owners, os.Getpid())
		}
	}
	slices.Sort(want)
	slices.Sort(lines)
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("lsof of our own sockets mismatch (-want +got):\n%s\nlsof printed:\n%s", diff, out)
	}
}

func FuzzParseLsof(f *testing.F) {
	fix, err := os.ReadFile("testdata/lsof/darwin-all.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(fix))
	f.Add("p12\nf3\ntIPv6\nPTCP\nn[::1]:80->[::1]:5\nTST=ESTABLISHED\n")
	f.Add("p1\nf3\ntIPv4\nPUDP\nn*:53\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseLsof(strings.NewReader(in), nil)
		if err != nil {
			if !errors.Is(err, errLsof) {
				t.Fatalf("parseLsof(%q) error %v does not wrap errLsof", in, err)
			}
			return
		}
		for _, s := range got {
			if !s.Local.IsValid() || s.Local.Port() == 0 || len(s.owners) == 0 {
				t.Fatalf("parseLsof(%q) returned %+v", in, s)
			}
			seen := map[int]bool{}
			for _, p := range s.owners {
				if seen[p.PID] {
					t.Fatalf("parseLsof(%q): pid %d twice among the owners of %s", in, p.PID, s.Local)
				}
				seen[p.PID] = true
			}
		}
	})
}

// BenchmarkParseLsof parses lsof output for 2000 processes with a
// listener and a connection each.
func BenchmarkParseLsof(b *testing.B) {
	var sb strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&sb, "p%d\nR1\ncnode\nu501\nLdev\n", 1000+i)
		fmt.Fprintf(&sb, "f20\ntIPv4\nd0x%x\nPTCP\nn127.0.0.1:%d\nTST=LISTEN\n", 0x7e00+2*i, 3000+i)
		fmt.Fprintf(&sb, "f21\ntIPv6\nd0x%x\nPTCP\nn[::1]:%d->[::1]:%d\nTST=ESTABLISHED\n", 0x7e01+2*i, 3000+i, 50000+i)
	}
	in := sb.String()
	f := &Filter{}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		got, err := parseLsof(strings.NewReader(in), lsofKeep(f))
		if err != nil || len(got) != 2000 {
			b.Fatalf("%d sockets, %v", len(got), err)
		}
	}
}

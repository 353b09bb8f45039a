package sockets

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseProcNetCaptured(t *testing.T) {
	tests := []struct {
		file   string
		proto  Proto
		states uint32
		port   uint16
		want   []Socket
	}{
		{
			file: "proc_net_tcp", proto: TCP, states: statesListening,
			want: []Socket{
				{Proto: TCP, State: Listen, Local: mustAP("127.0.0.1:3000"), Remote: mustAP("0.0.0.0:0"), RecvQ: 1, Inode: 207643},
				{Proto: TCP, State: Listen, Local: mustAP("0.0.0.0:5432"), Remote: mustAP("0.0.0.0:0"), Inode: 207644},
			},
		},
		{
			file: "proc_net_tcp", proto: TCP, states: statesAll, port: 37854,
			want: []Socket{
				{Proto: TCP, State: Established, Local: mustAP("127.0.0.1:37854"), Remote: mustAP("127.0.0.1:3000"), Inode: 207650},
			},
		},
		{
			file: "proc_net_tcp6", proto: TCP, states: statesListening, port: 8080,
			want: []Socket{
				{Proto: TCP, State: Listen, Local: mustAP("[::1]:8080"), Remote: mustAP("[::]:0"), Inode: 207645},
			},
		},
		{
			file: "proc_net_udp", proto: UDP, states: statesListening,
			want: []Socket{
				{Proto: UDP, State: Close, Local: mustAP("127.0.0.1:5353"), Remote: mustAP("0.0.0.0:0"), Inode: 207648},
			},
		},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/port%d", tt.file, tt.port), func(t *testing.T) {
			f, err := os.Open("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := parseProcNet(f, tt.proto, tt.states, tt.port, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("parseProcNet(%s) (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestParseProcNetErrors(t *testing.T) {
	const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	tests := []struct {
		name, line, want string
	}{
		{"too few fields", "0: 0100007F:0BB8 00000000:0000 0A\n", "4 fields"},
		{"state not hex", "0: 0100007F:0BB8 00000000:0000 ZZ 00000000:00000000 00:00000000 00000000 0 0 1\n", "state"},
		{"address length", "0: 0100007:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", "8 or 32 hex digits"},
		{"port not hex", "0: 0100007F:0BXX 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", "port"},
		{"no colon", "0: 0100007F0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", "addr:port"},
		{"uid", "0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000 -1 0 1\n", "uid"},
		{"inode", "0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x\n", "inode"},
		{"queues", "0: 0100007F:0BB8 00000000:0000 0A 0000000000000000 00:00000000 00000000 0 0 1\n", "queues"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseProcNet(strings.NewReader(header+tt.line), TCP, statesAll, 0, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "line 2") {
				t.Errorf("parseProcNet(%q) error = %v; want one naming line 2 and %q", tt.line, err, tt.want)
			}
		})
	}
}

// syntheticProcNet builds a /proc/net/tcp with n listeners and n connections.
func syntheticProcNet(n int) []byte {
	var b bytes.Buffer
	b.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%4d: 0100007F:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 %d 1 0000000000000000 100 0 0 10 0\n", i, 1024+i, 100000+i)
		fmt.Fprintf(&b, "%4d: 0100007F:%04X 0100007F:%04X 01 00000000:00000000 00:00000000 00000000  1000        0 %d 2 0000000000000000 20 4 30 10 -1\n", i, 40000+i%20000, 1024+i, 200000+i)
	}
	return b.Bytes()
}

func BenchmarkParseProcNet(b *testing.B) {
	data := syntheticProcNet(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var out []Socket
	for b.Loop() {
		var err error
		out, err = parseProcNet(bytes.NewReader(data), TCP, statesListening, 0, out[:0])
		if err != nil || len(out) != 10000 {
			b.Fatalf("got %d sockets, err %v", len(out), err)
		}
	}
}

func FuzzParseProcNet(f *testing.F) {
	for _, name := range []string{"proc_net_tcp", "proc_net_tcp6", "proc_net_udp", "proc_net_udp6"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(syntheticProcNet(3))
	f.Add([]byte("header\n0: 0100007F:0BB8 00000000:0000 0A\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		socks, err := parseProcNet(bytes.NewReader(data), TCP, statesAll, 0, nil)
		if err != nil {
			if !strings.Contains(err.Error(), "line ") && !strings.Contains(err.Error(), "header") {
				t.Errorf("error %q does not name the line", err)
			}
			return
		}
		for _, s := range socks {
			if !s.Local.IsValid() || !s.Remote.IsValid() {
				t.Errorf("invalid address in %+v", s)
			}
		}
	})
}

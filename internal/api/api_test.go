package api

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"homeport/internal/procs"
	"homeport/internal/sockets"
	"homeport/internal/watch"
)

func TestSocketOf(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		in   sockets.Socket
		want Socket
	}{
		{
			name: "dual-stack listener with an owner",
			in: sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("[::]:5432"), Inode: 7, UID: 0, SendQ: 128,
				Owners: []procs.Process{{PID: 42, PPID: 1, Name: "postgres", UID: 0, User: "root", Cmdline: []string{"postgres", "-D", "/d"}, Start: start}}},
			want: Socket{Proto: "tcp", State: "LISTEN", Family: "ipv6", Address: "::", Port: 5432, Local: "[::]:5432", Remote: "invalid AddrPort",
				Exposure: "all interfaces", DualStack: true, Class: "registered", Inode: 7, UID: 0, User: "root", SendQ: 128,
				Owners: []Owner{{PID: 42, PPID: 1, Name: "postgres", UID: 0, User: "root", Cmdline: []string{"postgres", "-D", "/d"}, Started: &start}}},
		},
		{
			name: "udp on loopback without an owner",
			in:   sockets.Socket{Proto: sockets.UDP, State: sockets.Close, Local: netip.MustParseAddrPort("127.0.0.1:53"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), UID: -1},
			want: Socket{Proto: "udp", State: "UNCONN", Family: "ipv4", Address: "127.0.0.1", Port: 53, Local: "127.0.0.1:53", Remote: "0.0.0.0:0",
				Exposure: "loopback", Class: "well-known", UID: -1, Owners: []Owner{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, SocketOf(&tt.in)); d != "" {
				t.Errorf("SocketOf(%v) (-want +got):\n%s", tt.in.Local, d)
			}
		})
	}
}

func TestEventOf(t *testing.T) {
	s := sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("127.0.0.1:3000"), UID: -1}
	prev := s
	b, err := json.Marshal(EventOf(&watch.Event{Kind: watch.Changed, Socket: s, Previous: &prev}))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if string(m["event"]) != `"change"` || m["socket"] == nil || m["previous"] == nil {
		t.Errorf("EventOf = %s; want event change with socket and previous", b)
	}
	b, _ = json.Marshal(EventOf(&watch.Event{Kind: watch.Opened, Socket: s}))
	if json.Unmarshal(b, &m) != nil || string(m["event"]) != `"open"` {
		t.Errorf("EventOf(open) = %s", b)
	}
}

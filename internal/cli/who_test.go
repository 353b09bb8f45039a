package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

var start = time.Date(2026, 11, 26, 14, 2, 0, 0, time.Local)

func node(pid int) procs.Process {
	return procs.Process{PID: pid, Name: "node", UID: 1000, User: "dev", Cmdline: []string{"node", "server.js"}, Start: start}
}

func listener(addr string, v6only bool, owners ...procs.Process) sockets.Socket {
	return sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort(addr), V6Only: v6only, UID: 1000, Owners: owners}
}

// fakeFactory answers every inventory with socks (filtered by port and
// protocol as the kernel would, and by the rest of the filter as Take
// does) and hidden.
func fakeFactory(socks []sockets.Socket, hidden int) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	f := &Factory{IO: &IO{Out: &out, Err: &errb}}
	f.Take = func(ctx context.Context, flt sockets.Filter) (*sockets.Snapshot, error) {
		var got []sockets.Socket
		for _, s := range socks {
			if flt.Port != 0 && s.Port() != flt.Port {
				continue
			}
			if flt.TCP && !flt.UDP && s.Proto != sockets.TCP || flt.UDP && !flt.TCP && s.Proto != sockets.UDP {
				continue
			}
			if !flt.Match(&s) {
				continue
			}
			got = append(got, s)
		}
		return &sockets.Snapshot{Sockets: got, Source: "fake", Hidden: hidden}, nil
	}
	return f, &out, &errb
}

func runWho(t *testing.T, f *Factory, args ...string) int {
	t.Helper()
	root := NewRoot(f)
	root.SetArgs(append([]string{"who"}, args...))
	err := root.ExecuteContext(context.Background())
	if err != nil {
		printError(f.IO, err)
	}
	return exitCode(err)
}

func TestWhoSentences(t *testing.T) {
	socks := []sockets.Socket{
		listener("127.0.0.1:62893", false, node(4242)),
		listener("[::]:5432", false, procs.Process{PID: 811, Name: "postgres", UID: 100, User: "pg", Cmdline: []string{"postgres"}, Start: start}),
		listener("[::]:9229", true, node(7)),
		listener("0.0.0.0:8080", false, node(10), node(11)),
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("0.0.0.0:2024"), UID: 0},
		{Proto: sockets.UDP, State: sockets.Close, Local: netip.MustParseAddrPort("127.0.0.1:5353"), UID: 1000, Owners: []procs.Process{node(5)}},
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"62893"}, 0, "62893/tcp is held by node (pid 4242, user dev), listening on 127.0.0.1 only, since "},
		{[]string{"62893"}, 0, ": node server.js\n"},
		{[]string{"localhost:62893"}, 0, "62893/tcp is held by node (pid 4242"},
		{[]string{"[::1]:62893"}, 1, "nothing is listening on port 62893 for ::1; port 62893 is held on 127.0.0.1:62893 by node\n"},
		{[]string{"5432"}, 0, "held by postgres (pid 811, user pg), listening on all interfaces: [::] (IPv4 and IPv6)"},
		{[]string{"127.0.0.1:5432"}, 0, "held by postgres"},     // dual-stack takes IPv4
		{[]string{"127.0.0.1:9229"}, 1, "nothing is listening"}, // v6-only does not
		{[]string{"8080"}, 0, "held by node (pid 10, user dev; shared with node 11)"},
		{[]string{"2024"}, 0, "2024/tcp is held by a process outside this PID namespace, or the kernel (no visible owner), listening on all interfaces: 0.0.0.0"},
		{[]string{"5353/udp"}, 0, "5353/udp is held by node (pid 5"},
		{[]string{"5353"}, 0, "5353/udp is held by node (pid 5"}, // a bare port is every protocol
		{[]string{"5353/tcp"}, 1, "nothing is listening on port 5353/tcp\n"},
		{[]string{"3000"}, 1, "nothing is listening on port 3000\n"},
		{[]string{"62893", "3000"}, 1, "62893/tcp is held"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, out, errb := fakeFactory(socks, 0)
			code := runWho(t, f, tt.args...)
			if code != tt.code {
				t.Errorf("who %v exit %d; want %d (stderr %q)", tt.args, code, tt.code, errb)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("who %v printed %q; want it to contain %q", tt.args, out, tt.want)
			}
		})
	}
}

func TestWhoBadInput(t *testing.T) {
	for _, tt := range []struct {
		arg, want string
	}{
		{"70000", `homeport: error: "70000" is not a port (1-65535)`},
		{"0", `"0" is not a port`},
		{"host:", "missing port"},
		{"bad host:1", "is not a host name"},
	} {
		f, out, errb := fakeFactory(nil, 0)
		if code := runWho(t, f, tt.arg); code != 2 {
			t.Errorf("who %q exit %d; want 2", tt.arg, code)
		}
		if !strings.Contains(errb.String(), tt.want) || out.Len() != 0 {
			t.Errorf("who %q: stdout %q stderr %q; want an error containing %q on stderr only", tt.arg, out, errb, tt.want)
		}
	}
}

func TestWhoHiddenAndJSON(t *testing.T) {
	socks := []sockets.Socket{{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("127.0.0.1:80"), UID: 33}}
	f, out, errb := fakeFactory(socks, 3)
	tg, _ := ports.ParseTarget("80")
	opts := &WhoOptions{IO: f.IO, Factory: f, Targets: []ports.Target{tg}, Now: time.Now, JSON: true, Notes: &OwnerNotes{EUID: 1000}}
	if err := whoRun(context.Background(), opts); err != nil {
		t.Fatalf("whoRun: %v", err)
	}
	var got []whoJSON
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	if len(got) != 1 || !got[0].Held || got[0].Target != "80" || got[0].Sockets[0].Class != "well-known" || got[0].Sockets[0].Owners == nil {
		t.Errorf("--json = %+v", got)
	}
	if !strings.Contains(errb.String(), "some owners are hidden; run with sudo to see them") {
		t.Errorf("stderr %q; want the hidden-owners note", errb)
	}
}

// What who says of a socket without a visible owner depends on who asks: as
// root, the owner is outside this PID namespace; as another user, the
// socket's uid tells whose it is, and sudo shows the process.
func TestWhoUnseenOwner(t *testing.T) {
	sock := func(uid int) []sockets.Socket {
		return []sockets.Socket{{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("127.0.0.1:6379"), UID: uid}}
	}
	tests := []struct {
		name  string
		euid  int
		socks []sockets.Socket
		want  string
	}{
		{"root asks of root's", 0, sock(0), "6379/tcp is held by a process outside this PID namespace, or the kernel (no visible owner), listening on 127.0.0.1 only\n"},
		{"nobody asks of root's", 65534, sock(0), "6379/tcp is held by a process that user nobody cannot see (its socket is root's, uid 0), listening on 127.0.0.1 only\n  hint: sudo homeport who 6379 shows the process\n"},
		{"nobody asks of its own", 65534, sock(65534), "6379/tcp is held by a process that homeport cannot read, though its socket is yours (nobody): one started by root that changed to this user, or one outside this PID namespace, listening on 127.0.0.1 only\n  hint: sudo homeport who 6379 shows the process\n"},
		{"nobody asks, uid unknown", 65534, sock(-1), "6379/tcp is held by a process homeport cannot see, listening on 127.0.0.1 only\n  hint: sudo homeport who 6379 shows the process\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errb := fakeFactory(tt.socks, 1)
			opts := &WhoOptions{IO: f.IO, Factory: f, Now: time.Now, Notes: &OwnerNotes{EUID: tt.euid}}
			tg, _ := ports.ParseTarget("6379")
			opts.Targets = []ports.Target{tg}
			if err := whoRun(context.Background(), opts); err != nil {
				t.Fatalf("whoRun: %v (stderr %q)", err, errb)
			}
			if out.String() != tt.want {
				t.Errorf("who 6379 as uid %d printed\n%q; want\n%q", tt.euid, out, tt.want)
			}
		})
	}
}

// A process holding a port on TCP and UDP alike (dnsmasq) gets one sentence.
func TestWhoBothProtocolsOneSentence(t *testing.T) {
	dns := procs.Process{PID: 53, Name: "dnsmasq", UID: 65534, User: "nobody", Cmdline: []string{"dnsmasq", "-k"}, Start: start}
	socks := []sockets.Socket{
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("127.0.0.1:5353"), UID: 0, Owners: []procs.Process{dns}},
		{Proto: sockets.UDP, State: sockets.Close, Local: netip.MustParseAddrPort("127.0.0.1:5353"), UID: 0, Owners: []procs.Process{dns}},
		{Proto: sockets.UDP, State: sockets.Close, Local: netip.MustParseAddrPort("0.0.0.0:5354"), UID: 0, Owners: []procs.Process{dns}},
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("127.0.0.1:5354"), UID: 0, Owners: []procs.Process{dns}},
	}
	f, out, _ := fakeFactory(socks, 0)
	if code := runWho(t, f, "5353"); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if want := "5353/tcp and 5353/udp are held by dnsmasq (pid 53, user nobody), listening on 127.0.0.1 only, since "; !strings.HasPrefix(out.String(), want) || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("who 5353 printed %q; want one line starting %q", out, want)
	}
	// Different addresses: a sentence each.
	f, out, _ = fakeFactory(socks, 0)
	if code := runWho(t, f, "5354"); code != 0 || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("who 5354 exit %d, printed %q; want two sentences", code, out)
	}
}

package doctor

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// fakeEnv is an Env over made-up facts: listeners, what each address does
// when dialled, a resolver table, process states and queues.
type fakeEnv struct {
	listeners []sockets.Socket
	dial      map[string]Result // "127.0.0.1:3000" -> result; missing: refused
	hosts     map[string][]netip.Addr
	states    map[int]string
	queues    []Queue
	ruleset   *Ruleset
	local     []netip.Addr
	sysctl    map[string]string
	privOK    bool
	listenErr error
}

func (fe *fakeEnv) env() *Env {
	return &Env{
		Resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
			if a, ok := fe.hosts[host]; ok {
				return a, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		},
		Inventory: func(ctx context.Context, port uint16) ([]sockets.Socket, error) {
			var out []sockets.Socket
			for _, s := range fe.listeners {
				if port == 0 || s.Port() == port {
					out = append(out, s)
				}
			}
			return out, nil
		},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			switch fe.dial[addr] {
			case Connected:
				c1, c2 := net.Pipe()
				go c2.Close()
				return c1, nil
			case TimedOut:
				<-ctx.Done()
				return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
			}
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		},
		Firewall: func(ctx context.Context) (*Ruleset, error) { return fe.ruleset, nil },
		ProcState: func(pid int) (string, error) {
			if s, ok := fe.states[pid]; ok {
				return s, nil
			}
			return "S", nil
		},
		Backlog:    func(port uint16) ([]Queue, error) { return fe.queues, nil },
		LocalAddrs: func() ([]netip.Addr, error) { return fe.local, nil },
		Sysctl: func(name string) (string, error) {
			if v, ok := fe.sysctl[name]; ok {
				return v, nil
			}
			return "", os.ErrNotExist
		},
		CanBindPrivileged: func() bool { return fe.privOK },
		Listen: func(network, addr string) (net.Listener, error) {
			if fe.listenErr != nil {
				return nil, &net.OpError{Op: "listen", Net: network, Err: os.NewSyscallError("bind", fe.listenErr)}
			}
			return net.Listen("tcp", "127.0.0.1:0")
		},
	}
}

func listener(addr string, pid int, name string) sockets.Socket {
	return sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort(addr), UID: 1000,
		Owners: []procs.Process{{PID: pid, Name: name}}}
}

func mustTarget(t *testing.T, s string) ports.Target {
	t.Helper()
	tg, err := ports.ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func findingByID(r *Report, id string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].ID == id {
			return &r.Findings[i]
		}
	}
	return nil
}

// text is all a person reads of a finding.
func (f *Finding) text() string {
	return f.Title + "\n" + strings.Join(f.Evidence, "\n") + "\nfix: " + f.Fix
}

// checkNames fails unless the finding names each of want (process, address)
// and has a fix containing fix.
func checkNames(t *testing.T, f *Finding, fix string, want ...string) {
	t.Helper()
	txt := f.text()
	for _, w := range want {
		if !strings.Contains(txt, w) {
			t.Errorf("finding %s does not name %q:\n%s", f.ID, w, txt)
		}
	}
	if f.Fix == "" || !strings.Contains(f.Fix, fix) {
		t.Errorf("finding %s fix = %q; want it to contain %q", f.ID, f.Fix, fix)
	}
}

func TestDiagnose(t *testing.T) {
	lo4 := netip.MustParseAddr("127.0.0.1")
	lo6 := netip.IPv6Loopback()
	lan := netip.MustParseAddr("198.18.0.2")
	tests := []struct {
		name   string
		target string
		fe     fakeEnv
		wantID string // "" for a healthy target
		fix    string
		names  []string
	}{
		{
			name:   "healthy bare port",
			target: "3000",
			fe: fakeEnv{listeners: []sockets.Socket{listener("127.0.0.1:3000", 4242, "node")},
				dial: map[string]Result{"127.0.0.1:3000": Connected}},
		},
		{
			name:   "healthy localhost on both families",
			target: "localhost:3000",
			fe: fakeEnv{listeners: []sockets.Socket{listener("[::]:3000", 4242, "node")},
				hosts: map[string][]netip.Addr{"localhost": {lo6, lo4}},
				dial:  map[string]Result{"127.0.0.1:3000": Connected, "[::1]:3000": Connected}},
		},
		{
			name:   "cause 1: nothing listens, did you mean",
			target: "3000",
			fe:     fakeEnv{listeners: []sockets.Socket{listener("127.0.0.1:3001", 4242, "node"), listener("0.0.0.0:8080", 77, "nginx")}},
			wantID: IDNothingListens, fix: "127.0.0.1:3001",
			names: []string{"did you mean 3001? node (pid 4242)", "127.0.0.1:3001", "port 3000"},
		},
		{
			name:   "cause 2: localhost resolves to ::1 first, server on 127.0.0.1",
			target: "localhost:3000",
			fe: fakeEnv{listeners: []sockets.Socket{listener("127.0.0.1:3000", 4242, "node")},
				hosts: map[string][]netip.Addr{"localhost": {lo6, lo4}},
				dial:  map[string]Result{"127.0.0.1:3000": Connected}},
			wantID: IDFamilyMismatch, fix: "listen on ::1 too",
			names: []string{"connection refused on ::1, works on 127.0.0.1", "localhost resolves to ::1 first", "node (pid 4242) listens on 127.0.0.1:3000 only", "127.0.0.1:3000"},
		},
		{
			name:   "cause 2 reverse: localhost is 127.0.0.1 only, server on ::1",
			target: "localhost:3000",
			fe: fakeEnv{listeners: []sockets.Socket{listener("[::1]:3000", 4242, "node")},
				hosts: map[string][]netip.Addr{"localhost": {lo4}}},
			wantID: IDFamilyMismatch, fix: "[::1]:3000",
			names: []string{"localhost resolves to 127.0.0.1 only", "node (pid 4242)", "[::1]:3000", "127.0.0.1"},
		},
		{
			name:   "cause 2: IPv6-only [::] by net.ipv6.bindv6only, IPv4 refused",
			target: "127.0.0.1:3000",
			fe: fakeEnv{listeners: []sockets.Socket{{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("[::]:3000"), V6Only: true,
				Owners: []procs.Process{{PID: 4242, Name: "node"}}}},
				sysctl: map[string]string{"net/ipv6/bindv6only": "1\n"}},
			wantID: IDFamilyMismatch, fix: "sudo sysctl net.ipv6.bindv6only=0",
			names: []string{"IPv6-only (IPV6_V6ONLY)", "node (pid 4242) listens on [::]:3000", "nothing takes connections to 127.0.0.1:3000", "IPV6_V6ONLY off", "[::1]:3000"},
		},
		{
			name:   "cause 2: 0.0.0.0 only, ::1 refused",
			target: "[::1]:3000",
			fe:     fakeEnv{listeners: []sockets.Socket{listener("0.0.0.0:3000", 4242, "node")}},
			wantID: IDFamilyMismatch, fix: `listen on "::" with IPv6-only off`,
			names: []string{"node (pid 4242) listens on 0.0.0.0:3000 only", "127.0.0.1:3000"},
		},
		{
			name:   "cause 3: *.localhost unknown to the resolver",
			target: "http://myapp.localhost:3000/",
			fe: fakeEnv{listeners: []sockets.Socket{listener("[::]:3000", 4242, "node")},
				hosts: map[string][]netip.Addr{"localhost": {lo4}},
				dial:  map[string]Result{"127.0.0.1:3000": Connected, "[::1]:3000": Connected}},
			wantID: IDUnresolvable, fix: "/etc/hosts",
			names: []string{"myapp.localhost", "node (pid 4242)", "127.0.0.1:3000"},
		},
		{
			name:   "cause 4: loopback only, LAN address refused",
			target: "198.18.0.2:3000",
			fe: fakeEnv{listeners: []sockets.Socket{listener("127.0.0.1:3000", 4242, "node")},
				local: []netip.Addr{lan}},
			wantID: IDLoopbackOnly, fix: "0.0.0.0",
			names: []string{"node (pid 4242)", "127.0.0.1:3000", "198.18.0.2:3000"},
		},
		{
			name:   "listening on another address",
			target: "127.0.0.1:3000",
			fe: fakeEnv{listeners: []sockets.Socket{listener("198.18.0.2:3000", 4242, "node")},
				local: []netip.Addr{lan}},
			wantID: IDWrongAddress, fix: "198.18.0.2:3000",
			names: []string{"node (pid 4242)", "198.18.0.2:3000", "127.0.0.1:3000"},
		},
		{
			name:   "cause 5: firewall drop, named",
			target: "198.18.0.2:3000",
			fe: fakeEnv{listeners: []sockets.Socket{listener("0.0.0.0:3000", 4242, "node")},
				local: []netip.Addr{lan}, dial: map[string]Result{"198.18.0.2:3000": TimedOut},
				ruleset: mustNFT(t, "testdata/nft-ruleset.json")},
			wantID: IDFirewall, fix: "nft delete rule inet hpcap input handle 7",
			names: []string{"node (pid 4242)", "198.18.0.2:3000", "table inet hpcap chain input handle 7", "drops"},
		},
		{
			name:   "cause 5: firewall reject, named",
			target: "198.18.0.2:9229",
			fe: fakeEnv{listeners: []sockets.Socket{listener("0.0.0.0:9229", 4242, "node")},
				local: []netip.Addr{lan}, ruleset: mustNFT(t, "testdata/nft-ruleset.json")},
			wantID: IDFirewall, fix: "handle 9",
			names: []string{"node (pid 4242)", "198.18.0.2:9229", "rejects"},
		},
		{
			name:   "cause 5: timeout without a rule is filtered",
			target: "198.18.0.2:4000",
			fe: fakeEnv{listeners: []sockets.Socket{listener("0.0.0.0:4000", 4242, "node")},
				local: []netip.Addr{lan}, dial: map[string]Result{"198.18.0.2:4000": TimedOut}},
			wantID: IDFiltered, fix: "firewall",
			names: []string{"filtered", "node (pid 4242)", "198.18.0.2:4000"},
		},
		{
			name:   "remote timeout is filtered",
			target: "198.51.100.7:22",
			fe:     fakeEnv{dial: map[string]Result{"198.51.100.7:22": TimedOut}},
			wantID: IDFiltered, fix: "198.51.100.7",
			names: []string{"filtered", "198.51.100.7:22"},
		},
		{
			name:   "cause 6: stopped process",
			target: "3000",
			fe: fakeEnv{listeners: []sockets.Socket{listener("127.0.0.1:3000", 4242, "node")},
				dial: map[string]Result{"127.0.0.1:3000": Connected}, states: map[int]string{4242: "T"}},
			wantID: IDProcessStopped, fix: "kill -CONT 4242",
			names: []string{"node (pid 4242)", "127.0.0.1:3000", "state T"},
		},
		{
			name:   "cause 6: full accept queue",
			target: "127.0.0.1:3000",
			fe: fakeEnv{listeners: []sockets.Socket{listener("127.0.0.1:3000", 4242, "node")},
				dial:   map[string]Result{"127.0.0.1:3000": TimedOut},
				queues: []Queue{{Local: netip.MustParseAddrPort("127.0.0.1:3000"), Queued: 129, Backlog: 128}}},
			wantID: IDBacklogFull, fix: "accept()",
			names: []string{"node (pid 4242)", "127.0.0.1:3000", "129 waiting, backlog 128"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fe.hosts == nil {
				tt.fe.hosts = map[string][]netip.Addr{"localhost": {lo4}}
			}
			rep, _ := Diagnose(context.Background(), tt.fe.env(), mustTarget(t, tt.target), &Options{Timeout: 400 * time.Millisecond})
			if tt.wantID == "" {
				if !rep.OK || len(rep.Findings) > 0 {
					t.Fatalf("Diagnose(%q) = not OK, findings %+v; want healthy", tt.target, rep.Findings)
				}
				if !strings.HasPrefix(rep.Verdict, "connected to") {
					t.Errorf("Diagnose(%q) verdict = %q; want \"connected to ...\"", tt.target, rep.Verdict)
				}
				return
			}
			if rep.OK {
				t.Fatalf("Diagnose(%q) OK; want finding %s", tt.target, tt.wantID)
			}
			f := findingByID(rep, tt.wantID)
			if f == nil {
				t.Fatalf("Diagnose(%q) findings = %v; want %s", tt.target, ids(rep), tt.wantID)
			}
			checkNames(t, f, tt.fix, tt.names...)
		})
	}
}

func ids(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.ID)
	}
	return out
}

func mustNFT(t *testing.T, path string) *Ruleset {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := ParseNFT(f)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// A black-holed address must not hold doctor longer than its timeout.
func TestDiagnoseTimeoutBound(t *testing.T) {
	fe := fakeEnv{dial: map[string]Result{"198.51.100.7:80": TimedOut, "198.51.100.8:80": TimedOut},
		hosts: map[string][]netip.Addr{"blackhole.test": {netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("198.51.100.8")}}}
	env := fe.env()
	// The firewall read also hangs until its context ends.
	env.Firewall = func(ctx context.Context) (*Ruleset, error) { <-ctx.Done(); return nil, ctx.Err() }
	start := time.Now()
	rep, _ := Diagnose(context.Background(), env, mustTarget(t, "blackhole.test:80"), &Options{Timeout: 300 * time.Millisecond})
	if d := time.Since(start); d > 300*time.Millisecond+250*time.Millisecond {
		t.Errorf("Diagnose took %s with --timeout 300ms", d)
	}
	if f := findingByID(rep, IDFiltered); f == nil {
		t.Errorf("findings = %v; want %s", ids(rep), IDFiltered)
	}
}

func TestDiagnoseBind(t *testing.T) {
	sys := map[string]string{"net/ipv4/ip_unprivileged_port_start": "1024", "net/ipv4/ip_local_port_range": "32768\t60999"}
	tests := []struct {
		name   string
		port   uint16
		fe     fakeEnv
		wantID string
		fix    string
		names  []string
	}{
		{name: "free port", port: 8080, fe: fakeEnv{sysctl: sys}},
		{name: "privileged for a user", port: 80, fe: fakeEnv{sysctl: sys, listenErr: syscall.EACCES},
			wantID: IDPrivilegedPort, fix: "setcap cap_net_bind_service", names: []string{"port 80", "ip_unprivileged_port_start is 1024"}},
		{name: "privileged but allowed", port: 80, fe: fakeEnv{sysctl: sys, privOK: true}},
		{name: "lowered unprivileged start", port: 80, fe: fakeEnv{sysctl: map[string]string{"net/ipv4/ip_unprivileged_port_start": "0"}}},
		{name: "ephemeral range", port: 40000, fe: fakeEnv{sysctl: sys},
			wantID: IDEphemeralPort, fix: "ip_local_reserved_ports=40000", names: []string{"32768-60999", "40000"}},
		{name: "in use", port: 3000, fe: fakeEnv{sysctl: sys, listenErr: syscall.EADDRINUSE, listeners: []sockets.Socket{listener("0.0.0.0:3000", 4242, "node")}},
			wantID: IDPortInUse, fix: "homeport kill 3000", names: []string{"node (pid 4242)", "0.0.0.0:3000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := DiagnoseBind(context.Background(), tt.fe.env(), tt.port, "tcp")
			if tt.wantID == "" {
				if !rep.OK {
					t.Fatalf("DiagnoseBind(%d) findings %v; want none", tt.port, ids(rep))
				}
				return
			}
			f := findingByID(rep, tt.wantID)
			if f == nil || rep.OK {
				t.Fatalf("DiagnoseBind(%d) findings = %v; want %s", tt.port, ids(rep), tt.wantID)
			}
			checkNames(t, f, tt.fix, tt.names...)
		})
	}
}

func TestSeverity(t *testing.T) {
	for _, s := range []Severity{Info, Low, Medium, High, Critical} {
		got, err := ParseSeverity(strings.ToUpper(s.String()))
		if err != nil || got != s {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Errorf("ParseSeverity(%q) = nil error; want one", "severe")
	}
}

func TestClassifyDialError(t *testing.T) {
	tests := []struct {
		err  error
		want Result
	}{
		{&net.OpError{Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, Refused},
		{&net.OpError{Err: context.DeadlineExceeded}, TimedOut},
		{&net.OpError{Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}, Unreachable},
		{errors.New("something else"), Failed},
	}
	for _, tt := range tests {
		if got := classifyDialError(tt.err); got != tt.want {
			t.Errorf("classifyDialError(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}

func TestNearby(t *testing.T) {
	all := []sockets.Socket{listener("127.0.0.1:3005", 1, "a"), listener("127.0.0.1:3001", 2, "b"),
		listener("[::1]:3001", 2, "b"), listener("127.0.0.1:30000", 3, "c"), listener("127.0.0.1:4000", 4, "d")}
	got := nearby(all, 3000, "tcp")
	var ports []uint16
	for _, s := range got {
		ports = append(ports, s.Port())
	}
	if !slices.Equal(ports, []uint16{3001, 3005, 30000}) {
		t.Errorf("nearby(3000) ports = %v; want [3001 3005 30000]", ports)
	}

}

func TestDiagnoseWildcardFamily(t *testing.T) {
	fe := fakeEnv{listeners: []sockets.Socket{listener("0.0.0.0:8080", 4242, "node")},
		hosts: map[string][]netip.Addr{"localhost": {netip.IPv6Loopback(), netip.MustParseAddr("127.0.0.1")}},
		dial:  map[string]Result{"127.0.0.1:8080": Connected}}
	rep, _ := Diagnose(context.Background(), fe.env(), mustTarget(t, "localhost:8080"), &Options{Timeout: time.Second})
	f := findingByID(rep, IDFamilyMismatch)
	if f == nil {
		t.Fatalf("findings %v; want %s", ids(rep), IDFamilyMismatch)
	}
	checkNames(t, f, "127.0.0.1:8080", "node (pid 4242)", "0.0.0.0:8080", "::1")
}

func TestDiagnoseUnexplainedFailure(t *testing.T) {
	fe := fakeEnv{dial: map[string]Result{"198.51.100.9:80": Unreachable}}
	env := fe.env()
	env.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}
	}
	rep, _ := Diagnose(context.Background(), env, mustTarget(t, "198.51.100.9:80"), &Options{Timeout: time.Second})
	if rep.OK {
		t.Fatalf("Diagnose(unreachable) OK; want a finding")
	}
	f := findingByID(rep, IDUnreachable)
	if f == nil {
		t.Fatalf("findings %v; want %s", ids(rep), IDUnreachable)
	}
	checkNames(t, f, "ip route get 198.51.100.9", "198.51.100.9:80", "unreachable")
}

func TestDiagnoseUDP(t *testing.T) {
	fe := fakeEnv{listeners: []sockets.Socket{{Proto: sockets.UDP, State: sockets.Close, Local: netip.MustParseAddrPort("0.0.0.0:5353"), UID: 0,
		Owners: []procs.Process{{PID: 9, Name: "avahi-daemon"}}}}}
	if rep, _ := Diagnose(context.Background(), fe.env(), mustTarget(t, "5353/udp"), nil); !rep.OK || !strings.Contains(rep.Verdict, "avahi-daemon (pid 9)") {
		t.Errorf("Diagnose(5353/udp) = %v %q; want OK naming avahi-daemon", ids(rep), rep.Verdict)
	}
	rep, _ := Diagnose(context.Background(), fe.env(), mustTarget(t, "5354/udp"), nil)
	if f := findingByID(rep, IDNothingListens); f == nil || !strings.Contains(f.Title, "5354") {
		t.Errorf("Diagnose(5354/udp) findings %v; want %s", ids(rep), IDNothingListens)
	}
}

// A known database behind an http:// URL is not sent an HTTP request: by
// its process, or by its port when the process is hidden (another PID
// namespace). Only the connection attempt reaches it.
func TestDiagnoseKnownNonHTTPNotContacted(t *testing.T) {
	for _, l := range []sockets.Socket{
		listener("127.0.0.1:6380", 811, "redis-server"),
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("127.0.0.1:5432"), UID: 0},
	} {
		target := "http://" + l.Local.String() + "/"
		fe := fakeEnv{listeners: []sockets.Socket{l}, dial: map[string]Result{l.Local.String(): Connected}}
		env := fe.env()
		dial := env.Dial
		dials := 0
		env.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials++
			return dial(ctx, network, addr)
		}
		rep, _ := Diagnose(context.Background(), env, mustTarget(t, target), &Options{Timeout: time.Second})
		f := findingByID(rep, IDNotHTTP)
		if f == nil {
			t.Fatalf("Diagnose(%s) findings = %v; want %s", target, ids(rep), IDNotHTTP)
		}
		if dials != 1 || rep.HTTP.Service == "" || !strings.Contains(f.text(), rep.HTTP.Service) {
			t.Errorf("Diagnose(%s): %d dials, service %q, finding %q; want 1 dial and the service named", target, dials, rep.HTTP.Service, f.text())
		}
	}
}

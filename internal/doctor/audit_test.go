package doctor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"homeport/internal/procs"
	"homeport/internal/sockets"
)

func TestAuditExposure(t *testing.T) {
	fe := fakeEnv{listeners: []sockets.Socket{
		listener("0.0.0.0:6379", 811, "redis-server"),
		listener("[::]:2375", 900, "dockerd"),
		listener("198.18.0.2:8080", 77, "python3"),
		listener("127.0.0.1:5432", 12, "postgres"),     // loopback: not exposed
		listener("0.0.0.0:52440", 812, "redis-server"), // Redis on a port of its own
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("0.0.0.0:40123"), UID: 1000,
			Owners: []procs.Process{{PID: 55, Name: "java", Cmdline: []string{"java", "-agentlib:jdwp=transport=dt_socket,server=y,address=*:40123", "-jar", "app.jar"}}}},
	}}
	rep, err := Audit(context.Background(), fe.env(), &AuditOptions{NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Exposed) != 5 {
		t.Fatalf("Audit exposed = %+v; want 5 listeners", rep.Exposed)
	}
	tests := []struct {
		addr  string
		id    string
		sev   Severity
		names []string
	}{
		{"0.0.0.0:6379/tcp", IDDangerousService, High, []string{"Redis", "redis-server (pid 811)", "0.0.0.0:6379"}},
		{"0.0.0.0:52440/tcp", IDDangerousService, High, []string{"Redis", "redis-server (pid 812)", "0.0.0.0:52440"}},
		{"[::]:2375/tcp", IDDangerousService, Critical, []string{"Docker API", "dockerd (pid 900)", "root"}},
		{"198.18.0.2:8080/tcp", IDExposed, Low, []string{"python3 (pid 77)", "198.18.0.2:8080"}},
		{"0.0.0.0:40123/tcp", IDDangerousService, Critical, []string{"JDWP", "java (pid 55)", "0.0.0.0:40123"}},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			var f *Finding
			for i := range rep.Findings {
				if rep.Findings[i].Addr == tt.addr {
					f = &rep.Findings[i]
				}
			}
			if f == nil {
				t.Fatalf("no finding for %s in %+v", tt.addr, rep.Findings)
			}
			if f.ID != tt.id || f.Severity != tt.sev {
				t.Errorf("finding for %s = %s/%s; want %s/%s", tt.addr, f.ID, f.Severity, tt.id, tt.sev)
			}
			checkNames(t, f, "127.0.0.1", tt.names...)
		})
	}
	if m, _ := rep.Max(); m != Critical {
		t.Errorf("Max = %s; want critical", m)
	}
	if rep.Findings[0].Severity != Critical {
		t.Errorf("findings not sorted by severity: first is %s", rep.Findings[0].Severity)
	}
}

// The rebinding probe talks to real servers on 127.0.0.1: one that answers
// any Host, one that checks it, one that is not HTTP.
func TestAuditRebindingLive(t *testing.T) {
	var hosts atomic.Value
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(r.Host)
		fmt.Fprintln(w, "hello from anywhere")
	}))
	defer open.Close()
	guarded := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Host, "127.0.0.1") && !strings.HasPrefix(r.Host, "localhost") {
			http.Error(w, "forbidden host", http.StatusForbidden)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer guarded.Close()
	notHTTP := bannerServer(t, "+OK redis-like\r\n")

	env := System()
	real := env.Inventory
	ours := map[string]bool{open.Listener.Addr().String(): true, guarded.Listener.Addr().String(): true, "127.0.0.1:" + notHTTP: true}
	// Keep the audit to this test's own servers: other listeners on the
	// machine are not ours to probe in a test.
	env.Inventory = func(ctx context.Context, port uint16) ([]sockets.Socket, error) {
		socks, err := real(ctx, port)
		var out []sockets.Socket
		for _, s := range socks {
			if ours[s.Local.String()] {
				out = append(out, s)
			}
		}
		return out, err
	}
	var progress []int
	rep, err := Audit(context.Background(), env, &AuditOptions{ProbeTimeout: 5 * time.Second,
		Progress: func(done, total int) { progress = append(progress, done*100+total) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Probed) != 3 || len(progress) != 3 || progress[2] != 303 {
		t.Errorf("probed %+v, progress %v; want 3 probes reported 1/3, 2/3, 3/3", rep.Probed, progress)
	}
	var found []string
	for _, f := range rep.Findings {
		if f.ID == IDDNSRebinding {
			found = append(found, f.Addr)
			checkNames(t, &f, "Host header", selfProc(), open.Listener.Addr().String(), rebindHost)
		}
	}
	if len(found) != 1 || found[0] != open.Listener.Addr().String() {
		t.Errorf("rebinding findings at %v; want only %s", found, open.Listener.Addr())
	}
	if h, _ := hosts.Load().(string); h != rebindHost {
		t.Errorf("the open server saw Host %q; want %q", h, rebindHost)
	}
}

func TestRebindProbeLoopbackOnly(t *testing.T) {
	dialed := false
	env := &Env{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = true
		return nil, fmt.Errorf("no")
	}}
	p := Probe{Addr: netip.MustParseAddrPort("198.18.0.2:80")}
	if probeOne(context.Background(), env, &p, time.Second); dialed || p.Result != ProbeFailed {
		t.Errorf("probeOne dialled a non-loopback address (result %s)", p.Result)
	}
}

func TestInspectPort(t *testing.T) {
	tests := []struct {
		name    string
		cmdline []string
		port    int
		ok      bool
	}{
		{"no flag", []string{"node", "server.js"}, 9229, false},
		{"bare --inspect", []string{"node", "--inspect", "server.js"}, 9229, true},
		{"port only", []string{"node", "--inspect=9230", "server.js"}, 9230, true},
		{"host and port", []string{"node", "--inspect=127.0.0.1:9230", "server.js", "0.0.0.0", "3010"}, 9230, true},
		{"IPv6 host", []string{"node", "--inspect=[::1]:9231", "server.js"}, 9231, true},
		{"brk", []string{"node", "--inspect-brk=0.0.0.0:9300", "app.js"}, 9300, true},
		{"wait", []string{"/usr/bin/node", "--inspect-wait", "app.js"}, 9229, true},
		{"random port", []string{"node", "--inspect=127.0.0.1:0", "app.js"}, 0, true},
		{"inspect-port apart", []string{"node", "--inspect", "--inspect-port=9333", "app.js"}, 9333, true},
		{"inspect-port with a space", []string{"node", "--inspect", "--inspect-port", "9334", "app.js"}, 9334, true},
		{"after the script is the app's", []string{"node", "server.js", "--inspect=9230"}, 9229, false},
		{"require takes a value", []string{"node", "-r", "dotenv/config", "--inspect=9240", "app.js"}, 9240, true},
		{"eval ends node's options", []string{"node", "--inspect=9241", "-e", "code", "--inspect=9242"}, 9241, true},
		{"garbage port", []string{"node", "--inspect=host:abc", "app.js"}, 9229, true},
		{"out of range", []string{"node", "--inspect=70000", "app.js"}, 9229, true},
		{"empty", nil, 9229, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, ok := inspectPort(tt.cmdline)
			if port != tt.port || ok != tt.ok {
				t.Errorf("inspectPort(%q) = %d, %v; want %d, %v", tt.cmdline, port, ok, tt.port, tt.ok)
			}
		})
	}
}

func FuzzInspectPort(f *testing.F) {
	for _, s := range []string{"node --inspect=127.0.0.1:9230 server.js", "node --inspect-port 1", "node -r", "node --inspect=:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		port, _ := inspectPort(strings.Fields(s))
		if port < 0 || port > 65535 {
			t.Errorf("inspectPort(%q) = %d; want a port", s, port)
		}
	})
}

func TestBannerService(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "SSH"},
		{"220 mail.example ESMTP Exim 4.96\r\n", "SMTP"},
		{"220 (vsFTPd 3.0.3)\r\n", "FTP"},
		{"+OK Dovecot ready.\r\n", "POP3"},
		{"* OK [CAPABILITY IMAP4rev1] ready\r\n", "IMAP"},
		{"RFB 003.008\n", "VNC"},
		{"J\x00\x00\x00\x0a8.0.36\x00", "MySQL"},
		{"hello", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := bannerService([]byte(tt.in)); got != tt.want {
			t.Errorf("bannerService(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

package doctor

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeport/internal/sockets"
)

// nodeServer runs a real Node.js (not a stand-in) with args and returns its
// pid and the first line it prints, which the scripts use to say where they
// listen. t.Cleanup ends it.
func nodeServer(t *testing.T, args ...string) (int, string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed (Debian: apt-get install nodejs)")
	}
	return startServer(t, node, args...)
}

// startServer runs a real server and waits for its first line on stdout.
func startServer(t *testing.T, path string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(path, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s == "" {
			t.Fatalf("%s %v said nothing and exited", path, args)
		}
		return cmd.Process.Pid, s
	case <-time.After(30 * time.Second):
		t.Fatalf("%s %v did not start within 30s", path, args)
	}
	return 0, ""
}

// ownInventory keeps the real inventory to the listeners of pids: other
// listeners on the machine are not the test's to probe.
func ownInventory(env *Env, pids ...int) {
	real := env.Inventory
	env.Inventory = func(ctx context.Context, port uint16) ([]sockets.Socket, error) {
		socks, err := real(ctx, port)
		var out []sockets.Socket
		for _, s := range socks {
			for _, p := range s.Owners {
				if containsPID(pids, p.PID) {
					out = append(out, s)
					break
				}
			}
		}
		return out, err
	}
}

func containsPID(pids []int, pid int) bool {
	for _, p := range pids {
		if p == pid {
			return true
		}
	}
	return false
}

// freePort returns a port nothing listens on at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// nodeListen is a Node server on HOST and port 0 that prints its address as
// JSON ({"address":"127.0.0.1","port":41731}). With "v6only" it asks Node
// for an IPv6-only socket (ipv6Only: true).
const nodeListen = `
const http = require('http');
const [host, v6only] = process.argv.slice(1);
const s = http.createServer((q, r) => r.end('ok'));
s.listen({port: 0, host, ipv6Only: v6only === 'v6only'}, () => console.log(JSON.stringify(s.address())));
`

func nodeAddr(t *testing.T, line string) (string, int) {
	t.Helper()
	var a struct {
		Address string
		Port    int
	}
	if err := json.Unmarshal([]byte(line), &a); err != nil {
		t.Fatalf("node said %q: %v", line, err)
	}
	return a.Address, a.Port
}

// nodeApp is an application server listening on HOST PORT (its command-line
// arguments, as in "node server.js 0.0.0.0 3010"); it prints "ready".
const nodeApp = `
const [host, port] = process.argv.slice(1);
require('http').createServer((q, r) => r.end('app')).listen(+port, host, () => console.log('ready'));
`

// audit, against real Node with --inspect: the inspector's port is the one
// --inspect names, or (for port 0) the one that answers /json/version as an
// inspector; the application's port, though its number is on the command
// line, is the application.
func TestAuditNodeInspectorLive(t *testing.T) {
	judge := func(t *testing.T, pid int) map[uint16]AuditListener {
		env := System()
		ownInventory(env, pid)
		rep, err := Audit(context.Background(), env, &AuditOptions{ProbeTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		out := map[uint16]AuditListener{}
		for _, l := range rep.Exposed {
			out[l.Addr.Port()] = l
		}
		for _, f := range rep.Findings {
			t.Logf("%s %s: %s", f.Severity, f.ID, f.Title)
		}
		return out
	}
	t.Run("inspector port on the command line", func(t *testing.T) {
		app, insp := freePort(t), freePort(t)
		pid, _ := nodeServer(t, "--inspect=127.0.0.1:"+itoa(insp), "-e", nodeApp, "0.0.0.0", itoa(app))
		exposed := judge(t, pid)
		l, ok := exposed[uint16(app)]
		if !ok {
			t.Fatalf("exposed = %+v; want the application's 0.0.0.0:%d", exposed, app)
		}
		if l.Service != "" {
			t.Errorf("0.0.0.0:%d (the application) is called %q; want no service", app, l.Service)
		}
	})
	t.Run("inspector on a random port, asked", func(t *testing.T) {
		app := freePort(t)
		pid, _ := nodeServer(t, "--inspect=0.0.0.0:0", "-e", nodeApp, "0.0.0.0", itoa(app))
		exposed := judge(t, pid)
		var inspectors []uint16
		for port, l := range exposed {
			if l.Service == "Node.js inspector" {
				inspectors = append(inspectors, port)
			}
		}
		if len(exposed) != 2 || len(inspectors) != 1 || inspectors[0] == uint16(app) {
			t.Errorf("exposed = %+v; want the application on %d and the inspector on another port", exposed, app)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

//go:build linux

package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"homeport/internal/api"
)

// projectDir makes a project folder named by a package.json, with a
// subfolder src, and returns src: a process working there is in the
// project.
func projectDir(t testing.TB, name string) string {
	t.Helper()
	// The folder's name is not the project's: the manifest names it.
	root := filepath.Join(t.TempDir(), "checkout")
	src := filepath.Join(root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	pkg := `{"name": ` + strconv.Quote(name) + `, "version": "1.0.0"}`
	if err := os.WriteFile(filepath.Join(root, "package.json"), []byte(pkg), 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// runOwner starts a process that stands for a `homeport run` owning run
// routes (a run route needs a live owner), and returns its pid. Its own
// process tree is empty: no listener descends from it.
func runOwner(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// startHolderIn is startHolder with dir as the child's working folder.
func startHolderIn(t *testing.T, dir string) *holder {
	t.Helper()
	holderDir = dir
	defer func() { holderDir = "" }()
	return startHolder(t, "127.0.0.1:0")
}

// label is what the dashboard says of one listener.
type label struct{ Service, Project string }

func labelsOn(socks []api.Socket, ports ...int) map[int]label {
	out := map[int]label{}
	for _, s := range socks {
		for _, p := range ports {
			if int(s.Port) == p && s.Proto == "tcp" {
				out[p] = label{s.Service, s.Project}
			}
		}
	}
	return out
}

// TestRowsCarryServiceAndProject: the daemon's rows (/api/v1/ports and the
// event stream) name each listener's service (the route to its port) and
// project (the route's, else the one its owner works in, from the nearest
// package.json above its working folder); a route that comes or goes
// while a page watches relabels the listeners on its port, and the run
// that owns a route gives its service and project to the listeners of
// the processes it started.
func TestRowsCarryServiceAndProject(t *testing.T) {
	stateHome(t)
	port := freePort(t)
	r := runDaemon(t, Options{Port: port, Version: "test", Interval: 100 * time.Millisecond})
	r.waitReady(t)
	ctx := context.Background()
	c, _, err := Connect()
	if err != nil {
		t.Fatal(err)
	}

	// api: a listener of this test, routed as a service of project shop.
	apiLn, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer apiLn.Close()
	apiPort := apiLn.Addr().(*net.TCPAddr).Port
	owner := runOwner(t)
	if _, _, err := AddRunRoute(ctx, RunRoute{Name: "api", Port: apiPort, PID: owner, Project: "shop"}); err != nil {
		t.Fatal(err)
	}
	// A child working in a folder of project ledger, without a route; and
	// one with a persistent route, which names its service but no project.
	ledger := startHolderIn(t, projectDir(t, "ledger"))
	books := startHolderIn(t, projectDir(t, "@acme/books"))
	if _, _, err := AddRoute(ctx, "books", books.port); err != nil {
		t.Fatal(err)
	}

	want := map[int]label{
		apiPort:     {"api", "shop"},
		ledger.port: {"", "ledger"},
		books.port:  {"books", "@acme/books"},
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var socks []api.Socket
		get(t, c, "/api/v1/ports", &socks)
		got := labelsOn(socks, apiPort, ledger.port, books.port)
		d := cmp.Diff(want, got)
		if d == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rows' service and project (-want +got):\n%s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A page watching: a route added for ledger's port names its service
	// and its project in a change event, and goes again when removed.
	ev := openEvents(t, c)
	ev.waitLabel(t, ledger.port, label{"", "ledger"})
	if _, _, err := AddRunRoute(ctx, RunRoute{Name: "ledger-web", Port: ledger.port, PID: owner, Project: "ledger-suite"}); err != nil {
		t.Fatal(err)
	}
	ev.waitLabel(t, ledger.port, label{"ledger-web", "ledger-suite"})
	if _, err := RemoveRoute(ctx, "ledger-web"); err != nil {
		t.Fatal(err)
	}
	ev.waitLabel(t, ledger.port, label{"", "ledger"})

	// This test process as a run: its route (to a port nobody listens on)
	// names the service and project of the listeners its children hold,
	// where no route of their own says otherwise; its own listener keeps
	// its route's.
	if _, _, err := AddRunRoute(ctx, RunRoute{Name: "tools", Port: freePort(t), PID: os.Getpid(), Project: "toolbox"}); err != nil {
		t.Fatal(err)
	}
	ev.waitLabel(t, ledger.port, label{"tools", "toolbox"})
	ev.waitLabel(t, books.port, label{"books", "toolbox"})
	var socks []api.Socket
	get(t, c, "/api/v1/ports", &socks)
	if got := labelsOn(socks, apiPort)[apiPort]; got != (label{"api", "shop"}) {
		t.Errorf("api's listener with the test a run = %+v; want api of shop", got)
	}
	if _, err := RemoveRoute(ctx, "tools"); err != nil {
		t.Fatal(err)
	}
	ev.waitLabel(t, ledger.port, label{"", "ledger"})

	// The daemon's own listener is homeport's, even when the daemon
	// descends from a run (the first `homeport run` starts it): here this
	// test's parent stands for that run.
	if ppid := os.Getppid(); ppid > 1 {
		if _, _, err := AddRunRoute(ctx, RunRoute{Name: "outer", Port: freePort(t), PID: ppid, Project: "outer"}); err != nil {
			t.Fatal(err)
		}
		ev.waitLabel(t, ledger.port, label{"outer", "outer"})
		ev.waitLabel(t, port, label{"", ""})
	}
}

// events reads the daemon's event stream and keeps the latest label of
// each TCP port it has seen, from the snapshot and the change events.
type events struct {
	mu       sync.Mutex
	snapshot bool
	labels   map[int]label
	err      error
}

func openEvents(t *testing.T, c *Client) *events {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/api/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Homeport-Token", c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	e := &events{labels: map[int]label{}}
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		var name string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
				continue
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			var msg struct {
				Sockets []api.Socket `json:"sockets"`
				Events  []api.Event  `json:"events"`
			}
			err := json.Unmarshal([]byte(data), &msg)
			e.mu.Lock()
			if err != nil {
				e.err = fmt.Errorf("%s event %s: %w", name, data, err)
			}
			for _, s := range msg.Sockets {
				if s.Proto == "tcp" {
					e.labels[int(s.Port)] = label{s.Service, s.Project}
				}
			}
			for _, ev := range msg.Events {
				if ev.Socket.Proto == "tcp" && ev.Event != "close" {
					e.labels[int(ev.Socket.Port)] = label{ev.Socket.Service, ev.Socket.Project}
				}
			}
			e.snapshot = e.snapshot || name == "snapshot"
			e.mu.Unlock()
		}
		e.mu.Lock()
		if e.err == nil {
			e.err = fmt.Errorf("the event stream ended: %v", sc.Err())
		}
		e.mu.Unlock()
	}()
	return e
}

// waitLabel waits until the stream has said that the listener on port
// has the label want.
func (e *events) waitLabel(t *testing.T, port int, want label) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.mu.Lock()
		got, started, err := e.labels[port], e.snapshot, e.err
		e.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if started && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream says port %d is %+v after 30s; want %+v", port, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

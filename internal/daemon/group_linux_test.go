//go:build linux

package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
// while a page watches relabels the listeners on its port.
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
	if _, _, err := AddRunRoute(ctx, RunRoute{Name: "api", Port: apiPort, PID: os.Getpid(), Project: "shop"}); err != nil {
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
	ev.wait(t, "snapshot", func(name string, _ []byte) bool { return name == "snapshot" })
	if _, _, err := AddRunRoute(ctx, RunRoute{Name: "ledger-web", Port: ledger.port, PID: os.Getpid(), Project: "ledger-suite"}); err != nil {
		t.Fatal(err)
	}
	ev.waitLabel(t, ledger.port, label{"ledger-web", "ledger-suite"})
	if _, err := RemoveRoute(ctx, "ledger-web"); err != nil {
		t.Fatal(err)
	}
	ev.waitLabel(t, ledger.port, label{"", "ledger"})
}

// events reads the daemon's event stream.
type events struct{ msgs chan [2]string }

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
	e := &events{msgs: make(chan [2]string, 256)}
	go func() {
		defer close(e.msgs)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		var name string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				e.msgs <- [2]string{name, v}
			}
		}
	}()
	return e
}

func (e *events) wait(t *testing.T, what string, ok func(name string, data []byte) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m, open := <-e.msgs:
			if !open {
				t.Fatalf("the event stream ended waiting for %s", what)
			}
			if ok(m[0], []byte(m[1])) {
				return
			}
		case <-deadline:
			t.Fatalf("no %s after 30s", what)
		}
	}
}

// waitLabel waits for a change event that gives the listener on port the
// label want.
func (e *events) waitLabel(t *testing.T, port int, want label) {
	t.Helper()
	e.wait(t, "a change labelling port "+strconv.Itoa(port)+" "+want.Service+"/"+want.Project, func(name string, data []byte) bool {
		if name != "change" {
			return false
		}
		var ch struct {
			Events []api.Event `json:"events"`
		}
		if err := json.Unmarshal(data, &ch); err != nil {
			t.Fatalf("change event %s: %v", data, err)
		}
		for _, ev := range ch.Events {
			if int(ev.Socket.Port) == port && ev.Socket.Proto == "tcp" {
				if ev.Event == "change" && (label{ev.Socket.Service, ev.Socket.Project}) == want {
					return true
				}
			}
		}
		return false
	})
}

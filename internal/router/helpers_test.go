package router

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// daemon is a router served the way the daemon serves it: one http.Server on
// 127.0.0.1:0, Dispatch in front, a stand-in dashboard behind localhost.
type daemon struct {
	router *Router
	table  *Table
	addr   string // 127.0.0.1:PORT
	port   int
}

func startDaemon(t *testing.T, opts Options) *daemon {
	t.Helper()
	tab := NewTable()
	r := New(tab, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	r.SetSelfPort(port)
	dash := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "dashboard") })
	srv := &http.Server{Handler: r.Dispatch(dash), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
		r.Close()
	})
	return &daemon{router: r, table: tab, addr: ln.Addr().String(), port: port}
}

// route adds a persistent route NAME → port.
func (d *daemon) route(t *testing.T, name string, port int) {
	t.Helper()
	if _, err := d.table.Add(Route{Name: name, Port: port, Kind: KindPersistent}); err != nil {
		t.Fatal(err)
	}
}

// url is http://NAME.localhost:PORT/path on the daemon.
func (d *daemon) url(name, path string) string {
	return "http://" + name + ".localhost:" + strconv.Itoa(d.port) + path
}

// client dials the daemon whatever the URL's host: *.localhost does not
// resolve in Go, so the name travels in Host only, as a browser's does.
func (d *daemon) client(t *testing.T) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "tcp", d.addr)
		},
		DisableCompression: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get fetches url through the daemon and returns status and body.
func (d *daemon) get(t *testing.T, url string, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := d.client(t).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return res.StatusCode, string(b), res.Header
}

// serveBackend serves h on network/addr ("tcp4", "127.0.0.1:0") and returns
// its port.
func serveBackend(t *testing.T, addr string, h http.Handler) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// deadPort returns a port that nothing listens on, on 127.0.0.1 nor ::1: it
// was listened on and closed (Caddy's deadUpstreamAddr).
func deadPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if c, err := net.Dial("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
			c.Close()
			continue // something holds it on ::1
		}
		return port
	}
	t.Fatal("no dead port found")
	return 0
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

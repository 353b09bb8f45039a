package router

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"homeport/internal/metrics"
)

// echoHeaders answers with the request's Host and the headers a proxy must
// get right, one "Key: value" a line.
var echoHeaders = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "Host: %s\n", r.Host)
	for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Secret", "Keep-Alive", "Proxy-Connection", "Homeport-Hop", "Accept-Encoding"} {
		fmt.Fprintf(w, "%s: %s\n", k, strings.Join(r.Header.Values(k), ","))
	}
	fmt.Fprintf(w, "Body: %s\n", body)
})

func TestProxyPlainHTTP(t *testing.T) {
	d := startDaemon(t, Options{})
	d.route(t, "api", serveBackend(t, "127.0.0.1:0", echoHeaders))

	req, _ := http.NewRequest("POST", d.url("API", "/x?q=1"), strings.NewReader("payload"))
	// What a client may not decide for the backend: who it is, where the
	// request came from, and headers meant for the hop to the router only.
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("Forwarded", "for=203.0.113.9;proto=https")
	req.Header.Set("Connection", "X-Secret")
	req.Header.Set("X-Secret", "hop only")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("Accept-Encoding", "br")
	res, err := d.client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("status %d; want 200\n%s", res.StatusCode, body)
	}
	got := parseLines(string(body))
	want := map[string]string{
		"Host":              "API.localhost:" + strconv.Itoa(d.port),
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Host":  "API.localhost:" + strconv.Itoa(d.port),
		"X-Forwarded-Proto": "http",
		"Forwarded":         "",
		"X-Secret":          "",
		"Keep-Alive":        "",
		"Proxy-Connection":  "",
		"Homeport-Hop":      "api",
		"Accept-Encoding":   "br",
		"Body":              "payload",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("what the backend saw (-want +got):\n%s", d)
	}
}

func parseLines(s string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(s) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		m[k] = strings.TrimSuffix(v, ":")
	}
	return m
}

func TestProxyBackendOnEitherFamily(t *testing.T) {
	d := startDaemon(t, Options{})
	hello := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, s) })
	}
	four := serveBackend(t, "127.0.0.1:0", hello("v4"))
	six := serveV6Only(t, hello("v6")) // as Node 17+ binds "localhost"
	d.route(t, "four", four)
	d.route(t, "six", six)
	// The second and third rounds dial again (Close drops the idle
	// connections) and go to the family remembered.
	for range 3 {
		for name, want := range map[string]string{"four": "v4", "six": "v6"} {
			if code, body, _ := d.get(t, d.url(name, "/"), nil); code != 200 || body != want {
				t.Errorf("GET %s = %d %q; want 200 %q", name, code, body, want)
			}
		}
		d.router.Close()
	}
	for port, want := range map[int]bool{four: false, six: true} {
		v, ok := d.router.families.Load(port)
		if !ok || v.(*atomic.Bool).Load() != want {
			t.Errorf("port %d: remembered ::1 = %v; want %v", port, ok && v.(*atomic.Bool).Load(), want)
		}
	}
}

// serveV6Only serves h on [::1] at a port that nothing holds on 127.0.0.1:
// on a busy machine an unrelated listener may have the same port number on
// the other family, and the router, trying 127.0.0.1 first, would reach it.
func serveV6Only(t *testing.T, h http.Handler) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "[::1]:0")
		if err != nil {
			t.Skipf("cannot listen on [::1]: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			c.Close()
			ln.Close()
			continue
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return port
	}
	t.Fatal("no port free on both families")
	return 0
}

func TestProxyHostDispatch(t *testing.T) {
	var hits atomic.Int32
	d := startDaemon(t, Options{})
	d.route(t, "api", serveBackend(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
	})))
	p := strconv.Itoa(d.port)
	tests := []struct {
		host string
		code int
		body string
	}{
		{"localhost:" + p, 200, "dashboard"},
		{"127.0.0.1:" + p, 200, "dashboard"},
		{"[::1]:" + p, 200, "dashboard"},
		{"LOCALHOST.:" + p, 200, "dashboard"},
		{"evil.example", 403, "DNS rebinding"},
		{"evil.example:" + p, 403, "DNS rebinding"},
		{"api.localhost.evil.example:" + p, 403, "DNS rebinding"},
		{"0.0.0.0:" + p, 403, "DNS rebinding"},
	}
	for _, tt := range tests {
		code, body, _ := d.get(t, "http://127.0.0.1:"+p+"/", map[string]string{"Host": tt.host})
		if code != tt.code || !strings.Contains(body, tt.body) {
			t.Errorf("Host %q: %d %q; want %d with %q", tt.host, code, body, tt.code, tt.body)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the backend got %d requests; a foreign or dashboard Host must never reach it", n)
	}
}

func TestProxySSE(t *testing.T) {
	second := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	d := startDaemon(t, Options{})
	d.route(t, "events", serveBackend(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-second:
		case <-done:
			return
		}
		io.WriteString(w, "data: two\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})))
	res, err := d.client(t).Get(d.url("events", "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q; want text/event-stream", ct)
	}
	br := bufio.NewReader(res.Body)
	// The first event arrives while the backend still holds the stream
	// open: the router flushed it, not buffered it.
	if line, err := br.ReadString('\n'); err != nil || line != "data: one\n" {
		t.Fatalf("first line %q, %v; want the first event", line, err)
	}
	br.ReadString('\n')
	close(second)
	if line, err := br.ReadString('\n'); err != nil || line != "data: two\n" {
		t.Fatalf("second event %q, %v", line, err)
	}
}

func TestProxyWebSocketEcho(t *testing.T) {
	d := startDaemon(t, Options{})
	var host atomic.Value
	d.route(t, "ws", serveBackend(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host.Store(r.Host)
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	})))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, "ws://ws.localhost:"+strconv.Itoa(d.port)+"/hmr", &websocket.DialOptions{HTTPClient: d.client(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d; want 101", res.StatusCode)
	}
	for i := range 3 {
		msg := fmt.Sprintf("hello %d", i)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != "echo: "+msg {
			t.Fatalf("read %q, %v; want %q", got, err, "echo: "+msg)
		}
	}
	if h, want := host.Load(), "ws.localhost:"+strconv.Itoa(d.port); h != want {
		t.Errorf("backend saw Host %q; want %q", h, want)
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// rawUpgrade is a backend that switches to a raw byte protocol, reads until
// the client's half of the connection ends, then answers and closes: it can
// answer only if the client's half-close reached it as EOF while its own half
// stayed open.
func rawUpgrade(t *testing.T) int {
	return serveBackend(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n")
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(brw)
		if err != nil {
			fmt.Fprintf(conn, "error: %v", err)
			return
		}
		fmt.Fprintf(conn, "got EOF after %q", got)
	}))
}

func TestProxyHalfClose(t *testing.T) {
	d := startDaemon(t, Options{})
	d.route(t, "raw", rawUpgrade(t))
	c, err := net.Dial("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: raw.localhost:%d\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n", d.port)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 {
		t.Fatalf("status %d; want 101", res.StatusCode)
	}
	io.WriteString(c, "hello through the tunnel")
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if want := `got EOF after "hello through the tunnel"`; string(rest) != want {
		t.Errorf("after CloseWrite the backend said %q; want %q", rest, want)
	}
}

func TestProxyBackendDiesMidStream(t *testing.T) {
	// A raw backend: a chunked response, one chunk, then the process "dies"
	// (its connection is closed without the last chunk).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	die := make(chan struct{})
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		http.ReadRequest(bufio.NewReader(conn))
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\nc\r\ndata: one\n\n\r\n")
		<-die
	}()
	d := startDaemon(t, Options{})
	d.route(t, "dying", ln.Addr().(*net.TCPAddr).Port)
	res, err := d.client(t).Get(d.url("dying", "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: one\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	br.ReadString('\n')
	closed := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(br)
		closed <- err
	}()
	start := time.Now()
	close(die)
	select {
	case err := <-closed:
		if err == nil {
			t.Error("the stream ended cleanly; a backend that died must show as a broken stream, not a complete one")
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("the client's stream closed %v after the backend died; want within 1s", el)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client's stream stayed open 10s after the backend died")
	}
}

func TestProxyRejectsBareLFInChunkedBody(t *testing.T) {
	var hits, complete atomic.Int32
	d := startDaemon(t, Options{})
	d.route(t, "api", serveBackend(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			complete.Add(1)
		}
	})))
	big := strings.Repeat("x", 20000)
	tests := []struct {
		name    string
		body    string
		reaches bool // the backend sees the request start (a large body streams)
	}{
		// "5\n" ends a chunk-size line with a bare LF: front ends that
		// accept it and back ends that do not disagree on where the body
		// ends (request smuggling, CVE-2025-22871).
		{"bare LF in the first chunk", "5\nhello\r\n0\r\n\r\n", false},
		{"bare LF after the data", "5\r\nhello\n0\r\n\r\n", false},
		{"bare LF after a large chunk", fmt.Sprintf("%x\r\n%s\r\n5\nhello\r\n0\r\n\r\n", len(big), big), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			complete.Store(0)
			c, err := net.Dial("tcp", d.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: api.localhost:%d\r\nTransfer-Encoding: chunked\r\n\r\n%s", d.port, tt.body)
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "body is malformed") {
				t.Errorf("status %d; want 400, the body refused\n%s", res.StatusCode, body)
			}
			if !tt.reaches && hits.Load() != 0 {
				t.Errorf("the backend got %d requests; a malformed small body must not reach it", hits.Load())
			}
			if tt.reaches {
				waitFor(t, "the backend to see the request", func() bool { return hits.Load() == 1 })
			}
			if n := complete.Load(); n != 0 {
				t.Errorf("the backend read %d complete bodies; the body must end broken where the framing breaks", n)
			}
		})
	}
}

func TestProxyFailurePages(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	d := startDaemon(t, Options{Timeout: 300 * time.Millisecond})
	dead := deadPort(t)
	d.route(t, "api", serveBackend(t, "127.0.0.1:0", echoHeaders))
	d.route(t, "down", dead)
	d.route(t, "slow", serveBackend(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})))
	d.route(t, "self", d.port)
	p := strconv.Itoa(d.port)

	tests := []struct {
		name   string
		route  string
		accept string
		code   int
		want   []string
	}{
		{"unknown name lists routes", "nope", "", 404, []string{`no route named "nope"`, "api", "http://api.localhost:" + p + "/", "down", "homeport route add nope PORT"}},
		{"unknown name as html", "nope", "text/html,*/*", 404, []string{"<!doctype html>", `<a href="http://api.localhost:` + p + `/">api.localhost</a>`}},
		{"deeper name is unknown", "a.b", "", 404, []string{`no route named "a.b"`, "homeport route add NAME PORT"}},
		{"backend down", "down", "", 502, []string{"route down goes to port " + strconv.Itoa(dead), "homeport doctor " + strconv.Itoa(dead)}},
		{"backend down as html", "down", "text/html", 502, []string{"<code>", "homeport doctor " + strconv.Itoa(dead)}},
		{"slow backend", "slow", "", 504, []string{"no answer within 300ms", "homeport doctor"}},
		{"route to the daemon itself", "self", "", 508, []string{"port " + p + ", homeport's own port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			code, body, hdr := d.get(t, d.url(tt.route, "/"), map[string]string{"Accept": tt.accept})
			if code != tt.code {
				t.Fatalf("GET %s = %d; want %d\n%s", tt.route, code, tt.code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s body lacks %q:\n%s", tt.route, w, body)
				}
			}
			if hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s: no nosniff", tt.route)
			}
			if tt.code == 502 && time.Since(start) > time.Second {
				t.Errorf("502 took %v; want within 1s", time.Since(start))
			}
		})
	}
}

func TestProxyLoopThroughRoutes(t *testing.T) {
	d := startDaemon(t, Options{})
	// A backend that proxies everything to a name on the router, keeping
	// the headers, as a dev server's proxy setting does.
	forwarder := func(to string) http.Handler {
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.Out.URL.Scheme, pr.Out.URL.Host = "http", d.addr
				pr.Out.Host = to + ".localhost:" + strconv.Itoa(d.port)
			},
		}
		return rp
	}
	d.route(t, "api", serveBackend(t, "127.0.0.1:0", echoHeaders))
	d.route(t, "web", serveBackend(t, "127.0.0.1:0", forwarder("api"))) // web → api: a chain, fine
	d.route(t, "loop", serveBackend(t, "127.0.0.1:0", forwarder("loop")))
	d.route(t, "ping", serveBackend(t, "127.0.0.1:0", forwarder("pong")))
	d.route(t, "pong", serveBackend(t, "127.0.0.1:0", forwarder("ping")))

	code, body, _ := d.get(t, d.url("web", "/"), nil)
	if code != 200 || parseLines(body)["Homeport-Hop"] != "web, api" {
		t.Errorf("web → api = %d, hops %q; want 200 through web, api\n%s", code, parseLines(body)["Homeport-Hop"], body)
	}
	for _, tt := range []struct{ route, hops string }{
		{"loop", "loop"},
		{"ping", "ping, pong"},
	} {
		code, body, _ := d.get(t, d.url(tt.route, "/"), nil)
		if code != http.StatusLoopDetected || !strings.Contains(body, "passed through the routes "+tt.hops+" and arrived at "+tt.route+" again") {
			t.Errorf("GET %s = %d; want 508 naming the hops %q\n%s", tt.route, code, tt.hops, body)
		}
	}
}

func TestProxyMetrics(t *testing.T) {
	m := NewMetrics()
	reg := metrics.NewRegistry()
	reg.Register(m)
	d := startDaemon(t, Options{Observer: m})
	d.route(t, "api", serveBackend(t, "127.0.0.1:0", echoHeaders))
	d.route(t, "down", deadPort(t))
	for range 3 {
		d.get(t, d.url("api", "/"), nil)
	}
	d.get(t, d.url("down", "/"), nil)
	d.get(t, d.url("nope", "/"), nil)
	d.get(t, d.url("other", "/"), nil)
	checks := []struct {
		route, code string
		want        float64
	}{
		{"api", "200", 3},
		{"down", "502", 1},
		{unknownRoute, "404", 2},
	}
	fams := gather(t, reg)
	for _, c := range checks {
		got := -1.0
		for _, s := range fams["homeport_router_requests_total"].GetMetric() {
			if labels(s) == "code="+c.code+",route="+c.route {
				got = s.GetCounter().GetValue()
			}
		}
		if got != c.want {
			t.Errorf("requests{route=%q,code=%q} = %v; want %v", c.route, c.code, got, c.want)
		}
	}
	lat := fams["homeport_router_request_duration_seconds"]
	if n := len(lat.GetMetric()); n != 3 || lat.GetType() != dto.MetricType_HISTOGRAM {
		t.Errorf("latency histograms: %d of type %v; want 3 (api, down, _unknown) histograms", n, lat.GetType())
	}
	m.Forget("api")
	if n := len(gather(t, reg)["homeport_router_requests_total"].GetMetric()); n != 2 {
		t.Errorf("request series after Forget(api): %d; want 2", n)
	}
	if n := len(gather(t, reg)["homeport_router_request_duration_seconds"].GetMetric()); n != 2 {
		t.Errorf("latency histograms after Forget(api): %d; want 2 (down, _unknown)", n)
	}
}

// gather parses what reg serves with Prometheus' own text parser.
func gather(t *testing.T, reg *metrics.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	var buf bytes.Buffer
	if _, err := reg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, buf.String())
	}
	return fams
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

// observed records what an Observer is told.
type observed struct {
	mu    sync.Mutex
	calls []string
}

func (o *observed) ObserveRequest(route string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, route+" "+strconv.Itoa(status))
}

func (o *observed) get() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.calls...)
}

func TestProxyObserverSeesUpgradesAndFailures(t *testing.T) {
	obs := &observed{}
	d := startDaemon(t, Options{Observer: obs})
	d.route(t, "raw", rawUpgrade(t))
	d.route(t, "down", deadPort(t))
	c, err := net.Dial("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: raw.localhost:%d\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n", d.port)
	br := bufio.NewReader(c)
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 101 {
		t.Fatalf("upgrade: %v, %v", res, err)
	}
	c.(*net.TCPConn).CloseWrite()
	io.ReadAll(br)
	c.Close()
	d.get(t, d.url("down", "/"), nil)
	d.get(t, d.url("nope", "/"), nil)
	// An upgrade is observed when its tunnel ends, which may be after the
	// requests that follow it: the order is not the point.
	want := []string{"raw 101", "down 502", unknownRoute + " 404"}
	slices.Sort(want)
	waitFor(t, "three observations", func() bool { return len(obs.get()) == 3 })
	got := obs.get()
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("observations (-want +got):\n%s", d)
	}
}

func TestProxyRouteToItselfWithoutSelfPort(t *testing.T) {
	// A daemon that has not said its port: the hop header still stops the
	// loop on its second pass.
	tab := NewTable()
	r := New(tab, Options{})
	defer r.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	d := &daemon{router: r, table: tab, addr: ln.Addr().String(), port: port}
	d.route(t, "self", port)
	code, body, _ := d.get(t, d.url("self", "/"), nil)
	if code != http.StatusLoopDetected || !strings.Contains(body, "passed through the routes self") {
		t.Errorf("GET self = %d; want 508\n%s", code, body)
	}
}

package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeport/internal/doctor"
	"homeport/internal/sockets"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef"

// startServer runs a Server on a real loopback listener, its watcher
// polling every 50ms, and returns its base URL.
func startServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Token = testToken
	opts.Port = ln.Addr().(*net.TCPAddr).Port
	if opts.Interval == 0 {
		opts.Interval = 50 * time.Millisecond
	}
	if opts.Doctor == nil {
		opts.Doctor = func(ctx context.Context, port uint16) (*doctor.Report, error) {
			return &doctor.Report{Target: "localhost:" + strconv.Itoa(int(port)), OK: true, Verdict: "fine"}, nil
		}
	}
	s := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	hs := httptest.NewUnstartedServer(s)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(func() { cancel(); <-done; hs.Close() })
	return s, "http://" + ln.Addr().String()
}

type req struct {
	method, path string
	host         string
	headers      map[string]string
	body         string
}

func do(t *testing.T, base string, r req) (*http.Response, string) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	hr, err := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var authHdr = map[string]string{TokenHeader: testToken}

// TestHostAllowList: every route, assets, the event stream and metrics
// included, refuses a Host that is not loopback (DNS rebinding).
func TestHostAllowList(t *testing.T) {
	_, base := startServer(t, Options{})
	port := strings.TrimPrefix(base, "http://127.0.0.1:")
	paths := []string{"/", "/assets/app.js", "/api/v1/ports", "/api/v1/events", "/metrics", "/login?code=x", "/debug/pprof/"}
	bad := []string{"evil.example", "evil.example:" + port, "0.0.0.0:" + port, "localhost.evil.example:" + port, "127.0.0.1.nip.io:" + port, "[::ffff:c000:201]:" + port}
	for _, p := range paths {
		for _, h := range bad {
			t.Run(p+" "+h, func(t *testing.T) {
				resp, _ := do(t, base, req{path: p, host: h, headers: authHdr})
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("GET %s with Host %q = %d; want 403", p, h, resp.StatusCode)
				}
			})
		}
	}
	good := []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST.:" + port, "[::1]:" + port}
	for _, h := range good {
		resp, _ := do(t, base, req{path: "/api/v1/status", host: h, headers: authHdr})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /api/v1/status with Host %q = %d; want 200", h, resp.StatusCode)
		}
	}
	// A request line without any Host (HTTP/1.0) is refused too.
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.Contains(line, "403") {
		t.Errorf("request without Host: %q; want 403", line)
	}
}

func TestSecurityHeaders(t *testing.T) {
	_, base := startServer(t, Options{})
	for _, p := range []string{"/", "/assets/app.js", "/api/v1/ports", "/nope"} {
		resp, _ := do(t, base, req{path: p, headers: map[string]string{"Origin": base}})
		h := resp.Header
		if got := h.Get("Content-Security-Policy"); got != "default-src 'self'; frame-ancestors 'none'" {
			t.Errorf("%s: CSP %q", p, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cross-Origin-Resource-Policy") != "same-origin" {
			t.Errorf("%s: nosniff %q, CORP %q", p, h.Get("X-Content-Type-Options"), h.Get("Cross-Origin-Resource-Policy"))
		}
		if v := h.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q; want none", p, v)
		}
	}
	resp, _ := do(t, base, req{path: "/debug/pprof/", headers: authHdr})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/debug/pprof/ = %d; want 404", resp.StatusCode)
	}
}

func TestReadNeedsToken(t *testing.T) {
	_, base := startServer(t, Options{})
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"no token", nil, 401},
		{"wrong token", map[string]string{TokenHeader: "nope"}, 401},
		{"header", authHdr, 200},
		{"bearer", map[string]string{"Authorization": "Bearer " + testToken}, 200},
		{"cookie", map[string]string{"Cookie": CookieName + "=" + testToken}, 200},
		{"cookie cross-site", map[string]string{"Cookie": CookieName + "=" + testToken, "Sec-Fetch-Site": "cross-site"}, 403},
		{"cookie other origin", map[string]string{"Cookie": CookieName + "=" + testToken, "Origin": "http://127.0.0.2:8080"}, 403},
	}
	for _, tt := range tests {
		for _, p := range []string{"/api/v1/ports", "/api/v1/who?port=1", "/api/v1/status", "/metrics"} {
			resp, _ := do(t, base, req{path: p, headers: tt.headers})
			if resp.StatusCode != tt.want {
				t.Errorf("%s: GET %s = %d; want %d", tt.name, p, resp.StatusCode, tt.want)
			}
		}
	}
}

// TestStateChangeRules: POST only, JSON only, same origin only, token.
func TestStateChangeRules(t *testing.T) {
	stopped := make(chan struct{}, 1)
	_, base := startServer(t, Options{Shutdown: func() { stopped <- struct{}{} }})
	json := map[string]string{"Content-Type": "application/json", TokenHeader: testToken}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range json {
			m[k] = v
		}
		for k, v := range extra {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name string
		r    req
		want int
	}{
		{"GET", req{method: "GET", path: "/api/v1/kill", headers: json}, 405},
		{"form post", req{method: "POST", path: "/api/v1/kill", body: "pid=1", headers: with(map[string]string{"Content-Type": "application/x-www-form-urlencoded"})}, 415},
		{"text post", req{method: "POST", path: "/api/v1/shutdown", body: "{}", headers: with(map[string]string{"Content-Type": "text/plain"})}, 415},
		{"cross-site origin", req{method: "POST", path: "/api/v1/shutdown", body: "{}", headers: with(map[string]string{"Origin": "http://evil.example"})}, 403},
		{"other loopback origin", req{method: "POST", path: "/api/v1/shutdown", body: "{}", headers: with(map[string]string{"Origin": "http://127.0.0.2:8000"})}, 403},
		{"null origin", req{method: "POST", path: "/api/v1/shutdown", body: "{}", headers: with(map[string]string{"Origin": "null"})}, 403},
		{"sec-fetch-site cross-site", req{method: "POST", path: "/api/v1/shutdown", body: "{}", headers: with(map[string]string{"Sec-Fetch-Site": "cross-site"})}, 403},
		{"sec-fetch-site same-site", req{method: "POST", path: "/api/v1/shutdown", body: "{}", headers: with(map[string]string{"Sec-Fetch-Site": "same-site"})}, 403},
		{"no token", req{method: "POST", path: "/api/v1/shutdown", body: "{}", headers: with(map[string]string{TokenHeader: ""})}, 401},
		{"kill without engine", req{method: "POST", path: "/api/v1/kill", body: `{"port":1,"pid":2,"started":"2020-01-01T00:00:00Z","inode":3}`, headers: json}, 501},
		{"kill without inode", req{method: "POST", path: "/api/v1/kill", body: `{"port":1,"pid":2,"started":"2020-01-01T00:00:00Z"}`, headers: json}, 400},
		{"kill without start", req{method: "POST", path: "/api/v1/kill", body: `{"port":1,"pid":2,"inode":3}`, headers: json}, 400},
		{"kill unknown field", req{method: "POST", path: "/api/v1/kill", body: `{"port":1,"pid":2,"inode":3,"started":"2020-01-01T00:00:00Z","x":1}`, headers: json}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, base, tt.r)
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s = %d %s; want %d", tt.r.method, tt.r.path, resp.StatusCode, body, tt.want)
			}
		})
	}
	select {
	case <-stopped:
		t.Fatal("a refused request stopped the daemon")
	default:
	}
	resp, _ := do(t, base, req{method: "POST", path: "/api/v1/shutdown", body: "{}", headers: with(map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"})})
	if resp.StatusCode != 200 {
		t.Fatalf("same-origin shutdown = %d; want 200", resp.StatusCode)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown not called")
	}
}

// TestLogin trades a one-time code for the cookie and redirects without it.
func TestLogin(t *testing.T) {
	s, base := startServer(t, Options{})
	code := s.LoginCode()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/login?code=" + code)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("login = %d to %q; want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == CookieName {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Value != testToken || ck.Path != "/" {
		t.Fatalf("login cookie = %+v; want HttpOnly SameSite=Strict with the token", ck)
	}
	// The code works once.
	resp, err = c.Get(base + "/login?code=" + code)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("second use of a login code = %d; want 403", resp.StatusCode)
	}
	// The CLI gets a fresh login URL with the token.
	r, body := do(t, base, req{method: "POST", path: "/api/v1/login", body: "{}", headers: map[string]string{"Content-Type": "application/json", TokenHeader: testToken}})
	var a loginAnswer
	if r.StatusCode != 200 || json.Unmarshal([]byte(body), &a) != nil || !strings.Contains(a.URL, "/login?code=") {
		t.Errorf("POST /api/v1/login = %d %s", r.StatusCode, body)
	}
}

// TestEventsStream reads the stream: a snapshot first, then the open and
// close of a listener this test makes.
func TestEventsStream(t *testing.T) {
	_, base := startServer(t, Options{})
	hr, _ := http.NewRequest("GET", base+"/api/v1/events", nil)
	hr.Header.Set(TokenHeader, testToken)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hr = hr.WithContext(ctx)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	msgs := make(chan [2]string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				ev = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				msgs <- [2]string{ev, v}
			}
		}
		close(msgs)
	}()
	wait := func(what string, ok func(ev, data string) bool) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case m, open := <-msgs:
				if !open {
					t.Fatalf("stream ended waiting for %s", what)
				}
				if ok(m[0], m[1]) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s after 30s", what)
			}
		}
	}
	wait("snapshot", func(ev, _ string) bool { return ev == "snapshot" })
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	local := `"local":"` + ln.Addr().String() + `"`
	wait("open event", func(ev, d string) bool {
		return ev == "change" && strings.Contains(d, `"event":"open"`) && strings.Contains(d, local)
	})
	ln.Close()
	wait("close event", func(ev, d string) bool {
		return ev == "change" && strings.Contains(d, `"event":"close"`) && strings.Contains(d, local)
	})

	// A page that reconnects starts again from a fresh snapshot, which
	// holds the listeners of now.
	ln2, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	local2 := `"local":"` + ln2.Addr().String() + `"`
	deadline := time.Now().Add(30 * time.Second)
	for {
		r2, _ := http.NewRequest("GET", base+"/api/v1/events", nil)
		r2.Header.Set(TokenHeader, testToken)
		ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
		resp2, err := http.DefaultClient.Do(r2.WithContext(ctx2))
		if err != nil {
			cancel2()
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp2.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		var first, data string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok && first == "" {
				first = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = v
				break
			}
		}
		resp2.Body.Close()
		cancel2()
		if first != "snapshot" {
			t.Fatalf("a new stream starts with %q; want snapshot", first)
		}
		if strings.Contains(data, local2) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot holds %s after 30s", ln2.Addr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPortsMatchesCLIFields checks the API's socket fields against the
// names `ports --json` documents.
func TestPortsFields(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, base := startServer(t, Options{Take: sockets.Take})
	resp, body := do(t, base, req{path: "/api/v1/who?port=" + strconv.Itoa(port), headers: authHdr})
	if resp.StatusCode != 200 {
		t.Fatalf("who = %d %s", resp.StatusCode, body)
	}
	var w struct {
		Held    bool                         `json:"held"`
		Sockets []map[string]json.RawMessage `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(body), &w); err != nil {
		t.Fatal(err)
	}
	if !w.Held || len(w.Sockets) != 1 {
		t.Fatalf("who %d = %s; want one socket", port, body)
	}
	for _, f := range []string{"proto", "state", "family", "address", "port", "local", "remote", "exposure", "dual_stack", "v6only", "class", "inode", "uid", "recv_q", "send_q", "owners"} {
		if _, ok := w.Sockets[0][f]; !ok {
			t.Errorf("socket JSON lacks %q: %s", f, body)
		}
	}
}

package serve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// send writes raw on a new connection, which has 30 s for what follows and
// is closed at the end of the test.
func send(t *testing.T, addr, raw string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return c
}

// newUnserved is a Server and a listener on 127.0.0.1:0 that nothing
// serves yet: for tests that run HTTPServer.Serve themselves.
func newUnserved(t *testing.T, opts Options) (*Server, net.Listener) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return s, ln
}

// exchange writes raw requests on one connection and reads n responses.
func exchange(t *testing.T, addr, raw string, n int) []resp {
	t.Helper()
	c := send(t, addr, raw)
	br := bufio.NewReader(c)
	var out []resp
	for i := 0; i < n; i++ {
		req := &http.Request{Method: "GET"}
		if strings.Contains(strings.Split(raw, "\r\n\r\n")[i], "HEAD ") {
			req.Method = "HEAD"
		}
		r, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			t.Fatalf("response %d body: %v", i+1, err)
		}
		out = append(out, resp{r.StatusCode, r.Header, string(b)})
	}
	return out
}

func TestShortPathThenHandoff(t *testing.T) {
	ts := start(t, Options{Dir: tree(t, map[string]string{"a.txt": "hello", "sub/b.txt": "b", "big.bin": strings.Repeat("z", 5000)}), SmallFile: 1024})
	get := func(path string, extra ...string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + strings.Join(extra, "") + "\r\n"
	}
	first := ts.get(t, "/a.txt")
	etag := first.hdr.Get("Etag")
	// Pipelined on one connection: short path, short path 304, HEAD, then
	// a folder redirect and a large file that net/http answers, then a
	// small file again, now on net/http too.
	raw := get("/a.txt") +
		get("/a.txt", "If-None-Match: "+etag+"\r\n") +
		"HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n" +
		get("/sub") +
		get("/big.bin") +
		get("/a.txt")
	before := ts.hs.fastServed.Load()
	rs := exchange(t, ts.Addr, raw, 6)
	want := []struct {
		code int
		body string
	}{{200, "hello"}, {304, ""}, {200, ""}, {302, ""}, {200, strings.Repeat("z", 5000)}, {200, "hello"}}
	for i, w := range want {
		if rs[i].code != w.code || rs[i].body != w.body {
			t.Errorf("response %d = %d %.20q; want %d %.20q", i+1, rs[i].code, rs[i].body, w.code, w.body)
		}
	}
	if got := ts.hs.fastServed.Load() - before; got != 3 {
		t.Errorf("short path answered %d requests; want the first 3", got)
	}
	if rs[2].hdr.Get("Content-Length") != "5" || rs[3].hdr.Get("Location") != "sub/" {
		t.Errorf("HEAD Content-Length %q, redirect Location %q", rs[2].hdr.Get("Content-Length"), rs[3].hdr.Get("Location"))
	}
}

// TestShortPathMatchesNetHTTP compares each short-path answer with the one
// net/http gives for the same request (sent with "Connection: close", which
// the short path hands over).
func TestShortPathMatchesNetHTTP(t *testing.T) {
	ts := start(t, Options{Dir: tree(t, map[string]string{
		"a.txt":   "hello",
		"app.js":  strings.Repeat("let x = 1;\n", 100),
		"s.js":    strings.Repeat("let y = 2;\n", 100),
		"s.js.gz": "GZ",
		"p.html":  "<p>x</p>",
	})})
	etag := ts.get(t, "/app.js").hdr.Get("Etag")
	lm := ts.get(t, "/a.txt").hdr.Get("Last-Modified")
	// fast: the short path answers it (the rest it hands to net/http).
	cases := []struct {
		path, hdrs string
		fast       bool
	}{
		{"/a.txt", "", true},
		{"/app.js", "", true},
		{"/app.js", "Accept-Encoding: gzip\r\n", true},
		{"/app.js", "Accept-Encoding: br;q=0, gzip;q=0\r\n", true},
		{"/app.js", "If-None-Match: " + etag + "\r\n", true},
		{"/a.txt", "If-Modified-Since: " + lm + "\r\n", true},
		{"/s.js", "Accept-Encoding: gzip\r\n", false}, // a sibling: net/http sends it
		{"/p.html", "", true},
		{"/a.txt", "Host: evil.example\r\n", false},
		{"/nope", "", false},
		{"/.env", "", false},
		{"/a.txt", "Range: bytes=0-1\r\n", false},
	}
	for _, tc := range cases {
		host := "Host: localhost\r\n"
		if strings.HasPrefix(tc.hdrs, "Host:") {
			host = ""
		}
		base := "GET " + tc.path + " HTTP/1.1\r\n" + host + tc.hdrs
		before := ts.hs.fastServed.Load()
		short := exchange(t, ts.Addr, base+"\r\n", 1)[0]
		if got := ts.hs.fastServed.Load() - before; got != map[bool]int64{true: 1}[tc.fast] {
			t.Errorf("GET %s %q: short path answered %d; want fast=%v", tc.path, tc.hdrs, got, tc.fast)
		}
		before = ts.hs.fastServed.Load()
		slow := exchange(t, ts.Addr, base+"Connection: close\r\n\r\n", 1)[0]
		if got := ts.hs.fastServed.Load() - before; got != 0 {
			t.Errorf("GET %s %q with Connection: close: short path answered %d; want net/http", tc.path, tc.hdrs, got)
		}
		if short.code != slow.code || short.body != slow.body {
			t.Errorf("GET %s %q: short path %d %q, net/http %d %q", tc.path, tc.hdrs, short.code, short.body, slow.code, slow.body)
		}
		for _, h := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Etag", "Last-Modified", "Cache-Control", "Vary"} {
			if short.hdr.Get(h) != slow.hdr.Get(h) {
				t.Errorf("GET %s %q: %s short path %q, net/http %q", tc.path, tc.hdrs, h, short.hdr.Get(h), slow.hdr.Get(h))
			}
		}
		if short.hdr.Get("Date") == "" {
			t.Errorf("GET %s: no Date", tc.path)
		}
	}
}

func TestShortPathHTTP10AndMalformed(t *testing.T) {
	ts := start(t, Options{Dir: tree(t, map[string]string{"a.txt": "hello"})})
	if rs := exchange(t, ts.Addr, "GET /a.txt HTTP/1.0\r\nHost: localhost\r\n\r\n", 1); rs[0].code != 200 || rs[0].body != "hello" {
		t.Errorf("HTTP/1.0 GET = %d %q", rs[0].code, rs[0].body)
	}
	for _, raw := range []string{
		"GET /a.txt HTTP/1.1\r\n\r\n", // no Host
		"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
		"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	} {
		rs := exchange(t, ts.Addr, raw, 1)
		if raw == "GET /a.txt HTTP/1.1\r\n\r\n" || strings.Contains(raw, "Bad Header") {
			if rs[0].code != 400 {
				t.Errorf("%q = %d; want 400", raw, rs[0].code)
			}
		} else if rs[0].code != 200 {
			t.Errorf("%q = %d; want 200 from net/http", raw, rs[0].code)
		}
	}
}

func TestShutdownClosesIdleShortPathConns(t *testing.T) {
	ts := start(t, Options{Dir: tree(t, map[string]string{"a.txt": "hello"})})
	c, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
	br := bufio.NewReader(c)
	r, err := http.ReadResponse(br, nil)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("GET = %v, %v", r, err)
	}
	io.Copy(io.Discard, r.Body)
	// A second, silent connection that never sent a request.
	c2, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := ts.hs.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with idle connections: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v with only idle connections", d)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("idle connection after Shutdown: read %v; want EOF", err)
	}
}

func TestReadHead(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"one request", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", nil},
		{"pipelined: first only", "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", "GET /a HTTP/1.1\r\n\r\n", nil},
		{"bare newlines", "GET / HTTP/1.1\nHost: a\n\n", "GET / HTTP/1.1\nHost: a\n\n", nil},
		{"leading blank lines kept", "\r\n\r\nGET / HTTP/1.1\r\n\r\n", "\r\n\r\nGET / HTTP/1.1\r\n\r\n", nil},
		{"cut short", "GET / HTTP/1.1\r\nHost: a\r\n", "GET / HTTP/1.1\r\nHost: a\r\n", io.EOF},
		{"too large", "GET / HTTP/1.1\r\nX: " + strings.Repeat("x", 10000) + "\r\n\r\n", "", errHeadTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readHead(bufio.NewReaderSize(strings.NewReader(tt.in), 16), nil, 1024)
			if err != tt.err || (tt.err != errHeadTooLarge && string(got) != tt.want) {
				t.Errorf("readHead(%.40q) = %.40q, %v; want %.40q, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

// FuzzReadHead feeds the short path's head reader and request check
// arbitrary bytes: a head it returns is a prefix of the input that ends a
// header block, it never grows far past the limit, and a request it lets
// through the short path is a plain GET or HEAD for a path.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: \"x\"\r\n\r\n",
		"GET http://evil/ HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"GET /%2e%2e/x HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"\r\n\r\nGET / HTTP/1.0\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		const max = 512
		head, err := readHead(bufio.NewReaderSize(strings.NewReader(in), 16), nil, max)
		if !strings.HasPrefix(in, string(head)) {
			t.Fatalf("readHead(%q) = %q, not a prefix", in, head)
		}
		if len(head) > max+4096+16 {
			t.Fatalf("readHead(%q) read %d bytes past a limit of %d", in, len(head), max)
		}
		if err != nil {
			return
		}
		if !strings.HasSuffix(string(head), "\n\n") && !strings.HasSuffix(string(head), "\n\r\n") {
			t.Fatalf("readHead(%q) = %q, which does not end a header block", in, head)
		}
		r, ok := parseHead(head)
		if !ok {
			return
		}
		if (r.Method != "GET" && r.Method != "HEAD") || r.ContentLength != 0 || !strings.HasPrefix(r.RequestURI, "/") || r.Close {
			t.Fatalf("parseHead(%q) let through %s %q (length %d, close %v)", head, r.Method, r.RequestURI, r.ContentLength, r.Close)
		}
	})
}

// TestAnswerNotHeldByWhatFollows: an answer leaves as soon as it is
// written, whatever the client sent behind its request: a stray CRLF, or
// the first bytes of the next request. ReadHeaderTimeout is an hour, so an
// answer that waited for the rest of the next head would miss the test's
// 30 s deadline.
func TestAnswerNotHeldByWhatFollows(t *testing.T) {
	ts := start(t, Options{Dir: tree(t, map[string]string{"1k.bin": strings.Repeat("k", 1024)}), ReadHeaderTimeout: time.Hour})
	req := "GET /1k.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"
	for _, tail := range []string{"\r\n", "\n", "GET /1k.bin HTTP/1.1\r\nHo", "G"} {
		t.Run(fmt.Sprintf("%q", tail), func(t *testing.T) {
			before := ts.hs.fastServed.Load()
			rs := exchange(t, ts.Addr, req+tail, 1)
			if rs[0].code != 200 || len(rs[0].body) != 1024 {
				t.Errorf("GET /1k.bin then %q = %d, %d bytes", tail, rs[0].code, len(rs[0].body))
			}
			if got := ts.hs.fastServed.Load() - before; got != 1 {
				t.Errorf("short path answered %d requests; want 1", got)
			}
		})
	}
}

// neverReads pipelines n requests for path on a new connection and never
// reads an answer. It returns the connection.
func neverReads(t *testing.T, addr, path string, n int) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A small receive buffer, so that the server's writes block soon.
	c.(*net.TCPConn).SetReadBuffer(4 << 10)
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, strings.Repeat("GET "+path+" HTTP/1.1\r\nHost: localhost\r\n\r\n", n)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWriteTimeoutEndsShutdown: a client that pipelines and never reads
// pins neither path's goroutine: its writes time out, its connection
// closes, and Shutdown returns without waiting out its grace period.
func TestWriteTimeoutEndsShutdown(t *testing.T) {
	files := map[string]string{"small.bin": strings.Repeat("s", 200<<10), "large.bin": strings.Repeat("l", 4<<20)}
	for _, path := range []string{"/small.bin", "/large.bin"} {
		t.Run(path, func(t *testing.T) {
			s, ln := newUnserved(t, Options{Dir: tree(t, files), WriteTimeout: 200 * time.Millisecond})
			hs := s.HTTPServer()
			var active atomic.Bool
			hs.HTTP.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateActive {
					active.Store(true)
				}
			}
			done := make(chan error, 1)
			go func() { done <- hs.Serve(ln) }()
			// 200 answers of 200 KiB or 4 MiB: far more than the
			// kernel buffers hold.
			neverReads(t, ln.Addr().String(), path, 200)
			// Wait until the path under test is busy on it: the short
			// path has answered, or net/http has the connection.
			for deadline := time.Now().Add(30 * time.Second); hs.fastServed.Load() == 0 && !active.Load(); {
				if time.Now().After(deadline) {
					t.Fatal("neither path took the requests within 30s")
				}
				time.Sleep(time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := hs.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown with a client that never reads = %v; want nil once its writes time out", err)
			}
			if err := <-done; err != http.ErrServerClosed {
				t.Errorf("Serve = %v", err)
			}
		})
	}
}

// TestShutdownAnswersARequestAlreadyRead: a request the short path is
// reading when Shutdown starts, and that needs net/http (a 404), is
// answered, not dropped.
func TestShutdownAnswersARequestAlreadyRead(t *testing.T) {
	s, ln := newUnserved(t, Options{Dir: tree(t, map[string]string{"a.txt": "a"})})
	addr := ln.Addr().String()
	hs := s.HTTPServer()
	go hs.Serve(ln)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "GET /nope HTTP/1.1\r\nHost: localhost\r\n")
	// Wait until the short path is reading the head (not idle).
	for deadline := time.Now().Add(30 * time.Second); ; {
		hs.mu.Lock()
		reading := false
		for fc := range hs.conns {
			reading = reading || !fc.idle.Load()
		}
		hs.mu.Unlock()
		if reading {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the short path never started reading the head")
		}
		time.Sleep(time.Millisecond)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- hs.Shutdown(ctx)
	}()
	// Shutdown has begun once the listener refuses.
	for deadline := time.Now().Add(30 * time.Second); ; {
		p, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		p.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts 30s after Shutdown")
		}
		time.Sleep(time.Millisecond)
	}
	io.WriteString(c, "\r\n")
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || r.StatusCode != 404 {
		t.Fatalf("request read before Shutdown = %v, %v; want its 404", r, err)
	}
	r.Body.Close()
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

// TestZeroTimeoutsMeanNoLimit: IdleTimeout and ReadHeaderTimeout of 0 are
// no limit, as in net/http, not an immediate one.
func TestZeroTimeoutsMeanNoLimit(t *testing.T) {
	ts := startTuned(t, Options{Dir: tree(t, map[string]string{"a.txt": "hello"})}, func(hs *HTTPServer) {
		hs.HTTP.IdleTimeout, hs.HTTP.ReadHeaderTimeout, hs.HTTP.ReadTimeout = 0, 0, 0
	})
	c, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	for i := range 2 {
		io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d on one connection with zero timeouts: %v", i+1, err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
}

func TestHeadDeadline(t *testing.T) {
	accepted := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	firstByte := accepted.Add(9 * time.Second)
	tests := []struct {
		name  string
		first bool
		rht   time.Duration
		want  time.Time
	}{
		// The first head: from the accept, so waiting for its first
		// byte counts (not twice ReadHeaderTimeout).
		{"first request", true, 10 * time.Second, accepted.Add(10 * time.Second)},
		{"next request", false, 10 * time.Second, firstByte.Add(10 * time.Second)},
		{"no limit", true, 0, time.Time{}},
		{"negative", false, -1, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := headDeadline(tt.first, accepted, firstByte, tt.rht); !got.Equal(tt.want) {
				t.Errorf("headDeadline(%v, %v) = %v; want %v", tt.first, tt.rht, got, tt.want)
			}
		})
	}
}

// flakyListener is a real listener whose Accept first fails with the given
// errors, as the kernel's accept(2) does when file descriptors, buffers or
// memory run out: conditions a test cannot make for real without starving
// the machine.
type flakyListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func TestAcceptRetries(t *testing.T) {
	acceptErr := func(e syscall.Errno) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept", e)}
	}
	s, ln := newUnserved(t, Options{Dir: tree(t, map[string]string{"a.txt": "hello"})})
	fl := &flakyListener{Listener: ln, errs: []error{acceptErr(syscall.ENFILE), acceptErr(syscall.ENOBUFS), acceptErr(syscall.ECONNABORTED), acceptErr(syscall.EMFILE), acceptErr(syscall.ENOMEM)}}
	hs := s.HTTPServer()
	done := make(chan error, 1)
	go func() { done <- hs.Serve(fl) }()
	ts := &testServer{Server: s, URL: "http://" + ln.Addr().String()}
	if r := ts.get(t, "/a.txt"); r.code != 200 {
		t.Errorf("GET after accept failures = %d", r.code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hs.Shutdown(ctx)
	if err := <-done; err != http.ErrServerClosed {
		t.Errorf("Serve = %v; want ErrServerClosed", err)
	}

	// A failure that does not pass ends Serve.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	hs2 := s.HTTPServer()
	defer hs2.Close()
	if err := hs2.Serve(&flakyListener{Listener: ln2, errs: []error{acceptErr(syscall.EINVAL)}}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Serve after EINVAL = %v; want it returned", err)
	}
}

// FuzzReadHeadMatchesNetHTTP: wherever http.ReadRequest reads a request
// head, readHead consumes exactly the same bytes, so that what follows is
// the next request for both paths; and a head the short path answers is
// one http.ReadRequest reads alike, with nothing left of it.
func FuzzReadHeadMatchesNetHTTP(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: localhost\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\nrest",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		const max = 1 << 20
		nr := strings.NewReader(in)
		br := bufio.NewReader(nr)
		req, rerr := http.ReadRequest(br)
		netConsumed := len(in) - nr.Len() - br.Buffered()

		head, herr := readHead(bufio.NewReaderSize(strings.NewReader(in), 16), nil, max)
		if rerr == nil {
			if herr != nil || len(head) != netConsumed {
				t.Fatalf("input %q: http.ReadRequest consumed %d bytes (%q), readHead %d (%q, %v)", in, netConsumed, in[:netConsumed], len(head), head, herr)
			}
		}
		if herr != nil {
			return
		}
		r, ok := parseHead(head)
		if !ok {
			return
		}
		if rerr != nil || req.Method != r.Method || req.RequestURI != r.RequestURI || req.Host != r.Host {
			t.Fatalf("input %q: the short path takes %s %q (Host %q), http.ReadRequest %v, %v", in, r.Method, r.RequestURI, r.Host, req, rerr)
		}
	})
}

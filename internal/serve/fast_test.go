package serve

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// exchange writes raw requests on one connection and reads n responses.
func exchange(t *testing.T, addr, raw string, n int) []resp {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
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
	cases := []struct{ path, hdrs string }{
		{"/a.txt", ""},
		{"/app.js", ""},
		{"/app.js", "Accept-Encoding: gzip\r\n"},
		{"/app.js", "Accept-Encoding: br;q=0, gzip;q=0\r\n"},
		{"/app.js", "If-None-Match: " + etag + "\r\n"},
		{"/a.txt", "If-Modified-Since: " + lm + "\r\n"},
		{"/s.js", "Accept-Encoding: gzip\r\n"}, // sibling: handed over either way
		{"/p.html", ""},
		{"/a.txt", "Host: evil.example\r\n"},
		{"/nope", ""},
		{"/.env", ""},
	}
	for _, tc := range cases {
		host := "Host: localhost\r\n"
		if strings.HasPrefix(tc.hdrs, "Host:") {
			host = ""
		}
		base := "GET " + tc.path + " HTTP/1.1\r\n" + host + tc.hdrs
		short := exchange(t, ts.Addr, base+"\r\n", 1)[0]
		slow := exchange(t, ts.Addr, base+"Connection: close\r\n\r\n", 1)[0]
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

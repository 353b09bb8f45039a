package serve

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"homeport/internal/httpguard"
)

const indexHTML = "<!doctype html><html><body><h1>home</h1></body></html>"

func TestFiles(t *testing.T) {
	dir := tree(t, map[string]string{
		"index.html":     indexHTML,
		"app.js":         strings.Repeat("console.log('hi');\n", 100),
		"data.json":      `{"a":1}`,
		"img/logo.svg":   "<svg xmlns='http://www.w3.org/2000/svg'/>",
		"noext":          "plain text here",
		"sub/index.html": "<p>sub</p>",
	})
	ts := start(t, Options{Dir: dir})

	tests := []struct {
		name, path string
		code       int
		ctype      string
		body       string
	}{
		{"root serves index.html", "/", 200, "text/html; charset=utf-8", indexHTML},
		{"index.html by name", "/index.html", 200, "text/html; charset=utf-8", indexHTML},
		{"javascript", "/app.js", 200, "text/javascript; charset=utf-8", strings.Repeat("console.log('hi');\n", 100)},
		{"json", "/data.json", 200, "application/json", `{"a":1}`},
		{"svg", "/img/logo.svg", 200, "image/svg+xml", "<svg xmlns='http://www.w3.org/2000/svg'/>"},
		{"sniffed", "/noext", 200, "text/plain; charset=utf-8", "plain text here"},
		{"folder index", "/sub/", 200, "text/html; charset=utf-8", "<p>sub</p>"},
		{"missing", "/nope.html", 404, "", ""},
		{"file with trailing slash", "/app.js/", 404, "", ""},
		{"below a file", "/app.js/x", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.get(t, tt.path)
			if r.code != tt.code {
				t.Fatalf("GET %s = %d; want %d", tt.path, r.code, tt.code)
			}
			if tt.code != 200 {
				return
			}
			if got := r.hdr.Get("Content-Type"); got != tt.ctype {
				t.Errorf("GET %s Content-Type = %q; want %q", tt.path, got, tt.ctype)
			}
			if r.body != tt.body {
				t.Errorf("GET %s body = %q; want %q", tt.path, r.body, tt.body)
			}
			if got := r.hdr.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("GET %s Cache-Control = %q; want no-cache", tt.path, got)
			}
			if r.hdr.Get("ETag") == "" || r.hdr.Get("Last-Modified") == "" {
				t.Errorf("GET %s: no ETag or Last-Modified: %v", tt.path, r.hdr)
			}
		})
	}

	if r := ts.do(t, http.MethodHead, "/app.js"); r.code != 200 || r.body != "" || r.hdr.Get("Content-Length") != "1900" {
		t.Errorf("HEAD /app.js = %d, %q, Content-Length %q; want 200, empty, 1900", r.code, r.body, r.hdr.Get("Content-Length"))
	}
	if r := ts.do(t, http.MethodPost, "/app.js"); r.code != 405 || r.hdr.Get("Allow") == "" {
		t.Errorf("POST /app.js = %d, Allow %q; want 405 with Allow", r.code, r.hdr.Get("Allow"))
	}
}

func TestEditSeenAtOnce(t *testing.T) {
	dir := tree(t, map[string]string{"a.txt": "one"})
	ts := start(t, Options{Dir: dir})
	if r := ts.get(t, "/a.txt"); r.body != "one" {
		t.Fatalf("GET /a.txt = %q; want one", r.body)
	}
	// Same size, later mtime: the cache must see it.
	p := filepath.Join(dir, "a.txt")
	os.WriteFile(p, []byte("two"), 0o644)
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(p, later, later)
	if r := ts.get(t, "/a.txt"); r.body != "two" {
		t.Fatalf("GET /a.txt after edit = %q; want two", r.body)
	}
	os.Remove(p)
	if r := ts.get(t, "/a.txt"); r.code != 404 {
		t.Fatalf("GET /a.txt after remove = %d; want 404", r.code)
	}
}

func TestConditional(t *testing.T) {
	big := strings.Repeat("0123456789", 100_000) // 1 MB, above SmallFile
	ts := start(t, Options{Dir: tree(t, map[string]string{"s.txt": "small file", "big.bin": big}), SmallFile: 1024})
	for _, p := range []string{"/s.txt", "/big.bin"} {
		r := ts.get(t, p)
		etag, lm := r.hdr.Get("ETag"), r.hdr.Get("Last-Modified")
		if r.code != 200 || etag == "" || lm == "" {
			t.Fatalf("GET %s = %d ETag %q Last-Modified %q", p, r.code, etag, lm)
		}
		for _, h := range []string{"If-None-Match: " + etag, "If-None-Match: W/" + etag, `If-None-Match: "x", ` + etag, "If-Modified-Since: " + lm} {
			if r := ts.get(t, p, h); r.code != 304 || r.body != "" {
				t.Errorf("GET %s with %s = %d; want 304", p, h, r.code)
			}
		}
		for _, h := range []string{`If-None-Match: "other"`, "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT"} {
			if r := ts.get(t, p, h); r.code != 200 {
				t.Errorf("GET %s with %s = %d; want 200", p, h, r.code)
			}
		}
		if r := ts.get(t, p, `If-Match: "other"`); r.code != 412 {
			t.Errorf("GET %s with If-Match other = %d; want 412", p, r.code)
		}
	}
}

func TestRange(t *testing.T) {
	big := strings.Repeat("abcdefghij", 100_000)
	ts := start(t, Options{Dir: tree(t, map[string]string{"s.txt": "0123456789", "big.txt": big}), SmallFile: 1024})
	tests := []struct {
		path, rng string
		code      int
		body      string
	}{
		{"/s.txt", "bytes=2-5", 206, "2345"},
		{"/s.txt", "bytes=-3", 206, "789"},
		{"/s.txt", "bytes=8-", 206, "89"},
		{"/s.txt", "bytes=50-60", 416, ""},
		{"/big.txt", "bytes=999995-", 206, "fghij"},
		{"/big.txt", "bytes=10-14", 206, "abcde"},
	}
	for _, tt := range tests {
		// Range with gzip accepted still gets identity bytes.
		r := ts.get(t, tt.path, "Range: "+tt.rng, "Accept-Encoding: gzip")
		if r.code != tt.code {
			t.Errorf("GET %s Range %s = %d; want %d", tt.path, tt.rng, r.code, tt.code)
			continue
		}
		if tt.code == 206 && (r.body != tt.body || r.hdr.Get("Content-Encoding") != "") {
			t.Errorf("GET %s Range %s = %q (encoding %q); want %q", tt.path, tt.rng, r.body, r.hdr.Get("Content-Encoding"), tt.body)
		}
	}
	if r := ts.get(t, "/big.txt"); r.body != big || r.hdr.Get("Content-Length") != "1000000" {
		t.Errorf("GET /big.txt: %d bytes, Content-Length %q; want the whole file", len(r.body), r.hdr.Get("Content-Length"))
	}
}

func gunzip(t *testing.T, s string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(s))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCompression(t *testing.T) {
	js := strings.Repeat("function f(){return 1}\n", 200)
	bigCSS := strings.Repeat("body{color:red}\n", 100_000)
	ts := start(t, Options{Dir: tree(t, map[string]string{
		"app.js":    js,
		"app.js.br": "BROTLI-BYTES",
		"app.js.gz": "GZIP-BYTES",
		"lib.js":    js,
		"big.css":   bigCSS,
		"pic.png":   strings.Repeat("\x89PNG", 200),
	}), SmallFile: 64 << 10})

	tests := []struct {
		name, path, ae string
		enc, body      string
	}{
		{"brotli sibling", "/app.js", "gzip, deflate, br", "br", "BROTLI-BYTES"},
		{"gzip sibling", "/app.js", "gzip", "gzip", "GZIP-BYTES"},
		{"br refused by q=0", "/app.js", "br;q=0, gzip", "gzip", "GZIP-BYTES"},
		{"identity", "/app.js", "", "", js},
		{"on the fly small", "/lib.js", "gzip", "gzip", js},
		{"on the fly large", "/big.css", "gzip", "gzip", bigCSS},
		{"large identity", "/big.css", "", "", bigCSS},
		{"image not compressed", "/pic.png", "gzip", "", strings.Repeat("\x89PNG", 200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.ae != "" {
				h = append(h, "Accept-Encoding: "+tt.ae)
			}
			r := ts.get(t, tt.path, h...)
			if got := r.hdr.Get("Content-Encoding"); got != tt.enc {
				t.Fatalf("GET %s (Accept-Encoding %q) Content-Encoding = %q; want %q", tt.path, tt.ae, got, tt.enc)
			}
			body := r.body
			if tt.enc == "gzip" && !strings.HasSuffix(tt.body, "-BYTES") {
				body = gunzip(t, body)
				if len(r.body) >= len(tt.body) {
					t.Errorf("gzip body %d bytes, not smaller than %d", len(r.body), len(tt.body))
				}
			}
			if body != tt.body {
				t.Errorf("GET %s (Accept-Encoding %q) body = %.40q; want %.40q", tt.path, tt.ae, body, tt.body)
			}
			if strings.HasSuffix(tt.path, ".js") || strings.HasSuffix(tt.path, ".css") {
				if r.hdr.Get("Vary") != "Accept-Encoding" {
					t.Errorf("GET %s Vary = %q; want Accept-Encoding", tt.path, r.hdr.Get("Vary"))
				}
				if r.hdr.Get("Content-Type") != "text/javascript; charset=utf-8" && r.hdr.Get("Content-Type") != "text/css; charset=utf-8" {
					t.Errorf("GET %s Content-Type = %q", tt.path, r.hdr.Get("Content-Type"))
				}
			}
		})
	}
	// The gzip and identity forms have different validators.
	a, b := ts.get(t, "/lib.js"), ts.get(t, "/lib.js", "Accept-Encoding: gzip")
	if a.hdr.Get("ETag") == b.hdr.Get("ETag") {
		t.Errorf("identity and gzip ETag are both %q", a.hdr.Get("ETag"))
	}
	if r := ts.get(t, "/lib.js", "Accept-Encoding: gzip", "If-None-Match: "+b.hdr.Get("ETag")); r.code != 304 {
		t.Errorf("revalidating the gzip form = %d; want 304", r.code)
	}
}

func TestListing(t *testing.T) {
	dir := tree(t, map[string]string{
		"b.txt":                "bb",
		"A dir/x":              "x",
		"<script>alert(1).txt": "x",
		"a:b.txt":              "x",
		".env":                 "SECRET=1",
		".git/config":          "x",
		"empty/":               "",
	})
	ts := start(t, Options{Dir: dir})
	r := ts.get(t, "/")
	if r.code != 200 || r.hdr.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %q; want an HTML listing", r.code, r.hdr.Get("Content-Type"))
	}
	for _, want := range []string{`href="A%20dir/"`, `href="b.txt"`, `href="empty/"`, "&lt;script&gt;alert(1).txt", `href="./a:b.txt"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("listing lacks %s:\n%s", want, r.body)
		}
	}
	for _, bad := range []string{"<script>alert", ".env", ".git"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("listing shows %q:\n%s", bad, r.body)
		}
	}

	r = ts.get(t, "/", "Accept: application/json")
	var list []listEntry
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		t.Fatalf("JSON listing: %v\n%s", err, r.body)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
	}
	want := []string{"A dir", "empty", "<script>alert(1).txt", "a:b.txt", "b.txt"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("JSON listing names = %q; want %q", names, want)
	}
	if list[4].Size != 2 || list[0].Dir != true || list[0].URL != "A%20dir/" {
		t.Errorf("JSON listing entries = %+v", list)
	}

	ts2 := start(t, Options{Dir: dir, Dotfiles: true})
	if r := ts2.get(t, "/"); !strings.Contains(r.body, ".env") {
		t.Errorf("listing with dotfiles lacks .env")
	}
}

func TestRedirectIsRelative(t *testing.T) {
	ts := start(t, Options{Dir: tree(t, map[string]string{"sub/a": "a", "evil.example/a": "a", "a b/x": "x"})})
	tests := []struct{ target, loc string }{
		{"/sub", "sub/"},
		{"/sub?x=1", "sub/?x=1"},
		{"//evil.example", "evil.example/"},
		{"///evil.example", "evil.example/"},
		{"/%2Fevil.example", "evil.example/"},
		{"/sub/..//evil.example", "evil.example/"},
		{"/a%20b", "a%20b/"},
	}
	for _, tt := range tests {
		code, out := ts.raw(t, tt.target)
		loc, _, _ := strings.Cut(out, "\n")
		if code != http.StatusFound || loc != tt.loc {
			t.Errorf("GET %s = %d Location %q; want 302 %q", tt.target, code, loc, tt.loc)
		}
		if strings.HasPrefix(loc, "/") || strings.Contains(loc, "//") {
			t.Errorf("GET %s Location %q is not relative", tt.target, loc)
		}
	}
}

func TestSPA(t *testing.T) {
	dir := tree(t, map[string]string{"index.html": indexHTML, "app.js": "js", ".env": "SECRET"})
	os.WriteFile(filepath.Join(filepath.Dir(dir), "secret"), []byte("SECRET"), 0o644)
	ts := start(t, Options{Dir: dir, SPA: true})
	tests := []struct {
		path string
		code int
		body string
	}{
		{"/users/42", 200, indexHTML},
		{"/users/42/", 200, indexHTML},
		{"/app.js", 200, "js"},
		{"/missing.js", 404, ""},
		{"/.env", 404, ""},
		{"/../secret", 200, indexHTML}, // folded to /secret: not there, so the app
	}
	for _, tt := range tests {
		code, out := ts.raw(t, tt.path)
		if code != tt.code || (tt.body != "" && !strings.HasSuffix(out, tt.body)) || strings.Contains(out, "SECRET") {
			t.Errorf("GET %s = %d %q; want %d %q", tt.path, code, out, tt.code, tt.body)
		}
	}
}

func TestCORS(t *testing.T) {
	dir := tree(t, map[string]string{"a.json": "{}", "big.json": "[" + strings.Repeat(`"x",`, 200) + `"x"]`})
	if r := start(t, Options{Dir: dir}).get(t, "/a.json", "Origin: http://localhost:5173"); r.hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS is on by default: %q", r.hdr.Get("Access-Control-Allow-Origin"))
	}
	ts := start(t, Options{Dir: dir, CORS: "http://localhost:5173"})
	if r := ts.get(t, "/a.json", "Origin: http://localhost:5173"); r.hdr.Get("Access-Control-Allow-Origin") != "http://localhost:5173" {
		t.Errorf("Access-Control-Allow-Origin = %q; want http://localhost:5173", r.hdr.Get("Access-Control-Allow-Origin"))
	}
	// Vary names both what CORS and compression depend on.
	if r := ts.get(t, "/big.json", "Origin: http://localhost:5173"); strings.Join(r.hdr.Values("Vary"), ",") != "Origin,Accept-Encoding" {
		t.Errorf("Vary = %q; want Origin and Accept-Encoding", r.hdr.Values("Vary"))
	}
	r := ts.do(t, http.MethodOptions, "/a.json", "Origin: http://localhost:5173", "Access-Control-Request-Method: GET", "Access-Control-Request-Headers: x-token")
	if r.code != 204 || r.hdr.Get("Access-Control-Allow-Methods") == "" || r.hdr.Get("Access-Control-Allow-Headers") != "x-token" {
		t.Errorf("preflight = %d %v; want 204 with allow headers", r.code, r.hdr)
	}
}

func TestAuth(t *testing.T) {
	ts := start(t, Options{Dir: tree(t, map[string]string{"a.txt": "a"}), Auth: "dev:s3cret"})
	req := func(user, pass string) int {
		rq, _ := http.NewRequest("GET", ts.URL+"/a.txt", nil)
		if user != "" {
			rq.SetBasicAuth(user, pass)
		}
		r, err := client(t).Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("401 without a Basic challenge")
		}
		return r.StatusCode
	}
	for _, tt := range []struct {
		user, pass string
		want       int
	}{{"", "", 401}, {"dev", "wrong", 401}, {"other", "s3cret", 401}, {"dev", "s3cret", 200}} {
		if got := req(tt.user, tt.pass); got != tt.want {
			t.Errorf("GET as %q:%q = %d; want %d", tt.user, tt.pass, got, tt.want)
		}
	}
	if _, err := New(Options{Dir: t.TempDir(), Auth: "nopassword"}); err == nil {
		t.Error(`New with Auth "nopassword" did not fail`)
	}
}

func TestHostAllowList(t *testing.T) {
	dir := tree(t, map[string]string{"a.txt": "a"})
	ts := start(t, Options{Dir: dir})
	lan := start(t, Options{Dir: dir, Hosts: httpguard.NewHosts("192.168.1.20")})
	tests := []struct {
		host     string
		def, lan int
	}{
		{"localhost:62893", 200, 200},
		{"LOCALHOST.", 200, 200},
		{"app.localhost", 200, 200},
		{"127.0.0.1:62893", 200, 200},
		{"[::1]:62893", 200, 200},
		{"evil.example", 403, 403},
		{"localhost.evil.example", 403, 403},
		{"192.168.1.20:62893", 403, 200},
		{"192.168.1.21:62893", 403, 403},
	}
	for _, tt := range tests {
		if r := ts.get(t, "/a.txt", "Host: "+tt.host); r.code != tt.def || (r.code == 403 && r.body == "a") {
			t.Errorf("GET with Host %q = %d; want %d", tt.host, r.code, tt.def)
		}
		if r := lan.get(t, "/a.txt", "Host: "+tt.host); r.code != tt.lan {
			t.Errorf("with LAN host, GET with Host %q = %d; want %d", tt.host, r.code, tt.lan)
		}
	}
}

func TestRequestLog(t *testing.T) {
	var buf syncBuffer
	ts := start(t, Options{Dir: tree(t, map[string]string{"a.txt": "hello"}), Log: &buf})
	ts.get(t, "/a.txt")
	ts.get(t, "/nope")
	// The HTTP parser refuses control bytes in the request line; the log
	// quotes them anyway, should one come through.
	ts.Server.log.request(&http.Request{Method: "GET", RequestURI: "/a.txt?\x1b[2J"}, 200, 1, time.Millisecond)
	ts.Server.log.flush()
	out := buf.String()
	for _, want := range []string{" GET /a.txt 200 5B ", " GET /nope 404 ", `"/a.txt?\x1b[2J"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("log holds a raw escape:\n%q", out)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package serve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// discardWriter is a ResponseWriter that keeps only the status, so that the
// benchmark measures the handler, not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func benchHandler(b *testing.B, opts Options, target string, headers ...string) {
	s, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	req := httptest.NewRequest("GET", target, nil)
	req.Host = "127.0.0.1:62893"
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		w.code = 0
		s.ServeHTTP(w, req)
		if w.code != http.StatusOK && w.code != http.StatusNotModified {
			b.Fatalf("GET %s = %d", target, w.code)
		}
	}
}

func benchDir(b *testing.B) string {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "1k.txt"), []byte(strings.Repeat("x", 1024)), 0o644)
	os.WriteFile(filepath.Join(dir, "app.js"), []byte(strings.Repeat("function f(){return 1}\n", 500)), 0o644)
	return dir
}

// BenchmarkSmallFile is the hot path of bench/serve.sh: a cached 1 KiB file.
func BenchmarkSmallFile(b *testing.B) {
	benchHandler(b, Options{Dir: benchDir(b)}, "/1k.txt")
}

func BenchmarkSmallFileLogged(b *testing.B) {
	benchHandler(b, Options{Dir: benchDir(b), Log: io.Discard}, "/1k.txt")
}

func BenchmarkRevalidate304(b *testing.B) {
	dir := benchDir(b)
	s, _ := New(Options{Dir: dir})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/1k.txt", nil))
	s.Close()
	benchHandler(b, Options{Dir: dir}, "/1k.txt", "If-None-Match: "+w.Header().Get("Etag"))
}

func BenchmarkGzipCached(b *testing.B) {
	benchHandler(b, Options{Dir: benchDir(b)}, "/app.js", "Accept-Encoding: gzip, deflate, br")
}

func BenchmarkCleanPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cleanPath("/assets/js/vendor/app.min.js", false); err != nil {
			b.Fatal(err)
		}
	}
}

package serve

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// tree writes files (name → content; a name ending in "/" is a folder) under
// a new temporary folder and returns it.
func tree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testServer is a Server behind a real listener on 127.0.0.1:0.
type testServer struct {
	*Server
	URL  string
	Addr string
	hs   *HTTPServer
}

func start(t testing.TB, opts Options) *testServer {
	t.Helper()
	return startTuned(t, opts, nil)
}

// startTuned is start with tune applied to the HTTPServer before it serves.
func startTuned(t testing.TB, opts Options, tune func(*HTTPServer)) *testServer {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := s.HTTPServer()
	if tune != nil {
		tune(hs)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		hs.Serve(ln)
	}()
	ts := &testServer{Server: s, URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), hs: hs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-done
		s.Close()
	})
	return ts
}

// client is a real HTTP client that neither follows redirects nor asks for
// gzip behind the test's back.
func client(t testing.TB) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

type resp struct {
	code int
	hdr  http.Header
	body string
}

// get sends a request with optional headers ("Name: value").
func (ts *testServer) do(t testing.TB, method, path string, headers ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Add(k, v)
	}
	r, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{r.StatusCode, r.Header, string(b)}
}

func (ts *testServer) get(t testing.TB, path string, headers ...string) resp {
	t.Helper()
	return ts.do(t, http.MethodGet, path, headers...)
}

// raw sends one request line exactly as given, bypassing any client-side
// cleaning, and returns the status and the whole response.
func (ts *testServer) raw(t testing.TB, target string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", ts.Addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	return r.StatusCode, r.Header.Get("Location") + "\n" + string(b)
}

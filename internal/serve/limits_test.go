package serve

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHTTPServerLimits(t *testing.T) {
	s, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs := s.HTTPServer().HTTP
	if hs.ReadHeaderTimeout != ReadHeaderTimeout || hs.IdleTimeout != IdleTimeout || hs.MaxHeaderBytes != MaxHeaderBytes {
		t.Errorf("HTTPServer limits = %v, %v, %d; want %v, %v, %d", hs.ReadHeaderTimeout, hs.IdleTimeout, hs.MaxHeaderBytes, ReadHeaderTimeout, IdleTimeout, MaxHeaderBytes)
	}
}

func TestHeaderTooLarge(t *testing.T) {
	ts := start(t, Options{Dir: tree(t, map[string]string{"a": "a"})})
	c, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	go func() {
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: localhost\r\nX-Big: "+strings.Repeat("x", 2*MaxHeaderBytes)+"\r\n\r\n")
	}()
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("request with %d header bytes = %d; want 431", 2*MaxHeaderBytes, r.StatusCode)
	}
}

// TestSlowloris opens 1,000 connections that never finish their headers:
// the server closes every one after ReadHeaderTimeout, and the goroutines
// return to where they were.
func TestSlowloris(t *testing.T) {
	if testing.Short() {
		t.Skip("slowloris: 1,000 connections")
	}
	const conns = 1000
	ts := start(t, Options{Dir: tree(t, map[string]string{"index.html": "x"}), ReadHeaderTimeout: 500 * time.Millisecond})
	// A real request first, so that the server's own goroutines exist.
	if r := ts.get(t, "/"); r.code != 200 {
		t.Fatalf("GET / = %d", r.code)
	}
	client(t).Transport.(*http.Transport).CloseIdleConnections()
	baseline := settledGoroutines()

	var wg sync.WaitGroup
	errs := make(chan error, conns)
	opened := make([]net.Conn, 0, conns)
	for range conns {
		c, err := net.DialTimeout("tcp", ts.Addr, 30*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		opened = append(opened, c)
		// Half a request line and one header, then nothing.
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: "); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for _, c := range opened {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			// The server may answer 408 before it closes; either way the
			// read ends with EOF or a reset, not our deadline.
			_, err := io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				errs <- err
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	if n := len(errs); n > 0 {
		t.Fatalf("%d of %d slow connections were still open after 60s: %v", n, conns, <-errs)
	}
	t.Logf("%d slow connections closed by the server in %v", conns, time.Since(start).Round(time.Millisecond))

	deadline := time.Now().Add(30 * time.Second)
	for {
		n := settledGoroutines()
		if n <= baseline {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, baseline %d\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And the server still serves.
	if r := ts.get(t, "/"); r.code != 200 {
		t.Errorf("GET / after the slowloris = %d", r.code)
	}
}

func settledGoroutines() int {
	runtime.GC()
	return runtime.NumGoroutine()
}

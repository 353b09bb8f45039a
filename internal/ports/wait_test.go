package ports

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// deadPort returns a port that refuses connections on 127.0.0.1 and ::1.
// Listening on 127.0.0.1:0 and closing is not enough on a busy machine: the
// same number may be held on the other loopback address.
func deadPort(t *testing.T) uint16 {
	t.Helper()
	got, err := Free(FreeOptions{Ranges: []Range{DynamicRange}})
	if err != nil {
		t.Fatal(err)
	}
	return got[0]
}

// listenOnly listens on host (an IP literal) at a port that is free on every
// loopback and wildcard address, so that nothing else answers on its number.
func listenOnly(t *testing.T, network, host string) (net.Listener, uint16) {
	t.Helper()
	for range 20 {
		p := deadPort(t)
		ln, err := net.Listen(network, net.JoinHostPort(host, strconv.Itoa(int(p))))
		if err == nil {
			return ln, p
		}
		if network == "tcp6" && noIPv6(err) {
			t.Skipf("no IPv6: %v", err)
		}
	}
	t.Fatalf("no port to listen on %s", host)
	return nil, 0
}

func mustTarget(t *testing.T, s string) Target {
	t.Helper()
	tg, err := ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitLast polls w until target i's Last satisfies ok.
func waitLast(t *testing.T, w *Waiter, i int, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok(w.Results()[i].Last) {
		if time.Now().After(deadline) {
			t.Fatalf("target %d last saw %q after 20s", i, w.Results()[i].Last)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWaitAlreadyOpen(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, p := listenOnly(t, "tcp4", "127.0.0.1")
	defer ln.Close()
	res, err := Wait(ctxTimeout(t, 20*time.Second), []Target{mustTarget(t, strconv.Itoa(int(p)))}, WaitOptions{})
	if err != nil || !res[0].Ready {
		t.Fatalf("Wait(open port) = %+v, %v; want ready", res, err)
	}
	if res[0].Addr != "127.0.0.1:"+strconv.Itoa(int(p)) {
		t.Errorf("answered by %q; want 127.0.0.1:%d", res[0].Addr, p)
	}
}

// TestWaitLocalhostMeansBoth: a server on [::1] only is ready for "PORT",
// "localhost:PORT" and "app.localhost:PORT", whatever /etc/hosts says.
func TestWaitLocalhostMeansBoth(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, p := listenOnly(t, "tcp6", "::1")
	defer ln.Close()
	ps := strconv.Itoa(int(p))
	for _, s := range []string{ps, "localhost:" + ps, "app.localhost:" + ps, "LOCALHOST.:" + ps, "[::1]:" + ps} {
		t.Run(s, func(t *testing.T) {
			res, err := Wait(ctxTimeout(t, 20*time.Second), []Target{mustTarget(t, s)}, WaitOptions{})
			if err != nil || !res[0].Ready {
				t.Fatalf("Wait(%s) = %+v, %v; want ready through [::1]", s, res, err)
			}
			if res[0].Addr != "[::1]:"+ps {
				t.Errorf("answered by %q; want [::1]:%s", res[0].Addr, ps)
			}
		})
	}
	// 127.0.0.1 means only itself.
	res, err := Wait(ctxTimeout(t, 100*time.Millisecond), []Target{mustTarget(t, "127.0.0.1:"+ps)}, WaitOptions{})
	if err == nil || res[0].Ready {
		t.Fatalf("Wait(127.0.0.1:%s) with a server on [::1] only = %+v, %v; want a timeout", ps, res, err)
	}
}

func TestWaitListenerAppears(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := deadPort(t)
	w := NewWaiter([]Target{mustTarget(t, strconv.Itoa(int(p)))}, WaitOptions{})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctxTimeout(t, 30*time.Second)) }()
	waitLast(t, w, 0, func(s string) bool { return s == "refused" })
	ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(int(p)))
	if err != nil {
		t.Skipf("port %d was taken meanwhile: %v", p, err)
	}
	defer ln.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v; want ready", err)
	}
	if r := w.Results()[0]; !r.Ready || r.After <= 0 {
		t.Fatalf("result %+v; want ready with a duration", r)
	}
}

func TestWaitTimeoutSaysRefused(t *testing.T) {
	defer goleak.VerifyNone(t)
	a := deadPort(t)
	ln, b := listenOnly(t, "tcp4", "127.0.0.1")
	defer ln.Close()
	res, err := Wait(ctxTimeout(t, 200*time.Millisecond),
		[]Target{mustTarget(t, "127.0.0.1:"+strconv.Itoa(int(a))), mustTarget(t, strconv.Itoa(int(b)))}, WaitOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v; want DeadlineExceeded", err)
	}
	if res[0].Ready || res[0].Last != "refused" {
		t.Errorf("dead target: %+v; want not ready, last refused", res[0])
	}
	if !res[1].Ready {
		t.Errorf("open target: %+v; want ready", res[1])
	}
}

func TestWaitHTTPStatus(t *testing.T) {
	defer goleak.VerifyNone(t)
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || r.Host == "" {
			http.NotFound(w, r)
			return
		}
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	u := "http://localhost:" + strconv.Itoa(port) + "/health"
	w := NewWaiter([]Target{mustTarget(t, u)}, WaitOptions{})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctxTimeout(t, 30*time.Second)) }()
	waitLast(t, w, 0, func(s string) bool { return strings.Contains(s, "HTTP 503") })
	healthy.Store(true)
	if err := <-done; err != nil {
		t.Fatalf("Run = %v; want ready", err)
	}

	// --status 503 takes the unhealthy answer as ready.
	healthy.Store(false)
	res, err := Wait(ctxTimeout(t, 20*time.Second), []Target{mustTarget(t, u)}, WaitOptions{Status: StatusSet{{503, 503}}})
	if err != nil || !res[0].Ready {
		t.Fatalf("Wait(status 503) = %+v, %v; want ready", res, err)
	}
	srv.CloseClientConnections()
}

func TestWaitHTTPSNeedsTrust(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	u := "https://localhost:" + strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port) + "/"
	res, err := Wait(ctxTimeout(t, 300*time.Millisecond), []Target{mustTarget(t, u)}, WaitOptions{})
	if err == nil || res[0].Ready || !strings.Contains(res[0].Last, "TLS error") {
		t.Fatalf("Wait(self-signed https) = %+v, %v; want not ready, last a TLS error", res, err)
	}
	res, err = Wait(ctxTimeout(t, 20*time.Second), []Target{mustTarget(t, u)}, WaitOptions{Insecure: true})
	if err != nil || !res[0].Ready {
		t.Fatalf("Wait(self-signed https, insecure) = %+v, %v; want ready", res, err)
	}
	srv.CloseClientConnections()
}

func TestWaitUntilFree(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, p := listenOnly(t, "tcp4", "127.0.0.1")
	w := NewWaiter([]Target{mustTarget(t, strconv.Itoa(int(p)))}, WaitOptions{UntilFree: true})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctxTimeout(t, 30*time.Second)) }()
	waitLast(t, w, 0, func(s string) bool { return strings.Contains(s, "still answering") })
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while the port is open", err)
	default:
	}
	ln.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v; want free", err)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "refused"},
		{"deadline", &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, "timed out"},
		{"context", context.DeadlineExceeded, "timed out"},
		{"status", &statusError{503}, "HTTP 503"},
		{"no host", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, "no such host"},
		{"reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, "connection reset"},
		{"unreachable", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Describe(tt.err); got != tt.want {
				t.Errorf("Describe(%v) = %q; want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	if got := summarize(map[string]string{"a": "refused", "b": "refused"}); got != "refused" {
		t.Errorf("summarize(same) = %q; want refused", got)
	}
	got := summarize(map[string]string{"[::1]:1": "HTTP 404", "127.0.0.1:1": "refused"})
	if got != "HTTP 404 from [::1]:1; 127.0.0.1:1 refused" {
		t.Errorf("summarize(mixed) = %q", got)
	}
	if got := summarize(map[string]string{}); got != "" {
		t.Errorf("summarize(empty) = %q", got)
	}
}

// BenchmarkWaitOpen measures one Wait on a port that is already open: what
// `homeport wait` costs beyond process start.
func BenchmarkWaitOpen(b *testing.B) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	tg, _ := ParseTarget(strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Wait(context.Background(), []Target{tg}, WaitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBindable measures the four binds of one free-port check.
func BenchmarkBindable(b *testing.B) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	b.ReportAllocs()
	for b.Loop() {
		Bindable(p)
	}
}

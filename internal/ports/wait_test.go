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

// waitSeen polls w until what target i saw last is of kind want.
func waitSeen(t *testing.T, w *Waiter, i int, want SeenKind) Result {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := w.Results()[i]
		if r.Seen.Kind == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("target %d last saw %q (kind %d) after 20s; want kind %d", i, r.Summary(), r.Seen.Kind, want)
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
	// 127.0.0.1 means only itself, and the refusal says that [::1]
	// answers: waiting does not change the family a server listens on.
	w := NewWaiter([]Target{mustTarget(t, "127.0.0.1:"+ps)}, WaitOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	r := waitSeen(t, w, 0, OtherFamily)
	cancel()
	if err := <-done; err == nil || w.Results()[0].Ready {
		t.Fatalf("Wait(127.0.0.1:%s) with a server on [::1] only = ready; want not ready", ps)
	}
	if r.Seen.Detail != "[::1]:"+ps {
		t.Errorf("Wait(127.0.0.1:%s) saw %+v; want [::1]:%s named as the address that answers", ps, r.Seen, ps)
	}
}

// Failures that waiting cannot fix are told apart from a server that is
// not up yet, each by its kind, against real servers: Go's TLS server for
// an http:// URL, a raw TLS alert (a stand-in for TLS servers that answer
// plain HTTP with one, as OpenSSL's does), a plain server for https://, a
// Redis stand-in, and a dev server's Host check.
func TestWaitKindsThatWaitingCannotFix(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the servers' own cleanups
	quiet := log.New(io.Discard, "", 0)
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsSrv.Config.ErrorLog = quiet
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	plain.Config.ErrorLog = quiet
	defer plain.Close()
	hostCheck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Host, "localhost") {
			http.Error(w, `Blocked request. This host ("`+r.Host+`") is not allowed.`, http.StatusForbidden)
		}
	}))
	defer hostCheck.Close()
	alert := answerServer(t, "\x15\x03\x01\x00\x02\x02\x46")
	redis := answerServer(t, "-ERR unknown command 'GET'\r\n")
	// Python's http.server answers a TLS hello as an HTTP/0.9 request: an
	// HTML error page without a status line.
	python := answerServer(t, "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head><title>Error response</title></head>\n")
	port := func(u string) string { return u[strings.LastIndexByte(u, ':')+1:] }

	tests := []struct {
		name   string
		target string
		want   SeenKind
		says   string
	}{
		{"TLS server, http:// URL", "http://127.0.0.1:" + port(tlsSrv.URL) + "/", TLSOnHTTP, "speaks TLS"},
		{"TLS alert, http:// URL", "http://127.0.0.1:" + alert + "/", TLSOnHTTP, "speaks TLS"},
		{"plain server, https:// URL", "https://127.0.0.1:" + port(plain.URL) + "/", PlainOnHTTPS, "speaks plain HTTP"},
		{"plain HTTP/0.9-style answer, https:// URL", "https://127.0.0.1:" + python + "/", PlainOnHTTPS, "speaks plain HTTP"},
		{"not HTTP", "http://127.0.0.1:" + redis + "/", NotHTTP, "-ERR unknown command"},
		{"Host check", "http://127.0.0.1:" + port(hostCheck.URL) + "/", HostRejected, "Blocked request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWaiter([]Target{mustTarget(t, tt.target)}, WaitOptions{})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			r := waitSeen(t, w, 0, tt.want)
			cancel()
			<-done
			if !strings.Contains(r.Summary(), tt.says) {
				t.Errorf("wait %s says %q; want it to name %q", tt.target, r.Summary(), tt.says)
			}
		})
	}
	tlsSrv.CloseClientConnections()
	plain.CloseClientConnections()
	hostCheck.CloseClientConnections()
}

// answerServer reads what a client sends, answers with reply and closes;
// it returns its port.
func answerServer(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Read(make([]byte, 512))
			c.Write([]byte(reply))
			c.Close()
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func TestWaitListenerAppears(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := deadPort(t)
	w := NewWaiter([]Target{mustTarget(t, strconv.Itoa(int(p)))}, WaitOptions{})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctxTimeout(t, 30*time.Second)) }()
	waitSeen(t, w, 0, Refused)
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
	if res[0].Ready || res[0].Seen.Kind != Refused || res[0].Summary() != "refused" {
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
	if r := waitSeen(t, w, 0, Status); r.Seen.Status != 503 || !strings.Contains(r.Summary(), "HTTP 503") {
		t.Errorf("result %+v (%q); want HTTP 503", r, r.Summary())
	}
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
	w := NewWaiter([]Target{mustTarget(t, u)}, WaitOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	r := waitSeen(t, w, 0, TLSError)
	cancel()
	if err := <-done; err == nil || !strings.Contains(r.Summary(), "TLS error") {
		t.Fatalf("Wait(self-signed https) = %+v (%q), %v; want not ready, last a TLS error", r, r.Summary(), err)
	}
	res, err := Wait(ctxTimeout(t, 20*time.Second), []Target{mustTarget(t, u)}, WaitOptions{Insecure: true})
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
	waitSeen(t, w, 0, StillAnswering)
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

func TestSeenOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Seen
	}{
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, Seen{Kind: Refused}},
		{"deadline", &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, Seen{Kind: TimedOut}},
		{"context", context.DeadlineExceeded, Seen{Kind: TimedOut}},
		{"no host", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, Seen{Kind: NoSuchHost}},
		{"dns", &net.DNSError{Err: "server misbehaving", Name: "x"}, Seen{Kind: DNSError, Detail: "server misbehaving"}},
		{"reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, Seen{Kind: Reset}},
		{"unreachable", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, Seen{Kind: Unreachable}},
		{"eof", io.EOF, Seen{Kind: Closed}},
		{"other", errors.New("boom"), Seen{Kind: Failed, Detail: "boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := seenOf(tt.err); got != tt.want {
				t.Errorf("seenOf(%v) = %+v; want %+v", tt.err, got, tt.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{"same", Result{By: []AddrSeen{{"a", Seen{Kind: Refused}}, {"b", Seen{Kind: Refused}}}}, "refused"},
		{"mixed", Result{By: []AddrSeen{{"127.0.0.1:1", Seen{Kind: Refused}}, {"[::1]:1", Seen{Kind: Status, Status: 404}}}},
			"HTTP 404 from [::1]:1; 127.0.0.1:1 refused"},
		{"not tried", Result{}, "not tried yet"},
		{"other family", Result{By: []AddrSeen{{"127.0.0.1:1", Seen{Kind: OtherFamily, Detail: "[::1]:1"}}}}, "refused, while [::1]:1 answers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Summary(); got != tt.want {
				t.Errorf("Summary(%+v) = %q; want %q", tt.r.By, got, tt.want)
			}
		})
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

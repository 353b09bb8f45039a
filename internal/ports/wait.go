package ports

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// WaitOptions tune Wait.
type WaitOptions struct {
	// Status is what counts as ready for an http(s) target (DefaultStatus
	// when empty).
	Status StatusSet

	// UntilFree waits for the targets to stop answering instead.
	UntilFree bool

	// Interval is the pause between two connection attempts on one address
	// (DefaultInterval when zero). Refused connections on loopback cost a
	// few microseconds, so a short interval notices a new listener within
	// milliseconds (wait-on polls every 250 ms, wait-for-it.sh every second).
	Interval time.Duration

	// Insecure skips TLS certificate checks for https targets (self-signed
	// development certificates).
	Insecure bool

	// Resolver looks up host names other than localhost (net.DefaultResolver
	// when nil).
	Resolver *net.Resolver
}

// DefaultInterval is the pause between connection attempts.
const DefaultInterval = 5 * time.Millisecond

// httpInterval is the pause after an HTTP answer that is not ready yet: a
// server that answers 503 is up, and need not be asked 200 times a second.
const httpInterval = 50 * time.Millisecond

// attemptTimeout bounds one connection attempt or HTTP request.
const attemptTimeout = 2 * time.Second

// Result is the state of one target.
type Result struct {
	Target Target
	Ready  bool
	// After is how long the target took to become ready.
	After time.Duration
	// Addr is the address that answered (or, with UntilFree, the last
	// address that was still answering).
	Addr string
	// Last is what the last attempt saw when not ready: "refused",
	// "timed out", "HTTP 503", "TLS error: ...", "no such host".
	Last string
}

// Waiter waits for targets; Results may be read while Run runs (for a
// progress display).
type Waiter struct {
	targets []Target
	opts    WaitOptions

	mu      sync.Mutex
	results []Result
	// lastByAddr keeps the last thing each address said, per target.
	lastByAddr []map[string]string
}

// NewWaiter returns a Waiter for targets. Targets must be TCP (ports,
// host:port or http(s) URLs).
func NewWaiter(targets []Target, opts WaitOptions) *Waiter {
	if len(opts.Status) == 0 {
		opts.Status = DefaultStatus
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	w := &Waiter{targets: targets, opts: opts,
		results: make([]Result, len(targets)), lastByAddr: make([]map[string]string, len(targets))}
	for i, t := range targets {
		w.results[i] = Result{Target: t, Last: "not tried yet"}
		w.lastByAddr[i] = map[string]string{}
	}
	return w
}

// Wait waits until every target is ready (or, with UntilFree, free). When ctx
// ends first it returns the results so far and ctx's error.
func Wait(ctx context.Context, targets []Target, opts WaitOptions) ([]Result, error) {
	w := NewWaiter(targets, opts)
	err := w.Run(ctx)
	return w.Results(), err
}

// Results returns a copy of the current state of every target.
func (w *Waiter) Results() []Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.results)
}

// Run waits for all targets in parallel.
func (w *Waiter) Run(ctx context.Context) error {
	start := time.Now()
	var wg sync.WaitGroup
	for i := range w.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.waitTarget(ctx, i, start)
		}()
	}
	wg.Wait()
	for _, r := range w.Results() {
		if !r.Ready {
			return ctx.Err()
		}
	}
	return nil
}

func (w *Waiter) waitTarget(ctx context.Context, i int, start time.Time) {
	t := w.targets[i]
	addrs, err := w.resolve(ctx, i, t)
	if err != nil {
		return // ctx ended; Last says what resolution saw
	}
	if w.opts.UntilFree {
		w.waitFree(ctx, i, t, addrs, start)
		return
	}
	// Any address that answers makes the target ready: a name that
	// resolves to several addresses, and localhost meaning both 127.0.0.1
	// and ::1.
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w.pollAddr(actx, i, t, a) {
				w.setReady(i, a, time.Since(start))
				cancel()
			}
		}()
	}
	wg.Wait()
}

// pollAddr tries addr until it answers (true) or ctx ends (false).
func (w *Waiter) pollAddr(ctx context.Context, i int, t Target, addr string) bool {
	var client *http.Client
	if t.URL != nil {
		client = w.httpClient(t, addr)
		defer client.CloseIdleConnections()
	}
	for {
		pause := w.opts.Interval
		var err error
		if client != nil {
			var answered bool
			answered, err = w.tryHTTP(ctx, client, t)
			if answered {
				pause = httpInterval
			}
		} else {
			err = tryDial(ctx, addr)
		}
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		w.setLast(i, addr, Describe(err))
		if !sleep(ctx, pause) {
			return false
		}
	}
}

// waitFree waits until no address of t answers.
func (w *Waiter) waitFree(ctx context.Context, i int, t Target, addrs []string, start time.Time) {
	for {
		var answering string
		for _, a := range addrs {
			err := tryDial(ctx, a)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				answering = a
				w.setLast(i, a, "still answering")
				continue
			}
			w.setLast(i, a, Describe(err))
			if !freeErr(err) && answering == "" {
				answering = a
			}
		}
		if answering == "" {
			w.setReady(i, "", time.Since(start))
			return
		}
		w.mu.Lock()
		w.results[i].Addr = answering
		w.mu.Unlock()
		if !sleep(ctx, w.opts.Interval) {
			return
		}
	}
}

// freeErr reports whether a failed connection means nothing listens there:
// refused, or an address this machine does not have (::1 without IPv6).
func freeErr(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EADDRNOTAVAIL) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EAFNOSUPPORT)
}

func tryDial(ctx context.Context, addr string) error {
	ctx, cancel := withoutDeadline(ctx)
	defer cancel()
	d := net.Dialer{Timeout: attemptTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// httpClient returns a client that sends every request for t to addr, keeping
// t's host name in the Host header and for TLS.
func (w *Waiter) httpClient(t Target, addr string) *http.Client {
	d := &net.Dialer{Timeout: attemptTimeout}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: attemptTimeout,
		TLSClientConfig:     &tls.Config{ServerName: t.URL.Hostname(), InsecureSkipVerify: w.opts.Insecure}, //nolint:gosec // only with --insecure
		// No Proxy: a readiness check goes straight to the service.
	}
	return &http.Client{
		Transport: tr,
		Timeout:   attemptTimeout,
		// A redirect is an answer: 3xx is in the default status range.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// statusError is an HTTP answer outside the wanted status range.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d", e.code) }

// tryHTTP sends one GET. answered is true when the server sent a response,
// even one outside the wanted status range.
func (w *Waiter) tryHTTP(ctx context.Context, client *http.Client, t Target) (answered bool, err error) {
	ctx, cancel := withoutDeadline(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL.String(), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("User-Agent", "homeport-wait")
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if !w.opts.Status.Contains(resp.StatusCode) {
		return true, &statusError{resp.StatusCode}
	}
	return true, nil
}

// resolve returns the addresses ("ip:port") to try for t, retrying name
// resolution until it works or ctx ends.
func (w *Waiter) resolve(ctx context.Context, i int, t Target) ([]string, error) {
	for {
		ips, err := w.lookup(ctx, t.Host)
		if err == nil {
			out := make([]string, len(ips))
			for j, ip := range ips {
				out[j] = net.JoinHostPort(ip, fmt.Sprint(t.Port))
			}
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		w.setLast(i, t.Host, Describe(err))
		if !sleep(ctx, 250*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// lookup resolves host as Resolve does, so `wait localhost:3000` is ready
// whether the server bound 127.0.0.1 or ::1.
func (w *Waiter) lookup(ctx context.Context, host string) ([]string, error) {
	addrs, err := Resolve(ctx, w.opts.Resolver, host)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out, nil
}

func (w *Waiter) setLast(i int, addr, what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastByAddr[i][addr] = what
	w.results[i].Last = summarize(w.lastByAddr[i])
}

func (w *Waiter) setReady(i int, addr string, after time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.results[i].Ready {
		return
	}
	w.results[i].Ready, w.results[i].After, w.results[i].Last = true, after, ""
	if addr != "" {
		w.results[i].Addr = addr
	}
}

// summarize says what the addresses of one target last saw: "refused" when
// they all agree; otherwise the answer that got furthest (an HTTP status
// beats a TLS error, which beats a timeout, which beats a refusal), then the
// others: "HTTP 404 from [::1]:8000; 127.0.0.1:8000 refused".
func summarize(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	same := true
	for _, k := range keys[1:] {
		if m[k] != m[keys[0]] {
			same = false
		}
	}
	if same {
		return m[keys[0]]
	}
	best := keys[0]
	for _, k := range keys[1:] {
		if progress(m[k]) > progress(m[best]) {
			best = k
		}
	}
	var others []string
	for _, k := range keys {
		if k != best {
			others = append(others, k+" "+m[k])
		}
	}
	return m[best] + " from " + best + "; " + strings.Join(others, ", ")
}

// progress ranks what an attempt saw by how far it got.
func progress(what string) int {
	switch {
	case strings.HasPrefix(what, "HTTP "), what == "still answering":
		return 4
	case strings.HasPrefix(what, "TLS error"):
		return 3
	case what == "refused", what == "not tried yet":
		return 0
	case what == "timed out":
		return 1
	}
	return 2
}

// Describe names what a failed attempt saw, in the words `wait` prints.
func Describe(err error) string {
	var se *statusError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invErr x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "address not available"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "no such host"
		}
		return "DNS error: " + dnsErr.Err
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &authErr), errors.As(err, &invErr):
		return "TLS error: " + tlsDetail(err)
	case errors.As(err, &recErr), errors.As(err, &alert):
		return "TLS error: " + tlsDetail(err)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timed out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed without answering"
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tlsDetail keeps the innermost message of a TLS error, without the URL
// and "Get" that net/http wraps around it.
func tlsDetail(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "tls: "); i >= 0 {
		return s[i+len("tls: "):]
	}
	if i := strings.LastIndex(s, "x509: "); i >= 0 {
		return s[i:]
	}
	return s
}

// withoutDeadline returns a context that ends when ctx does but carries no
// deadline. Given a context with a deadline, the dialer arms a write deadline
// on the socket, and on loopback some kernels then report "i/o timeout" for
// a connection that was in fact refused within microseconds (seen on this
// project's Linux 6.18 machines: one dial in ten). The attempt timeout
// bounds each dial instead.
func withoutDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	return c, func() { stop(); cancel() }
}

// sleep waits d or until ctx ends, and reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

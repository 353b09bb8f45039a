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
	"net/netip"
	"os"
	"slices"
	"strconv"
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
	// Seen is what the attempt that got furthest saw, while not ready; By
	// is what each address (or, before resolution, the host) last saw,
	// sorted by address.
	Seen Seen
	By   []AddrSeen
}

// AddrSeen is what the last attempt on one address saw.
type AddrSeen struct {
	Addr string
	Seen Seen
}

// SeenKind is what an attempt saw, as a kind that callers switch on:
// `wait` picks its hint from it, the ranking of addresses reads it.
type SeenKind int

// What an attempt can see.
const (
	NotTried SeenKind = iota
	Refused
	// OtherFamily: refused, while the other loopback address (::1 for
	// 127.0.0.1, and the reverse) takes connections on the port; Detail is
	// that address.
	OtherFamily
	TimedOut
	Unreachable
	AddrNotAvailable
	Reset
	// Closed: the server closed the connection without a byte.
	Closed
	NoSuchHost
	// DNSError: Detail is the resolver's error.
	DNSError
	// Failed: anything else; Detail is the error.
	Failed
	// TLSError: the handshake failed; Detail is why (an untrusted
	// certificate, a protocol alert).
	TLSError
	// TLSOnHTTP: the URL says http://, the server speaks TLS.
	TLSOnHTTP
	// PlainOnHTTPS: the URL says https://, the server speaks plain HTTP.
	PlainOnHTTPS
	// NotHTTP: the server answered with bytes that are not HTTP; Detail is
	// what it said.
	NotHTTP
	// HostRejected: the server refuses the URL's Host header (a dev
	// server's allowed hosts) and answers for localhost; Status is its
	// answer, Detail the reason.
	HostRejected
	// Status: an HTTP answer outside the wanted statuses.
	Status
	// StillAnswering: with UntilFree, the address still takes connections.
	StillAnswering
)

// Seen is what one attempt saw: a kind, the HTTP status where there was
// one, and a detail that depends on the kind.
type Seen struct {
	Kind   SeenKind
	Status int
	Detail string
}

// String says what was seen in the words `wait` prints: "refused", "timed
// out", "HTTP 503", "TLS error: ...".
func (s Seen) String() string {
	switch s.Kind {
	case NotTried:
		return "not tried yet"
	case Refused:
		return "refused"
	case OtherFamily:
		return "refused, while " + s.Detail + " answers"
	case TimedOut:
		return "timed out"
	case Unreachable:
		return "unreachable"
	case AddrNotAvailable:
		return "address not available"
	case Reset:
		return "connection reset"
	case Closed:
		return "closed without answering"
	case NoSuchHost:
		return "no such host"
	case DNSError:
		return "DNS error: " + s.Detail
	case TLSError:
		return "TLS error: " + s.Detail
	case TLSOnHTTP:
		return "speaks TLS (https), not plain HTTP"
	case PlainOnHTTPS:
		return "speaks plain HTTP, not TLS (https)"
	case NotHTTP:
		if s.Detail == "" {
			return "not HTTP"
		}
		return fmt.Sprintf("not HTTP: it said %q", s.Detail)
	case HostRejected:
		return "rejects the Host header: " + s.Detail
	case Status:
		return fmt.Sprintf("HTTP %d", s.Status)
	case StillAnswering:
		return "still answering"
	}
	return s.Detail
}

// progress ranks what an attempt saw by how far it got: an HTTP answer
// beats a protocol mismatch, which beats a failure, a timeout, and a
// refusal.
func (s Seen) progress() int {
	switch s.Kind {
	case Status, HostRejected, StillAnswering:
		return 4
	case TLSOnHTTP, PlainOnHTTPS, NotHTTP, TLSError:
		return 3
	case NotTried, Refused:
		return 0
	case TimedOut:
		return 1
	}
	return 2
}

// Summary says what the addresses of the target last saw: "refused" when
// they all agree; otherwise the answer that got furthest, then the others:
// "HTTP 404 from [::1]:8000; 127.0.0.1:8000 refused".
func (r Result) Summary() string {
	if len(r.By) == 0 {
		return r.Seen.String()
	}
	same := true
	for _, b := range r.By[1:] {
		if b.Seen != r.By[0].Seen {
			same = false
		}
	}
	if same {
		return r.By[0].Seen.String()
	}
	best := 0
	for i := range r.By {
		if r.By[i].Seen.progress() > r.By[best].Seen.progress() {
			best = i
		}
	}
	var others []string
	for i, b := range r.By {
		if i != best {
			others = append(others, b.Addr+" "+b.Seen.String())
		}
	}
	return r.By[best].Seen.String() + " from " + r.By[best].Addr + "; " + strings.Join(others, ", ")
}

// Waiter waits for targets; Results may be read while Run runs (for a
// progress display).
type Waiter struct {
	targets []Target
	opts    WaitOptions

	mu      sync.Mutex
	results []Result
	// lastByAddr keeps the last thing each address saw, per target.
	lastByAddr []map[string]Seen
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
		results: make([]Result, len(targets)), lastByAddr: make([]map[string]Seen, len(targets))}
	for i, t := range targets {
		w.results[i] = Result{Target: t}
		w.lastByAddr[i] = map[string]Seen{}
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
	out := slices.Clone(w.results)
	for i := range out {
		out[i].By = slices.Clone(out[i].By)
	}
	return out
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
		other := otherLoopback(a, addrs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w.pollAddr(actx, i, t, a, other) {
				w.setReady(i, a, time.Since(start))
				cancel()
			}
		}()
	}
	wg.Wait()
}

// pollAddr tries addr until it answers (true) or ctx ends (false). other,
// when not empty, is the loopback address of the other family, tried when
// addr refuses: a server on ::1 refuses 127.0.0.1 for good, and no wait
// fixes that.
func (w *Waiter) pollAddr(ctx context.Context, i int, t Target, addr, other string) bool {
	var p *httpProber
	if t.URL != nil {
		p = w.httpProber(t, addr)
		defer p.client.CloseIdleConnections()
	}
	for {
		pause := w.opts.Interval
		var seen Seen
		var ready bool
		if p != nil {
			seen, ready = w.tryHTTP(ctx, p, t)
			if seen.Kind == Status || seen.Kind == HostRejected {
				pause = httpInterval
			}
		} else {
			err := tryDial(ctx, addr)
			ready = err == nil
			if !ready {
				seen = seenOf(err)
			}
		}
		if ready {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if seen.Kind == Refused && other != "" && tryDial(ctx, other) == nil {
			seen = Seen{Kind: OtherFamily, Detail: other}
		}
		w.setLast(i, addr, seen)
		if !sleep(ctx, pause) {
			return false
		}
	}
}

// otherLoopback returns the loopback address of the other family with
// addr's port, when addr is a loopback address and addrs lack that one.
func otherLoopback(addr string, addrs []string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return ""
	}
	o := netip.AddrPortFrom(netip.IPv6Loopback(), ap.Port())
	if ap.Addr().Is6() {
		o = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port())
	}
	if slices.Contains(addrs, o.String()) {
		return ""
	}
	return o.String()
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
				w.setLast(i, a, Seen{Kind: StillAnswering})
				continue
			}
			w.setLast(i, a, seenOf(err))
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

// httpProber asks one address of an http(s) target, and keeps the first
// bytes the server sent on the last connection, to tell what it speaks
// when its answer is not HTTP.
type httpProber struct {
	client *http.Client
	mu     sync.Mutex
	last   *RecordConn
}

func (p *httpProber) first() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		return nil
	}
	return p.last.First()
}

// httpProber returns a prober whose client sends every request for t to
// addr, keeping t's host name in the Host header and for TLS.
func (w *Waiter) httpProber(t Target, addr string) *httpProber {
	p := &httpProber{}
	d := &net.Dialer{Timeout: attemptTimeout}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			rc := &RecordConn{Conn: c}
			p.mu.Lock()
			p.last = rc
			p.mu.Unlock()
			return rc, nil
		},
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: attemptTimeout,
		TLSClientConfig:     &tls.Config{ServerName: t.URL.Hostname(), InsecureSkipVerify: w.opts.Insecure}, //nolint:gosec // only with --insecure
		// No Proxy: a readiness check goes straight to the service.
	}
	p.client = &http.Client{
		Transport: tr,
		Timeout:   attemptTimeout,
		// A redirect is an answer: 3xx is in the default status range.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return p
}

// tryHTTP sends one GET and says what it saw, or that the target is ready.
// A server that speaks TLS to an http:// URL, plain HTTP to an https://
// one, or something else than HTTP is told apart from one that is not up
// yet: waiting does not fix those.
func (w *Waiter) tryHTTP(ctx context.Context, p *httpProber, t Target) (Seen, bool) {
	p.mu.Lock()
	p.last = nil
	p.mu.Unlock()
	status, body, err := p.get(ctx, t, "")
	switch {
	case err != nil && errors.Is(err, http.ErrSchemeMismatch):
		return Seen{Kind: PlainOnHTTPS}, false
	case err != nil:
		seen := seenOf(err)
		first := p.first()
		switch speaks := FirstBytesSpeak(first); {
		case speaks == SpeaksTLS && t.URL.Scheme == "http":
			return Seen{Kind: TLSOnHTTP}, false
		case speaks == SpeaksHTTP && t.URL.Scheme == "https",
			// An HTML error page without a status line: Python's
			// http.server answers a TLS hello as an HTTP/0.9 request.
			speaks == SpeaksOther && t.URL.Scheme == "https" && first[0] == '<':
			return Seen{Kind: PlainOnHTTPS}, false
		case speaks == SpeaksOther:
			return Seen{Kind: NotHTTP, Detail: Printable(first)}, false
		}
		return seen, false
	case w.opts.Status.Contains(status):
		return Seen{}, true
	case SchemeComplaint(status, body):
		return Seen{Kind: TLSOnHTTP, Status: status}, false
	}
	if reason, said := HostRejection(status, body); said {
		return Seen{Kind: HostRejected, Status: status, Detail: reason}, false
	} else if reason != "" && !IsLocalhost(t.URL.Hostname()) {
		// A bare 403: the same request for Host: localhost tells a Host
		// check from any other refusal.
		if st2, _, err := p.get(ctx, t, "localhost:"+strconv.Itoa(int(t.Port))); err == nil && w.opts.Status.Contains(st2) {
			return Seen{Kind: HostRejected, Status: status, Detail: reason}, false
		}
	}
	return Seen{Kind: Status, Status: status}, false
}

// get sends one GET for t (with Host: host when not empty) and returns the
// status and the body's start.
func (p *httpProber) get(ctx context.Context, t Target, host string) (int, string, error) {
	ctx, cancel := withoutDeadline(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL.String(), nil)
	if err != nil {
		return 0, "", err
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("User-Agent", "homeport-wait")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), nil
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
		w.setLast(i, t.Host, seenOf(err))
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

func (w *Waiter) setLast(i int, addr string, seen Seen) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastByAddr[i][addr] = seen
	r := &w.results[i]
	r.By = r.By[:0]
	for a, s := range w.lastByAddr[i] {
		r.By = append(r.By, AddrSeen{Addr: a, Seen: s})
	}
	slices.SortFunc(r.By, func(a, b AddrSeen) int { return strings.Compare(a.Addr, b.Addr) })
	r.Seen = r.By[0].Seen
	for _, b := range r.By {
		if b.Seen.progress() > r.Seen.progress() {
			r.Seen = b.Seen
		}
	}
}

func (w *Waiter) setReady(i int, addr string, after time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := &w.results[i]
	if r.Ready {
		return
	}
	r.Ready, r.After, r.Seen, r.By = true, after, Seen{}, nil
	if addr != "" {
		r.Addr = addr
	}
}

// seenOf tells what a failed attempt saw from its error.
func seenOf(err error) Seen {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invErr x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Seen{Kind: Refused}
	case errors.Is(err, syscall.ECONNRESET):
		return Seen{Kind: Reset}
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return Seen{Kind: Unreachable}
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return Seen{Kind: AddrNotAvailable}
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return Seen{Kind: NoSuchHost}
		}
		return Seen{Kind: DNSError, Detail: dnsErr.Err}
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &authErr), errors.As(err, &invErr),
		errors.As(err, &recErr), errors.As(err, &alert):
		return Seen{Kind: TLSError, Detail: tlsDetail(err)}
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Seen{Kind: TimedOut}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Seen{Kind: Closed}
	}
	return Seen{Kind: Failed, Detail: err.Error()}
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

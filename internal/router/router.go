// Package router sends http://NAME.localhost:62893 to the local port of the
// route NAME: the part of the daemon that gives each local app a name.
//
// Browsers and curl resolve *.localhost to loopback by themselves (RFC 6761),
// so no DNS or hosts-file change is needed; the daemon listens on 127.0.0.1
// and [::1], and the router picks the route from the request's Host.
//
// The proxy is httputil.ReverseProxy with Rewrite:
//   - the client's own X-Forwarded-*, Forwarded and hop-by-hop headers are
//     dropped and fresh X-Forwarded-For/-Host/-Proto set, so a backend can
//     trust them;
//   - the backend sees the original Host ("api.localhost:62893"), so its own
//     host checks (Vite's allowedHosts, Django's ALLOWED_HOSTS) keep working;
//   - WebSocket and other Upgrade requests pass through, half-close included,
//     and Server-Sent Events (and any response of unknown length) are flushed
//     as they arrive, so hot reload works through it;
//   - the backend is dialled on 127.0.0.1 and on ::1, whichever it listens on,
//     and the router remembers which.
//
// Failures have one page each, written in one place (errors.go): an unknown
// name is 404 with the list of routes; a backend that is not listening is 502
// naming the route, the port and the `homeport doctor` command to run; a
// backend that does not answer within Options.Timeout is 504; a route to the
// daemon's own port, or a request that went round through the router back to
// a route it already passed (the Homeport-Hop header), is 508. A Host that is
// neither a loopback name nor NAME.localhost is 403: a page whose DNS name was
// rebound to 127.0.0.1 never reaches a backend.
package router

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"homeport/internal/httpguard"
)

// Defaults of Options.
const (
	DefaultTimeout     = 60 * time.Second
	DefaultDialTimeout = 500 * time.Millisecond
)

// HopHeader carries the routes a request has already passed through, in
// order ("web, api"). A request that arrives for a route already on its list
// went round in a loop (a backend that proxies back to its own name) and gets
// 508 instead of going round until something runs out of connections.
const HopHeader = "Homeport-Hop"

// maxHops bounds a chain of distinct routes (web → api → auth …) that a
// request may pass through: a loop through more names than this is cut too.
const maxHops = 16

// Options configure a Router. The zero value of each field is its default.
type Options struct {
	// Timeout is how long a backend may take to send its response head
	// before the client gets 504. Streams (SSE, WebSocket) are not cut once
	// the head has arrived. Default DefaultTimeout; dev servers that compile
	// on the first request can take tens of seconds.
	Timeout time.Duration
	// DialTimeout bounds each connection attempt to a backend (one per
	// address family). Default DefaultDialTimeout. A port nobody listens on
	// is refused at once on loopback; this only matters when a backend's
	// accept queue is full.
	DialTimeout time.Duration
	// Observer, when set, is told of every request for a NAME.localhost
	// host (see Metrics).
	Observer Observer
	// ErrorLog, when set, receives the failures that are not the client's
	// doing (a backend that failed mid-response, or was not listening).
	// Default: discarded.
	ErrorLog *log.Logger
}

// Router is the http.Handler for NAME.localhost requests. Create it with New;
// it is safe for concurrent use.
type Router struct {
	table    *Table
	opts     Options
	selfPort atomic.Int32
	tr       *http.Transport
	dialer   net.Dialer

	backends sync.Map // route name -> *backend
	families sync.Map // port (int) -> *atomic.Bool: true when the backend answered on ::1
	writers  sync.Pool
	proxyLog *log.Logger
}

// New returns a router over table.
func New(table *Table, opts Options) *Router {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	r := &Router{table: table, opts: opts}
	r.dialer = net.Dialer{Timeout: opts.DialTimeout, KeepAlive: -1}
	r.tr = &http.Transport{
		// Never a proxy from the environment: the backends are on loopback,
		// and HTTP_PROXY would send them somewhere else.
		Proxy:       nil,
		DialContext: r.dial,
		// Many browser tabs and a dev server's module graph open dozens of
		// connections at once; keep enough idle ones that 50+ concurrent
		// clients reuse connections instead of dialling per request.
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: opts.Timeout,
		ExpectContinueTimeout: time.Second,
		// Pass the client's Accept-Encoding through as it is; the transport
		// must not add gzip of its own and decompress behind our back.
		DisableCompression: true,
		ReadBufferSize:     16 << 10,
		WriteBufferSize:    16 << 10,
	}
	r.writers.New = func() any { return new(statusWriter) }
	// ReverseProxy logs a body copy that failed midway (a backend that died
	// mid-stream); the daemon decides where such lines go.
	r.proxyLog = opts.ErrorLog
	if r.proxyLog == nil {
		r.proxyLog = log.New(io.Discard, "", 0)
	}
	return r
}

// SetSelfPort tells the router the daemon's own port: a route to it would
// send every request back to the router, so it gets 508 instead.
func (r *Router) SetSelfPort(port int) { r.selfPort.Store(int32(port)) }

// Table returns the route table the router reads.
func (r *Router) Table() *Table { return r.table }

// Close closes the idle connections to backends. The router can still be
// used after it; it dials again.
func (r *Router) Close() { r.tr.CloseIdleConnections() }

// Dispatch returns the daemon's front handler: requests for localhost or a
// loopback literal go to dashboard, NAME.localhost to the router, and any
// other Host gets 403 (DNS rebinding), before anything else looks at them.
// A nil dashboard answers those requests with the list of routes.
func (r *Router) Dispatch(dashboard http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.dispatch(w, req, dashboard)
	})
}

// ServeHTTP serves a request as Dispatch(nil) does. A daemon that sorts
// hosts itself hands NAME.localhost requests to it.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.dispatch(w, req, nil)
}

func (r *Router) dispatch(w http.ResponseWriter, req *http.Request, dashboard http.Handler) {
	target, name := ParseHost(req.Host)
	switch target {
	case TargetRoute:
		r.serveRoute(w, req, name)
	case TargetDashboard:
		if dashboard != nil {
			dashboard.ServeHTTP(w, req)
			return
		}
		r.fail(w, req, &failure{kind: failIndex})
	default:
		httpguard.Forbid(w, req)
	}
}

// backend is what the router keeps per route: the ReverseProxy whose Rewrite
// and ErrorHandler know the route, so the hot path parses nothing twice.
type backend struct {
	route    Route
	hostport string   // "localhost:PORT": the transport's pool key
	hop      []string // {name}: the hop header of a request that had none
	proxy    *httputil.ReverseProxy
}

func (r *Router) backendFor(rt Route) *backend {
	if v, ok := r.backends.Load(rt.Name); ok {
		if b := v.(*backend); b.route == rt {
			return b
		}
	}
	b := &backend{
		route:    rt,
		hostport: net.JoinHostPort("localhost", strconv.Itoa(rt.Port)),
		hop:      []string{rt.Name},
	}
	b.proxy = &httputil.ReverseProxy{
		Rewrite:      b.rewrite,
		Transport:    r.tr,
		BufferPool:   bufferPool{},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) { r.proxyError(w, req, b, err) },
		ErrorLog:     r.proxyLog,
	}
	r.backends.Store(rt.Name, b)
	return b
}

func (b *backend) rewrite(pr *httputil.ProxyRequest) {
	// ReverseProxy has already dropped the hop-by-hop headers and the
	// client's X-Forwarded-For/-Host/-Proto and Forwarded.
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = b.hostport
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
	if prev := pr.In.Header.Values(HopHeader); len(prev) == 0 {
		pr.Out.Header[HopHeader] = b.hop
	} else {
		pr.Out.Header[HopHeader] = []string{strings.Join(prev, ", ") + ", " + b.route.Name}
	}
}

func (r *Router) serveRoute(w http.ResponseWriter, req *http.Request, name string) {
	start := time.Now()
	sw := r.writers.Get().(*statusWriter)
	sw.ResponseWriter, sw.status, sw.start, sw.head = w, 0, start, 0
	label := unknownRoute
	defer func() {
		if r.opts.Observer != nil {
			status := sw.status
			if status == 0 {
				// The handler panicked before any answer (ErrAbortHandler
				// from a backend that died), or the client left first.
				status = statusClientClosed
			}
			head := sw.head
			if head == 0 {
				head = time.Since(start)
			}
			r.opts.Observer.ObserveRequest(label, status, head)
		}
		sw.ResponseWriter, sw.body = nil, nil
		r.writers.Put(sw)
	}()

	rt, ok := r.table.Lookup(name)
	if !ok {
		r.fail(sw, req, &failure{kind: failUnknown, name: name})
		return
	}
	label = rt.Name
	if self := int(r.selfPort.Load()); self != 0 && rt.Port == self {
		r.fail(sw, req, &failure{kind: failLoopSelf, route: rt})
		return
	}
	if f := checkHops(req.Header.Values(HopHeader), rt); f != nil {
		r.fail(sw, req, f)
		return
	}
	if req.Body != nil && req.Body != http.NoBody {
		body, err := checkBody(req.Body, req.ContentLength)
		if err != nil {
			r.fail(sw, req, &failure{kind: failBadBody, route: rt, err: err})
			return
		}
		req.Body, sw.body = body, body
	}
	r.backendFor(rt).proxy.ServeHTTP(sw, req)
}

// checkedBody is a request body that remembers a read error, so that a
// malformed body (a bare LF in chunked framing, a body shorter than its
// Content-Length) is answered 400, the client's fault, rather than 502.
type checkedBody struct {
	io.Reader
	body io.ReadCloser
	err  error
}

func (b *checkedBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *checkedBody) Close() error { return b.body.Close() }

// checkBody wraps a request body in a checkedBody. A chunked body (length
// unknown) is read ahead by one Read first (what has arrived, not a full
// buffer: a client that streams its upload must not wait for us): net/http refuses bad chunk
// framing (a bare LF as line end: request smuggling, CVE-2025-22871) as it
// reads, and reading before the backend is dialled means a malformed small
// body never reaches the backend at all. A large one is cut where the
// framing breaks, and the backend sees a body that ends early, never the
// bytes past it as a request of their own.
func checkBody(body io.ReadCloser, length int64) (*checkedBody, error) {
	if length >= 0 {
		return &checkedBody{Reader: body, body: body}, nil
	}
	buf := make([]byte, 4<<10)
	n, err := body.Read(buf)
	switch err {
	case nil:
		return &checkedBody{Reader: io.MultiReader(bytes.NewReader(buf[:n]), body), body: body}, nil
	case io.EOF: // the whole body came at once
		return &checkedBody{Reader: bytes.NewReader(buf[:n]), body: body}, nil
	default:
		return nil, err
	}
}

// checkHops returns the 508 failure when the request has passed through rt
// already or through too many routes.
func checkHops(values []string, rt Route) *failure {
	if len(values) == 0 {
		return nil
	}
	n := 0
	for _, v := range values {
		for hop := range strings.SplitSeq(v, ",") {
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			n++
			if strings.EqualFold(hop, rt.Name) || n >= maxHops {
				return &failure{kind: failLoop, route: rt, hops: strings.Join(values, ", ")}
			}
		}
	}
	return nil
}

// dial connects to a backend on 127.0.0.1 or ::1, the family that answered
// last time for this port first: a dev server listens on one of them (Node
// 17+ on ::1 when it binds "localhost", most others on 127.0.0.1) and a
// refusal on loopback is immediate, so trying the other costs microseconds.
func (r *Router) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	v, ok := r.families.Load(port)
	if !ok {
		v, _ = r.families.LoadOrStore(port, new(atomic.Bool))
	}
	v6 := v.(*atomic.Bool)
	first, second := "127.0.0.1", "::1"
	if v6.Load() {
		first, second = second, first
	}
	c, err1 := r.dialer.DialContext(ctx, "tcp", net.JoinHostPort(first, portStr))
	if err1 == nil {
		return c, nil
	}
	if ctx.Err() != nil {
		return nil, err1
	}
	c, err2 := r.dialer.DialContext(ctx, "tcp", net.JoinHostPort(second, portStr))
	if err2 == nil {
		v6.Store(second == "::1")
		return c, nil
	}
	return nil, &dialError{port: port, errs: [2]error{err1, err2}}
}

// dialError is a backend that answered on neither loopback address.
type dialError struct {
	port int
	errs [2]error
}

func (e *dialError) Error() string {
	return "dialling port " + strconv.Itoa(e.port) + " on 127.0.0.1 and ::1: " + e.errs[0].Error() + "; " + e.errs[1].Error()
}

func (e *dialError) Unwrap() []error { return e.errs[:] }

// refused reports whether both attempts failed at once (nothing listens: a
// refusal), as opposed to timing out (a full accept queue, a firewall
// dropping packets). Timeouts are asked for rather than ECONNREFUSED, which
// Windows spells differently.
func (e *dialError) refused() bool {
	for _, err := range e.errs {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false
		}
	}
	return true
}

// statusWriter remembers the status of the answer and when its head was
// written, for the Observer. Unwrap lets http.ResponseController (which
// ReverseProxy uses to flush and to hijack for WebSocket) reach the real
// writer.
type statusWriter struct {
	http.ResponseWriter
	status int
	start  time.Time
	head   time.Duration
	body   *checkedBody // the request's body, for proxyError to tell a bad one
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
		w.head = time.Since(w.start)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		w.head = time.Since(w.start)
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
		w.head = time.Since(w.start)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over for a protocol switch (WebSocket):
// ReverseProxy writes the backend's 101 on the raw connection, past
// WriteHeader, so the status is taken here.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
		w.head = time.Since(w.start)
	}
	return c, brw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bufferPool lends ReverseProxy its copy buffers, so that a response body is
// not copied through a fresh 32 KiB buffer per request.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

var (
	_ http.Handler  = (*Router)(nil)
	_ http.Flusher  = (*statusWriter)(nil)
	_ http.Hijacker = (*statusWriter)(nil)
)

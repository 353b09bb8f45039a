package serve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// HTTPServer serves a Server's HTTP. It answers the common request of a dev
// server — a keep-alive GET or HEAD of a small file that is in the cache —
// on a short path of its own: the request is parsed by net/http's own
// parser, and the answer written from the cache entry's ready headers.
// Answers to pipelined requests are batched and sent when the short path
// has no whole request left to answer, before it waits for the client.
// That path skips what makes net/http's per-request cost twice nginx's (a
// goroutine and two deadline changes per request, a context, header maps
// and sorting). Everything else — other methods, bodies, ranges, folders,
// errors, live-reload streams, auth, CORS, HTTP/1.0, oversized or
// malformed heads — is handed, with the bytes already read, to a
// net/http.Server that keeps the connection from then on. The two paths
// share the resolver, the cache and the checks, so they answer alike.
type HTTPServer struct {
	// HTTP is the net/http.Server that takes every request the short path
	// does not; its ReadHeaderTimeout, IdleTimeout (each falling back to
	// ReadTimeout when 0, and no limit when that is 0 too, as net/http
	// reads them) and MaxHeaderBytes are the short path's too.
	HTTP *http.Server

	// WriteTimeout closes a connection whose client takes none of a write
	// for this long, on either path: a client that pipelines requests and
	// never reads would otherwise keep its goroutine, and Shutdown, waiting
	// forever. Large files are written in pieces (see writeChunk), each
	// with its own deadline, so a slow download is not cut while it moves.
	// 0 means no limit.
	WriteTimeout time.Duration

	s       *Server
	handoff *connQueue

	// fastServed counts requests answered on the short path (for tests
	// and curiosity).
	fastServed atomic.Int64

	mu      sync.Mutex
	lns     map[net.Listener]struct{}
	conns   map[*fastConn]struct{}
	closing atomic.Bool
	wg      sync.WaitGroup
	once    sync.Once
}

// writeChunk is how much of a large file is sent under one write
// deadline at first; pieces double, up to maxWriteChunk, while the client
// takes each in well under the timeout.
const (
	writeChunk    = 256 << 10
	maxWriteChunk = 4 << 20
)

// fastConn is one connection on the short path. It sits between the
// connection and the short path's buffers: reads flush the answers
// buffered so far, writes carry the write deadline.
type fastConn struct {
	c    net.Conn
	idle atomic.Bool // waiting for the next request

	// Owned by the connection's goroutine.
	bw       *bufio.Writer
	wto      time.Duration
	rdl, wdl time.Time // the deadlines last set
}

// Read flushes the answers buffered in bw before it reads from the
// connection: whatever the client sent behind a request (a stray CRLF, the
// first bytes of the next request), the answer never waits for it.
func (fc *fastConn) Read(p []byte) (int, error) {
	if fc.bw.Buffered() > 0 {
		if err := fc.bw.Flush(); err != nil {
			return 0, err
		}
	}
	return fc.c.Read(p)
}

// Write writes p under the write deadline, which it moves on once it is
// older than its slack.
func (fc *fastConn) Write(p []byte) (int, error) {
	if fc.wto > 0 {
		if now := time.Now(); fc.wdl.Sub(now) < fc.wto-slack(fc.wto) {
			fc.wdl = now.Add(fc.wto)
			fc.c.SetWriteDeadline(fc.wdl)
		}
	}
	return fc.c.Write(p)
}

// setReadDeadline sets the read deadline to t (zero: none), unless t is
// later than the one set by less than its slack: a deadline change costs
// a timer update, and a keep-alive connection would pay it on every
// request to move its idle deadline by microseconds.
func (fc *fastConn) setReadDeadline(t time.Time, d time.Duration) {
	if t.Equal(fc.rdl) || (!t.IsZero() && !fc.rdl.IsZero() && t.After(fc.rdl) && t.Sub(fc.rdl) < slack(d)) {
		return
	}
	fc.rdl = t
	fc.c.SetReadDeadline(t)
}

// slack is how stale a deadline of d may grow before it is set again: a
// second, or a quarter of short ones.
func slack(d time.Duration) time.Duration { return min(time.Second, d/4) }

// deadline is t+d, or no deadline (the zero time) when d is not positive,
// as net/http reads its timeouts.
func deadline(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return t.Add(d)
}

// headDeadline is when a request head must be complete: for the first
// request of a connection, ReadHeaderTimeout after it was accepted (waiting
// for the first byte counts, as in net/http); for the next ones,
// ReadHeaderTimeout after their first byte arrived.
func headDeadline(first bool, accepted, firstByte time.Time, rht time.Duration) time.Time {
	if first {
		return deadline(accepted, rht)
	}
	return deadline(firstByte, rht)
}

func newHTTPServer(s *Server, hs *http.Server) *HTTPServer {
	return &HTTPServer{HTTP: hs, s: s, handoff: newConnQueue(), lns: map[net.Listener]struct{}{}, conns: map[*fastConn]struct{}{}}
}

// Serve accepts connections on ln until Shutdown or Close, like
// http.Server.Serve, and returns http.ErrServerClosed then. Failures that
// pass (out of file descriptors or buffers, a connection reset before it
// was accepted) are retried with a backoff of up to a second, as net/http
// does.
func (f *HTTPServer) Serve(ln net.Listener) error {
	f.once.Do(func() { go f.HTTP.Serve(f.handoff) })
	f.mu.Lock()
	if f.closing.Load() {
		f.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	f.lns[ln] = struct{}{}
	f.mu.Unlock()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if f.closing.Load() {
				return http.ErrServerClosed
			}
			if acceptRetryable(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		fc := &fastConn{c: c, wto: f.WriteTimeout}
		f.mu.Lock()
		if f.closing.Load() {
			f.mu.Unlock()
			c.Close()
			return http.ErrServerClosed
		}
		f.conns[fc] = struct{}{}
		f.wg.Add(1)
		f.mu.Unlock()
		go f.serveConn(fc, time.Now())
	}
}

// acceptRetryable reports an Accept error that passes: a timeout, a lack
// of file descriptors, buffers or memory, or a connection that went away
// before it was accepted.
func acceptRetryable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range [...]syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	// What else the net package calls temporary (Winsock's numbers).
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// Shutdown stops accepting, lets requests in flight finish, closes idle
// connections, and waits until all are gone or ctx ends, like
// http.Server.Shutdown. The short path's connections go first, while
// net/http still takes what they hand over (a request already read that
// needs a 404 or a folder), then net/http's.
func (f *HTTPServer) Shutdown(ctx context.Context) error {
	f.stopAccepting()
	err := f.drain(ctx)
	if herr := f.HTTP.Shutdown(ctx); err == nil {
		err = herr
	}
	f.handoff.Close() // in case net/http never served it
	return err
}

// drain waits until the short path has no connection left, closing each
// one as soon as it waits for a request.
func (f *HTTPServer) drain(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		f.mu.Lock()
		for fc := range f.conns {
			if fc.idle.Load() {
				fc.c.SetReadDeadline(time.Now())
			}
		}
		n := len(f.conns)
		f.mu.Unlock()
		if n == 0 {
			f.wg.Wait()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close closes every listener and connection at once.
func (f *HTTPServer) Close() error {
	f.stopAccepting()
	err := f.HTTP.Close()
	f.handoff.Close()
	f.mu.Lock()
	for fc := range f.conns {
		fc.c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	return err
}

func (f *HTTPServer) stopAccepting() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing.Swap(true) {
		return
	}
	for ln := range f.lns {
		ln.Close()
	}
}

func (f *HTTPServer) forget(fc *fastConn) {
	f.mu.Lock()
	delete(f.conns, fc)
	f.mu.Unlock()
	f.wg.Done()
}

// idleTimeout and readHeaderTimeout read net/http's limits as net/http
// does: 0 falls back to ReadTimeout.
func idleTimeout(hs *http.Server) time.Duration {
	if hs.IdleTimeout != 0 {
		return hs.IdleTimeout
	}
	return hs.ReadTimeout
}

func readHeaderTimeout(hs *http.Server) time.Duration {
	if hs.ReadHeaderTimeout != 0 {
		return hs.ReadHeaderTimeout
	}
	return hs.ReadTimeout
}

var fastWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}
var headReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// serveConn runs one connection's short path until the connection closes,
// Shutdown asks, or a request needs net/http.
func (f *HTTPServer) serveConn(fc *fastConn, accepted time.Time) {
	c := fc.c
	handed := false
	bw := fastWriters.Get().(*bufio.Writer)
	bw.Reset(fc)
	fc.bw = bw
	br := bufio.NewReaderSize(fc, 4<<10)
	defer func() {
		if !handed {
			bw.Flush() // answers to pipelined requests still buffered
			c.Close()
		}
		bw.Reset(nil)
		fastWriters.Put(bw)
		f.forget(fc)
	}()
	hs := f.HTTP
	idle, rht := idleTimeout(hs), readHeaderTimeout(hs)
	var head []byte
	for first := true; ; first = false {
		// Waiting for a request: Shutdown may close the connection now.
		fc.idle.Store(true)
		if f.closing.Load() {
			return
		}
		if first {
			fc.setReadDeadline(headDeadline(true, accepted, time.Time{}, rht), rht)
		} else {
			fc.setReadDeadline(deadline(time.Now(), idle), idle)
		}
		if _, err := br.Peek(1); err != nil {
			return
		}
		fc.idle.Store(false)
		// A head that came in whole needs no new deadline.
		if buf, _ := br.Peek(br.Buffered()); !first && (buf[0] == '\r' || buf[0] == '\n' || !bytes.Contains(buf, []byte("\r\n\r\n"))) {
			fc.setReadDeadline(headDeadline(false, accepted, time.Now(), rht), rht)
		}
		var err error
		head, err = readHead(br, head[:0], hs.MaxHeaderBytes)
		if err == errHeadTooLarge {
			f.handOff(fc, br, head)
			handed = true
			return
		}
		if err != nil {
			return // EOF, reset or ReadHeaderTimeout: close
		}
		r, ok := parseHead(head)
		if ok && f.s.fastServe(bw, r) {
			f.fastServed.Add(1)
			continue
		}
		if bw.Buffered() > 0 && bw.Flush() != nil {
			return
		}
		f.handOff(fc, br, head)
		handed = true
		return
	}
}

// handOff gives the connection to net/http with what was read of it so
// far: the head of the current request and anything buffered behind it.
func (f *HTTPServer) handOff(fc *fastConn, br *bufio.Reader, head []byte) {
	fc.c.SetReadDeadline(time.Time{})
	buffered, _ := br.Peek(br.Buffered())
	pre := make([]byte, 0, len(head)+len(buffered))
	pre = append(append(pre, head...), buffered...)
	f.handoff.push(&prefixConn{Conn: fc.c, pre: pre, wto: fc.wto})
}

var errHeadTooLarge = errors.New("request head too large")

// readHead reads one request head, through the blank line that ends it,
// appending to buf, and so consumes exactly the bytes http.ReadRequest
// consumes from a head it accepts (FuzzReadHeadMatchesNetHTTP). It stops
// with errHeadTooLarge past max bytes. Blank lines before the request line
// are kept in the head: parseHead then refuses it, and net/http, which is
// handed the same bytes, answers as it would (400, or skips them after a
// POST).
func readHead(br *bufio.Reader, buf []byte, max int) ([]byte, error) {
	lines := 0
	lineStart := len(buf)
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > max+4096 {
			return buf, errHeadTooLarge
		}
		if err == bufio.ErrBufferFull {
			continue // a line longer than the buffer: read on to its end
		}
		if err != nil {
			return buf, err
		}
		line := buf[lineStart:]
		lineStart = len(buf)
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			if lines > 0 {
				return buf, nil
			}
			continue
		}
		lines++
	}
}

// parseHead parses a head with net/http's own parser and says whether the
// short path may answer it: GET or HEAD, HTTP/1.1 keep-alive, no body, no
// ranges, no preconditions the short path does not evaluate.
func parseHead(head []byte) (*http.Request, bool) {
	if len(head) < 16 || (head[0] != 'G' && head[0] != 'H') {
		return nil, false
	}
	hr := headReaders.Get().(*bufio.Reader)
	hr.Reset(bytes.NewReader(head))
	r, err := http.ReadRequest(hr)
	hr.Reset(nil)
	headReaders.Put(hr)
	if err != nil {
		return nil, false
	}
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || r.ProtoMajor != 1 || r.ProtoMinor != 1 ||
		r.ContentLength != 0 || len(r.TransferEncoding) > 0 || r.Close ||
		r.URL.Scheme != "" || r.RequestURI == "" || r.RequestURI[0] != '/' {
		return nil, false
	}
	h := r.Header
	for _, k := range [...]string{"Range", "If-Range", "If-Match", "If-Unmodified-Since", "Expect", "Upgrade", "Content-Length"} {
		if _, ok := h[k]; ok {
			return nil, false
		}
	}
	return r, true
}

// fastServe answers r on the short path and reports whether it did. It
// writes nothing when it returns false.
func (s *Server) fastServe(bw *bufio.Writer, r *http.Request) bool {
	if s.opts.Auth != "" || s.opts.CORS != "" || !s.hosts.Allowed(r.Host) {
		return false
	}
	p := r.URL.Path
	if p == "" || p[len(p)-1] == '/' || (s.live != nil && p == livePath) {
		return false
	}
	start := time.Now()
	name, fi, err := resolve(s.root, p, s.opts.Dotfiles)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > s.opts.SmallFile {
		return false
	}
	ae := r.Header["Accept-Encoding"]
	if len(ae) > 0 && s.hasSibling(name, ae) {
		return false
	}
	e, err := s.cache.get(s, name, fi)
	if err != nil {
		return false
	}
	body, etag := e.body, e.etag[0]
	clen := e.clen[0]
	gz := false
	if e.canGzip && acceptsEncoding(ae, "gzip") {
		if z := e.gzipped(); z != nil {
			body, etag, clen, gz = z, e.gzETag[0], e.gzLen[0], true
		}
	}
	status := http.StatusOK
	if notModified(r, etag, e.mod) {
		status = http.StatusNotModified
	}
	if status == http.StatusOK {
		bw.WriteString("HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nContent-Length: ")
		bw.WriteString(clen)
		if gz {
			bw.WriteString("\r\nContent-Encoding: gzip")
		}
		bw.WriteString("\r\nContent-Type: ")
		bw.WriteString(e.ctype[0])
	} else {
		bw.WriteString("HTTP/1.1 304 Not Modified\r\nCache-Control: no-cache")
	}
	bw.WriteString("\r\nDate: ")
	bw.Write(httpDate())
	bw.WriteString("\r\nEtag: ")
	bw.WriteString(etag)
	bw.WriteString("\r\nLast-Modified: ")
	bw.WriteString(e.lastMod[0])
	if e.canGzip {
		bw.WriteString("\r\nVary: Accept-Encoding")
	}
	bw.WriteString("\r\n\r\n")
	n := 0
	if status == http.StatusOK && r.Method != http.MethodHead {
		n, _ = bw.Write(body)
	}
	if s.log != nil {
		s.log.request(r, status, int64(n), time.Since(start))
	}
	return true
}

// hasSibling reports whether a precompressed sibling the client accepts
// exists: those are served by serveSibling, on net/http's path.
func (s *Server) hasSibling(name string, ae []string) bool {
	if s.live != nil && isHTML(typeByExt(name)) {
		return false
	}
	for _, enc := range [...][2]string{{"br", ".br"}, {"gzip", ".gz"}} {
		if acceptsEncoding(ae, enc[0]) {
			if fi, err := s.root.Stat(name + enc[1]); err == nil && fi.Mode().IsRegular() {
				return true
			}
		}
	}
	return false
}

// httpDate is the Date header's value, formatted once a second.
func httpDate() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.b
	}
	d := &cachedDate{sec: sec, b: now.UTC().AppendFormat(make([]byte, 0, 32), http.TimeFormat)}
	dateCache.Store(d)
	return d.b
}

type cachedDate struct {
	sec int64
	b   []byte
}

var dateCache atomic.Pointer[cachedDate]

// prefixConn is a connection handed to net/http: reads return the bytes
// already read first, and writes carry HTTPServer.WriteTimeout.
type prefixConn struct {
	net.Conn
	pre []byte
	wto time.Duration
}

func (c *prefixConn) Write(p []byte) (int, error) {
	if c.wto > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(c.wto))
	}
	return c.Conn.Write(p)
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// ReadFrom keeps sendfile working for net/http's responses. Under a write
// timeout it sends a piece at a time, each under its own deadline, so that
// a download is cut only when the client stops taking it. The chunks
// are io.LimitedReaders over the file itself: sendfile sees through one
// of them, not two.
func (c *prefixConn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{c}, r)
	}
	if c.wto <= 0 {
		return rf.ReadFrom(r)
	}
	lr, ok := r.(*io.LimitedReader)
	if !ok {
		lr = &io.LimitedReader{R: r, N: math.MaxInt64}
	}
	var total int64
	size := int64(writeChunk)
	for lr.N > 0 {
		chunk := &io.LimitedReader{R: lr.R, N: min(lr.N, size)}
		start := time.Now()
		c.Conn.SetWriteDeadline(start.Add(c.wto))
		n, err := rf.ReadFrom(chunk)
		total += n
		lr.N -= n
		if err != nil || chunk.N > 0 { // failed, or the reader ended first
			return total, err
		}
		// A client that keeps up gets larger pieces: fewer sendfile calls.
		if size < maxWriteChunk && time.Since(start) < c.wto/4 {
			size *= 2
		}
	}
	return total, nil
}

// CloseWrite lets net/http half-close as it does on its own connections.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// connQueue is the net.Listener net/http serves: it "accepts" the
// connections the short path hands over.
type connQueue struct {
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{ch: make(chan net.Conn), done: make(chan struct{})}
}

// push hands c over, or closes it once the queue is closed: either way c
// is no longer the caller's.
func (q *connQueue) push(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.done:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.closed.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

var _ net.Listener = (*connQueue)(nil)

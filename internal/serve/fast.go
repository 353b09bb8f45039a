package serve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
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
// parser, and the answer written from the cache entry's ready headers in
// one write. That path skips what makes net/http's per-request cost twice
// nginx's (a goroutine and two deadline changes per request, a context,
// header maps and sorting). Everything else — other methods, bodies,
// ranges, folders, errors, live-reload streams, auth, CORS, HTTP/1.0,
// oversized or malformed heads — is handed, with the bytes already read, to
// a net/http.Server that keeps the connection from then on. The two paths
// share the resolver, the cache and the checks, so they answer alike.
type HTTPServer struct {
	// HTTP is the net/http.Server that takes every request the short path
	// does not; its limits (ReadHeaderTimeout, IdleTimeout, MaxHeaderBytes)
	// are the short path's too.
	HTTP *http.Server

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

// fastConn is one connection on the short path.
type fastConn struct {
	c    net.Conn
	idle atomic.Bool // waiting for the next request
}

func newHTTPServer(s *Server, hs *http.Server) *HTTPServer {
	return &HTTPServer{HTTP: hs, s: s, handoff: newConnQueue(), lns: map[net.Listener]struct{}{}, conns: map[*fastConn]struct{}{}}
}

// Serve accepts connections on ln until Shutdown or Close, like
// http.Server.Serve, and returns http.ErrServerClosed then.
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
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of file descriptors and the like: wait, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		fc := &fastConn{c: c}
		f.mu.Lock()
		if f.closing.Load() {
			f.mu.Unlock()
			c.Close()
			return http.ErrServerClosed
		}
		f.conns[fc] = struct{}{}
		f.wg.Add(1)
		f.mu.Unlock()
		go f.serveConn(fc)
	}
}

// Shutdown stops accepting, lets requests in flight finish, closes idle
// connections, and waits until all are gone or ctx ends, like
// http.Server.Shutdown.
func (f *HTTPServer) Shutdown(ctx context.Context) error {
	f.stopAccepting()
	err := f.HTTP.Shutdown(ctx)
	f.handoff.Close() // in case net/http never served it
	done := make(chan struct{})
	go func() {
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
				close(done)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	select {
	case <-done:
		f.wg.Wait()
		return err
	case <-ctx.Done():
		return ctx.Err()
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

var fastWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}
var headReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// serveConn runs one connection's short path until the connection closes or
// a request needs net/http.
func (f *HTTPServer) serveConn(fc *fastConn) {
	c := fc.c
	handed := false
	br := bufio.NewReaderSize(c, 4<<10)
	bw := fastWriters.Get().(*bufio.Writer)
	bw.Reset(c)
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
	var head []byte
	for first := true; ; first = false {
		// Waiting for a request: Shutdown may close the connection now.
		fc.idle.Store(true)
		if f.closing.Load() {
			return
		}
		wait := hs.IdleTimeout
		if first {
			wait = hs.ReadHeaderTimeout
		}
		c.SetReadDeadline(time.Now().Add(wait))
		if _, err := br.Peek(1); err != nil {
			return
		}
		fc.idle.Store(false)
		// The head must be complete within ReadHeaderTimeout of its first
		// byte; one that came in whole needs no new deadline.
		if buf, _ := br.Peek(br.Buffered()); buf[0] == '\r' || buf[0] == '\n' || !bytes.Contains(buf, []byte("\r\n\r\n")) {
			c.SetReadDeadline(time.Now().Add(hs.ReadHeaderTimeout))
		}
		var err error
		head, err = readHead(br, head[:0], hs.MaxHeaderBytes)
		if err == errHeadTooLarge {
			c.SetReadDeadline(time.Time{})
			handed = f.handOff(c, br, head)
			return
		}
		if err != nil {
			return // EOF, reset or ReadHeaderTimeout: close
		}
		r, ok := parseHead(head)
		if ok && f.s.fastServe(bw, r) {
			f.fastServed.Add(1)
		} else {
			if bw.Buffered() > 0 && bw.Flush() != nil {
				return
			}
			c.SetReadDeadline(time.Time{})
			handed = f.handOff(c, br, head)
			return
		}
		if br.Buffered() == 0 {
			// Nothing pipelined behind: send now.
			if bw.Flush() != nil {
				return
			}
		}
	}
}

// handOff gives c to net/http with what was read of it so far: the head of
// the current request and anything buffered behind it.
func (f *HTTPServer) handOff(c net.Conn, br *bufio.Reader, head []byte) bool {
	buffered, _ := br.Peek(br.Buffered())
	pre := make([]byte, 0, len(head)+len(buffered))
	pre = append(append(pre, head...), buffered...)
	return f.handoff.push(&prefixConn{Conn: c, pre: pre})
}

var errHeadTooLarge = errors.New("request head too large")

// readHead reads one request head, through the blank line, appending to
// buf. It stops with errHeadTooLarge past max bytes. Leading blank lines
// before a request line are kept (net/http skips them).
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
	if e.canGzip && accepts(ae, "gzip") {
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
		if accepts(ae, enc[0]) {
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
// already read first.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// ReadFrom keeps sendfile working for net/http's responses.
func (c *prefixConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
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

// push hands c over; it reports false (and closes c) once the queue is
// closed.
func (q *connQueue) push(c net.Conn) bool {
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		c.Close()
		return true
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

// Package serve is homeport's static file server for development: `homeport
// serve [DIR]`.
//
// Defaults, and why:
//   - Every file is opened through an os.Root on DIR: no path, ".." or
//     symlink reaches outside it. Dotfiles (.git, .env) answer 404 unless
//     Options.Dotfiles is set.
//   - Only requests whose Host is a loopback name are answered (see
//     internal/httpguard); anything else is 403, which stops DNS rebinding.
//   - Responses carry "Cache-Control: no-cache": the browser revalidates each
//     time (ETag / Last-Modified, so mostly 304s) and never shows a stale file.
//   - Small files are kept in memory with their headers ready, keyed by name,
//     size and modification time, so an edit is seen on the next request;
//     large files are sent with sendfile.
//   - Directories serve their index.html, or a listing (HTML, or JSON for
//     "Accept: application/json"). Redirects to add a trailing slash are
//     relative, never "//host" URLs.
//
// The caller listens (ports.Listen, which names the holder of a taken port)
// and serves with the HTTPServer that Server.HTTPServer returns: a short
// path for cached small files in front of a net/http.Server, both with the
// header, idle, write and size limits that keep slow or abandoned
// connections from piling up.
package serve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"homeport/internal/httpguard"
)

// DefaultPort is where homeport serves when no port is given.
const DefaultPort = 62893

// Limits of the HTTP server (see HTTPServer).
const (
	// ReadHeaderTimeout closes connections that do not finish their request
	// headers in time: slowloris clients.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes keep-alive connections nobody uses.
	IdleTimeout = 120 * time.Second
	// MaxHeaderBytes bounds request headers.
	MaxHeaderBytes = 64 << 10
	// WriteTimeout closes connections whose client takes none of a
	// response for this long: one that pipelines and never reads (see
	// HTTPServer.WriteTimeout).
	WriteTimeout = 10 * time.Second
)

// Options configure a Server. The zero value (but for Dir) is the default.
type Options struct {
	// Dir is the folder to serve.
	Dir string
	// Dotfiles serves files and folders whose name starts with a dot.
	Dotfiles bool
	// SPA answers unknown paths without a file extension with /index.html,
	// for single-page apps that route with the history API.
	SPA bool
	// Live watches Dir and reloads open pages when a file changes.
	Live bool
	// CORS, when not empty, is the Access-Control-Allow-Origin to send:
	// an origin such as "http://localhost:5173", or "*" for any.
	CORS string
	// Auth, when not empty, is "user:password" for HTTP basic auth.
	Auth string
	// Hosts is the Host allow-list; nil allows loopback names only.
	Hosts *httpguard.Hosts
	// Log receives one line per request; nil logs nothing.
	Log io.Writer
	// SmallFile is the size up to which files are cached in memory
	// (default 256 KiB); CacheBytes caps the cache (default 64 MiB).
	SmallFile, CacheBytes int64
	// Debounce is how long live reload waits for a burst of changes to end
	// (default 100ms).
	Debounce time.Duration
	// ReadHeaderTimeout and WriteTimeout, when not zero, replace the
	// defaults of the same names; tests change them.
	ReadHeaderTimeout, WriteTimeout time.Duration
}

// Server serves one folder. Make it with New, close it with Close.
type Server struct {
	opts  Options
	root  *os.Root
	hosts *httpguard.Hosts
	cache *cache
	live  *live
	log   *reqLog

	authUser, authPass [32]byte // sha256 of each, compared in constant time
}

// New opens opts.Dir and, with opts.Live, starts watching it.
func New(opts Options) (*Server, error) {
	fi, err := os.Stat(opts.Dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", opts.Dir)
	}
	root, err := os.OpenRoot(opts.Dir)
	if err != nil {
		return nil, err
	}
	if opts.SmallFile <= 0 {
		opts.SmallFile = 256 << 10
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 64 << 20
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	s := &Server{opts: opts, root: root, hosts: opts.Hosts, cache: newCache(opts.CacheBytes)}
	if s.hosts == nil {
		s.hosts = httpguard.NewHosts()
	}
	if opts.Auth != "" {
		user, pass, ok := strings.Cut(opts.Auth, ":")
		if !ok || user == "" || pass == "" {
			root.Close()
			return nil, errors.New(`auth must be "user:password"`)
		}
		s.authUser, s.authPass = sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	}
	if opts.Log != nil {
		s.log = newReqLog(opts.Log)
	}
	if opts.Live {
		s.live, err = startLive(opts.Dir, opts.Dotfiles, opts.Debounce)
		if err != nil {
			root.Close()
			return nil, fmt.Errorf("watching %s: %w", opts.Dir, err)
		}
	}
	return s, nil
}

// Close stops the watcher, flushes the log and closes the root. It ends
// open live-reload streams too, which an http.Server's Shutdown would
// otherwise wait for forever.
func (s *Server) Close() error {
	if s.live != nil {
		s.live.close()
	}
	if s.log != nil {
		s.log.close()
	}
	return s.root.Close()
}

// HTTPServer returns the HTTP server for s, with homeport's limits. Its
// Shutdown ends open live-reload streams so that it does not wait on them.
func (s *Server) HTTPServer() *HTTPServer {
	rht := ReadHeaderTimeout
	if s.opts.ReadHeaderTimeout > 0 {
		rht = s.opts.ReadHeaderTimeout
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: rht,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		// The server's own complaints (TLS handshakes on a plain port,
		// broken pipes) are not the user's concern.
		ErrorLog: log.New(io.Discard, "", 0),
		// Large files cork the connection (see serveLarge): keep it at hand.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if pc, ok := c.(*prefixConn); ok {
				c = pc.Conn
			}
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	if s.live != nil {
		hs.RegisterOnShutdown(s.live.hub.close)
	}
	f := newHTTPServer(s, hs)
	f.WriteTimeout = WriteTimeout
	if s.opts.WriteTimeout > 0 {
		f.WriteTimeout = s.opts.WriteTimeout
	}
	return f
}

// connKey is the request-context key of the request's connection.
type connKey struct{}

// ServeHTTP answers one request and logs it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.log == nil {
		s.serve(w, r)
		return
	}
	lw := getLogWriter(w)
	start := time.Now()
	s.serve(lw, r)
	if lw.status == 0 {
		lw.status = http.StatusOK // nothing written: net/http sends 200
	}
	s.log.request(r, lw.status, lw.bytes, time.Since(start))
	putLogWriter(lw)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		// A body, which no request to a static server needs, ends the
		// connection: should a proxy in front frame it differently (both
		// Content-Length and Transfer-Encoding, RFC 9112 section 6.1), what
		// it takes for the next request is never answered here.
		w.Header().Set("Connection", "close")
	}
	if !s.hosts.Allowed(r.Host) {
		httpguard.Forbid(w, r)
		return
	}
	h := w.Header()
	if s.opts.CORS != "" {
		h.Set("Access-Control-Allow-Origin", s.opts.CORS)
		if s.opts.CORS != "*" {
			h.Add("Vary", "Origin")
		}
		// A preflight carries no credentials, so it comes before auth.
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
				h.Set("Access-Control-Allow-Headers", rh)
			}
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if s.opts.Auth != "" && !s.authorized(r) {
		h.Set("WWW-Authenticate", `Basic realm="homeport", charset="UTF-8"`)
		http.Error(w, "401 unauthorized", http.StatusUnauthorized)
		return
	}
	if s.live != nil && r.URL.Path == livePath {
		s.live.serveEvents(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}

	name, fi, err := resolve(s.root, r.URL.Path, s.opts.Dotfiles)
	if err != nil && s.opts.SPA && errors.Is(err, fs.ErrNotExist) && path.Ext(r.URL.Path) == "" {
		// History-API routes of a single-page app: the app's index.html,
		// through the same resolver.
		name, fi, err = resolve(s.root, "/index.html", s.opts.Dotfiles)
		if err == nil && fi.Mode().IsRegular() {
			s.serveFile(w, r, name, fi)
			return
		}
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	if fi.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			redirectSlash(w, r)
			return
		}
		idx := path.Join(name, "index.html")
		if ifi, err := s.root.Stat(idx); err == nil && ifi.Mode().IsRegular() {
			s.serveFile(w, r, idx, ifi)
			return
		}
		s.serveListing(w, r, name)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/") || !fi.Mode().IsRegular() {
		// "/file.txt/" names a folder that is not there; devices and pipes
		// are never served.
		s.fail(w, fs.ErrNotExist)
		return
	}
	s.serveFile(w, r, name, fi)
}

// authorized checks basic auth in constant time.
func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	return subtle.ConstantTimeCompare(u[:], s.authUser[:])&subtle.ConstantTimeCompare(p[:], s.authPass[:]) == 1
}

// redirectSlash sends a folder's URL without its trailing slash to the same
// URL with one. The Location is relative ("name/"), so no request path can
// turn it into a "//other.host" URL.
func redirectSlash(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	last := p[strings.LastIndexByte(p, '/')+1:]
	loc := url.PathEscape(last) + "/"
	if last == "" || last == "." || last == ".." {
		loc = "./"
	}
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusFound)
}

// fail maps a resolver or file error to its status, in this one place:
// a path the resolver refuses is 400; anything that is not there, hidden,
// outside the root (a symlink that escapes) or not a regular file is 404;
// a file the server may not read is 403.
func (s *Server) fail(w http.ResponseWriter, err error) {
	code := http.StatusNotFound
	switch {
	case errors.Is(err, errBadPath):
		code = http.StatusBadRequest
	case errors.Is(err, fs.ErrPermission):
		code = http.StatusForbidden
	}
	h := w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Del("Content-Encoding")
	http.Error(w, fmt.Sprintf("%d %s", code, strings.ToLower(http.StatusText(code))), code)
}

var _ http.Handler = (*Server)(nil)

// Package dashboard is the HTTP side of homeport's daemon: the live page,
// its JSON API under /api/v1/, the Server-Sent Events stream the page
// listens to, and /metrics for Prometheus.
//
// Security: the daemon can kill processes, and every web page the user
// visits can send requests to 127.0.0.1. So, before any route:
//   - the Host header must be a loopback name or literal (DNS rebinding gets
//     403, see internal/httpguard); NAME.localhost goes to the router;
//   - every response carries CSP default-src 'self' with frame-ancestors
//     'none', nosniff and CORP same-origin, and never an
//     Access-Control-Allow-Origin;
//   - the API, the event stream and /metrics need the per-user token: the
//     CLI sends it in X-Homeport-Token (or Authorization: Bearer), the
//     browser carries it in an HttpOnly, SameSite=Strict cookie it got in
//     exchange for a one-time login code;
//   - requests a browser marks as coming from another site (Origin,
//     Sec-Fetch-Site) are refused, and state changes must be POSTs of
//     application/json.
package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"homeport/internal/doctor"
	"homeport/internal/httpguard"
	"homeport/internal/metrics"
	"homeport/internal/router"
	"homeport/internal/sockets"
	"homeport/internal/watch"
)

// CookieName is the cookie that carries the token in the browser.
const CookieName = "homeport_token"

// TokenHeader is the header the CLI sends the token in.
const TokenHeader = "X-Homeport-Token"

// loginTTL is how long a login code printed by `up` or `ui` stays valid.
const loginTTL = 10 * time.Minute

// Options configure a Server.
type Options struct {
	// Token is the per-user secret (internal/daemon keeps it).
	Token string

	// Port is the daemon's port; the page shows it.
	Port int

	// Interval between inventories (watch.DefaultInterval when zero).
	Interval time.Duration

	// Version is homeport's version, for build info and the status answer.
	Version string

	// PID and Since describe the daemon for /api/v1/status.
	PID   int
	Since time.Time

	// Take reads the inventory for the one-port questions (who, a row's
	// connections); sockets.Take when nil.
	Take func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error)

	// Doctor diagnoses a port and Audit lists what is exposed; the real
	// internal/doctor when nil.
	Doctor func(ctx context.Context, port uint16) (*doctor.Report, error)
	Audit  func(ctx context.Context) (*doctor.AuditReport, error)

	// Kill stops what holds a port; without it the kill route answers 501.
	Kill KillFunc

	// Shutdown is called by POST /api/v1/shutdown (`homeport down`).
	Shutdown func()

	// Router serves NAME.localhost requests; nil answers 404.
	Router http.Handler

	// RouteAPI serves /api/v1/routes (`homeport route`, `homeport
	// routes`) behind the token and same-origin checks; without it those
	// routes answer 404.
	RouteAPI *router.API

	// Collectors are registered in /metrics' registry beside the
	// daemon's own (the router's requests and latency).
	Collectors []metrics.Collector

	// Poll replaces the watcher's inventory (tests).
	Poll func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error)
}

// Server is the dashboard. Create it with New, start its watcher with Run,
// and serve Handler on the daemon's listeners.
type Server struct {
	opts    Options
	hub     watch.Hub
	mux     *http.ServeMux
	metrics *daemonMetrics
	labels  *labeler

	mu     sync.Mutex
	logins map[string]time.Time // one-time login codes → expiry
}

// New returns a Server with opts.
func New(opts Options) *Server {
	if opts.Take == nil {
		opts.Take = sockets.Take
	}
	if opts.Doctor == nil {
		opts.Doctor = func(ctx context.Context, port uint16) (*doctor.Report, error) {
			return doctor.Diagnose(ctx, doctor.System(), portTarget(port), &doctor.Options{})
		}
	}
	if opts.Audit == nil {
		opts.Audit = func(ctx context.Context) (*doctor.AuditReport, error) {
			return doctor.Audit(ctx, doctor.System(), &doctor.AuditOptions{ProbeTimeout: time.Second})
		}
	}
	if opts.Interval <= 0 {
		opts.Interval = watch.DefaultInterval
	}
	s := &Server{opts: opts, logins: map[string]time.Time{}}
	var table *router.Table
	if opts.RouteAPI != nil {
		table = opts.RouteAPI.Table
	}
	s.labels = newLabeler(table, os.Getpid())
	s.metrics = newMetrics(s)
	s.routes()
	return s
}

// Run watches the inventory until ctx ends, publishing each change to the
// open pages and the metrics. It returns when ctx is done.
func (s *Server) Run(ctx context.Context) {
	p := watch.New(watch.Options{Interval: s.opts.Interval, Take: s.opts.Poll})
	polls := 0
	_ = p.Run(ctx, func(u watch.Update) {
		s.metrics.observe(u)
		s.hub.Publish(u)
		// Every 64 polls (about a minute at the default interval), the
		// labeler forgets the processes that are gone.
		if polls++; polls%64 == 0 {
			s.labels.forget(u.Snapshot)
		}
	}, func(error) { s.metrics.pollErrors.Inc() })
	s.hub.Close()
}

// Hub returns the updates the page's event streams read.
func (s *Server) Hub() *watch.Hub { return &s.hub }

// LoginCode returns a fresh one-time code for the login URL
// (/login?code=...), valid for ten minutes.
func (s *Server) LoginCode() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	code := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for c, exp := range s.logins {
		if now.After(exp) {
			delete(s.logins, c)
		}
	}
	s.logins[code] = now.Add(loginTTL)
	return code
}

// useLogin consumes a login code.
func (s *Server) useLogin(code string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.logins[code]
	if !ok {
		return false
	}
	delete(s.logins, code)
	return time.Now().Before(exp)
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.page)
	m.Handle("GET /assets/", assets())
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	m.HandleFunc("GET /login", s.login)

	m.Handle("/api/v1/status", s.read(s.status))
	m.Handle("/api/v1/ports", s.read(s.ports))
	m.Handle("/api/v1/who", s.read(s.who))
	m.Handle("/api/v1/doctor", s.read(s.doctor))
	m.Handle("/api/v1/audit", s.read(s.audit))
	m.Handle("/api/v1/events", s.read(s.events))
	m.Handle("/api/v1/kill", s.change(s.kill))
	m.Handle("/api/v1/login", s.change(s.newLogin))
	m.Handle("/api/v1/shutdown", s.change(s.shutdown))
	m.Handle("/metrics", s.read(s.metrics.handler().ServeHTTP))
	if api := s.opts.RouteAPI; api != nil {
		m.Handle("GET /api/v1/routes", s.read(api.List))
		m.Handle("POST /api/v1/routes", s.change(api.Add))
		m.Handle("/api/v1/routes/remove", s.change(api.Remove))
	}
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API route: "+r.URL.Path, "the routes are listed in homeport's README")
	})
	s.mux = m
}

// ServeHTTP applies the guard, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !httpguard.IsLoopback(r.Host) {
		secureHeaders(w.Header())
		httpguard.Forbid(w, r)
		return
	}
	if name, ok := routeName(r.Host); ok {
		if s.opts.Router != nil {
			// The app behind a route answers with its own headers: the
			// dashboard's CSP and CORP would break its pages (inline
			// scripts, images from another NAME.localhost).
			s.opts.Router.ServeHTTP(w, r)
			return
		}
		secureHeaders(w.Header())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("404: no route named " + name + "\n"))
		return
	}
	secureHeaders(w.Header())
	s.mux.ServeHTTP(w, r)
}

// secureHeaders are set on every answer, assets and errors included.
func secureHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// routeName returns NAME for a Host of NAME.localhost (with or without a
// port and a trailing dot); the dashboard's own names return false.
func routeName(host string) (string, bool) {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	name, ok := strings.CutSuffix(h, ".localhost")
	if !ok || name == "" {
		return "", false
	}
	return name, true
}

// authed reports whether r carries the token, in the header, as a bearer
// token, or in the cookie.
func (s *Server) authed(r *http.Request) bool {
	got := r.Header.Get(TokenHeader)
	if got == "" {
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			got = strings.TrimSpace(b)
		}
	}
	if got == "" {
		if c, err := r.Cookie(CookieName); err == nil {
			got = c.Value
		}
	}
	return got != "" && s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) == 1
}

// crossSite reports whether a browser says r comes from another origin.
// Requests without Origin and Sec-Fetch-Site (the CLI, curl, Prometheus)
// are not cross-site; they still need the token.
func crossSite(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, "http://"+r.Host) {
		return true
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return false
	}
	return true
}

// read wraps a GET route: same origin and the token.
func (s *Server) read(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here", "use GET")
			return
		}
		if crossSite(r) {
			writeError(w, http.StatusForbidden, "cross-site request refused", "")
			return
		}
		if !s.authed(r) {
			writeError(w, http.StatusUnauthorized, "missing or wrong token", "log in with 'homeport ui'")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r)
	})
}

// change wraps a route that changes state: POST, application/json, same
// origin (Origin and Sec-Fetch-Site, when the client sends them) and the
// token. A form post (the one kind of cross-site request a page can send
// without a CORS preflight) fails on its content type.
func (s *Server) change(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here", "use POST with a JSON body")
			return
		}
		ct := r.Header.Get("Content-Type")
		if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
			writeError(w, http.StatusUnsupportedMediaType, "the body must be application/json", "")
			return
		}
		if crossSite(r) || r.Header.Get("Sec-Fetch-Site") == "none" {
			writeError(w, http.StatusForbidden, "cross-site request refused", "")
			return
		}
		if !s.authed(r) {
			writeError(w, http.StatusUnauthorized, "missing or wrong token", "log in with 'homeport ui'")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		w.Header().Set("Cache-Control", "no-store")
		h(w, r)
	})
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
	Hint  string `json:"hint,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg, hint string) {
	writeJSON(w, code, apiError{Error: msg, Hint: hint})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// login trades a one-time code for the cookie, and redirects to the page
// without the code in the address bar or the history.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	if code == "" || !s.useLogin(code) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("this login link is used up or expired: run 'homeport ui' for a fresh one\n"))
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    s.opts.Token,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		MaxAge:   400 * 24 * 3600,
	})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// ErrNoKill is what the kill route says without a kill engine.
var ErrNoKill = errors.New("this daemon cannot kill processes")

var _ http.Handler = (*Server)(nil)

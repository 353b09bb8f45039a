package router

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// statusClientClosed is what the Observer is told of a request whose client
// left before any answer (nginx's 499): no status was sent.
const statusClientClosed = 499

// unknownRoute is the Observer's route label for a NAME.localhost request
// that matched no route. "_" cannot start a route name, so it never clashes
// with one; the requested name itself is not used, which would let any page
// grow the label set without bound.
const unknownRoute = "_unknown"

type failKind int

const (
	failIndex    failKind = iota + 1 // localhost with no dashboard: the list of routes
	failUnknown                      // 404: no route of that name
	failRefused                      // 502: nothing listens on the route's port
	failDialSlow                     // 502: the port did not accept in time
	failBackend                      // 502: the backend broke the exchange
	failBadBody                      // 400: the client's body was malformed
	failTimeout                      // 504: no response head within Options.Timeout
	failLoopSelf                     // 508: the route goes to the daemon's own port
	failLoop                         // 508: the request came back to a route it passed
)

// failure is everything a failure page says.
type failure struct {
	kind  failKind
	name  string // the requested name (failUnknown)
	route Route
	hops  string // the hop header that showed a loop
	err   error
}

func (f *failure) status() int {
	switch f.kind {
	case failIndex, failUnknown:
		return http.StatusNotFound
	case failTimeout:
		return http.StatusGatewayTimeout
	case failBadBody:
		return http.StatusBadRequest
	case failLoopSelf, failLoop:
		return http.StatusLoopDetected
	default:
		return http.StatusBadGateway
	}
}

// proxyError is ReverseProxy's ErrorHandler: it sorts what went wrong between
// the router and a backend into the failure pages. A client that went away
// gets nothing (there is no one to tell).
func (r *Router) proxyError(w http.ResponseWriter, req *http.Request, b *backend, err error) {
	if req.Context().Err() != nil && errors.Is(err, context.Canceled) {
		return
	}
	f := &failure{route: b.route, err: err}
	// ReverseProxy hands over the outgoing request, whose body it wrapped;
	// the writer is still ours and knows the body.
	if sw, ok := w.(*statusWriter); ok && sw.body != nil && sw.body.err != nil {
		f.kind, f.err = failBadBody, sw.body.err
		r.fail(w, req, f)
		return
	}
	var de *dialError
	var ne net.Error
	switch {
	case errors.As(err, &de) && de.refused():
		f.kind = failRefused
	case errors.As(err, &de):
		f.kind = failDialSlow
	case errors.As(err, &ne) && ne.Timeout():
		f.kind = failTimeout
	default:
		f.kind = failBackend
	}
	if f.kind != failRefused {
		r.proxyLog.Printf("route %s (port %d): %v", b.route.Name, b.route.Port, err)
	}
	r.fail(w, req, f)
}

// fail writes a failure page: HTML to a browser (its Accept names
// text/html), plain text to curl and scripts.
func (r *Router) fail(w http.ResponseWriter, req *http.Request, f *failure) {
	port := r.publicPort(req)
	title, detail, hint := r.describe(f, port)
	var routes []Route
	if f.kind == failIndex || f.kind == failUnknown {
		routes = r.table.List()
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if f.kind == failTimeout || f.kind == failRefused || f.kind == failDialSlow || f.kind == failBackend || f.kind == failBadBody {
		// The backend connection may be in any state; do not keep the
		// client's on a request whose body may not have been read.
		h.Set("Connection", "close")
	}
	if strings.Contains(req.Header.Get("Accept"), "text/html") {
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		w.WriteHeader(f.status())
		_ = writePage(w, pageData{
			Status: f.status(), Title: title, Detail: detail, Hint: hint,
			Routes: links(routes, port), Index: f.kind == failIndex || f.kind == failUnknown,
		})
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(f.status())
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d %s\n", f.status(), title)
	if detail != "" {
		sb.WriteString(detail + "\n")
	}
	if f.kind == failIndex || f.kind == failUnknown {
		if len(routes) == 0 {
			sb.WriteString("\nno routes yet\n")
		} else {
			sb.WriteString("\nroutes:\n")
			for _, l := range links(routes, port) {
				fmt.Fprintf(&sb, "  %-20s port %-5d  %s\n", l.Name, l.Port, l.URL)
			}
		}
	}
	if hint != "" {
		sb.WriteString("hint: " + hint + "\n")
	}
	_, _ = w.Write([]byte(sb.String()))
}

// describe returns a failure's title, its detail and the command to run next.
func (r *Router) describe(f *failure, port string) (title, detail, hint string) {
	rt := f.route
	p := strconv.Itoa(rt.Port)
	switch f.kind {
	case failIndex:
		return "this is homeport's router", "open http://NAME.localhost:" + port + "/ to reach the route NAME",
			"add a route with: homeport route add NAME PORT"
	case failUnknown:
		return fmt.Sprintf("no route named %q", f.name), "",
			fmt.Sprintf("route the app's port to this name with: homeport route add %s PORT", safeName(f.name))
	case failRefused:
		return "bad gateway: " + rt.Name + " is not answering",
			fmt.Sprintf("route %s goes to port %d, but nothing listens on 127.0.0.1:%d or [::1]:%d", rt.Name, rt.Port, rt.Port, rt.Port),
			"is the app running? find out why with: homeport doctor " + p
	case failDialSlow:
		return "bad gateway: " + rt.Name + " is not accepting connections",
			fmt.Sprintf("route %s goes to port %d, which did not accept a connection within %s", rt.Name, rt.Port, r.opts.DialTimeout),
			"homeport doctor " + p
	case failBackend:
		return "bad gateway: " + rt.Name + " broke off the exchange",
			fmt.Sprintf("route %s goes to port %d, and the app there failed: %v", rt.Name, rt.Port, f.err),
			"look at the app's output, or run: homeport doctor " + p
	case failBadBody:
		return "bad request: the request body is malformed",
			fmt.Sprintf("reading the body for route %s: %v", rt.Name, f.err),
			"the client sent a body whose framing is broken (a bare LF in chunked encoding, or fewer bytes than its Content-Length); fix the client"
	case failTimeout:
		return "gateway timeout: " + rt.Name + " is too slow",
			fmt.Sprintf("route %s goes to port %d, and the app there sent no answer within %s", rt.Name, rt.Port, r.opts.Timeout.Round(time.Millisecond)),
			"look at the app's output, or run: homeport doctor " + p
	case failLoopSelf:
		return "loop detected: " + rt.Name + " points at homeport itself",
			fmt.Sprintf("route %s goes to port %d, homeport's own port: every request would come back here", rt.Name, rt.Port),
			fmt.Sprintf("point it at the app's port: homeport route rm %s && homeport route add %s PORT", rt.Name, rt.Name)
	case failLoop:
		return "loop detected: the request came back to " + rt.Name,
			fmt.Sprintf("it passed through the routes %s and arrived at %s again", f.hops, rt.Name),
			"the app behind a route on that list sends requests back to its own name; point its proxy at the app's port (homeport routes lists them)"
	}
	return "error", "", ""
}

// publicPort is the port the client used (from Host), for links on pages;
// the daemon's own port when Host has none.
func (r *Router) publicPort(req *http.Request) string {
	if _, port, err := net.SplitHostPort(req.Host); err == nil && port != "" {
		return port
	}
	if p := r.selfPort.Load(); p != 0 {
		return strconv.Itoa(int(p))
	}
	return "80"
}

// safeName keeps a name from a Host header fit to print in a command line
// hint: ParseHost allows only letters, digits, "-", "_" and ".", but a page
// must never echo more than that.
func safeName(s string) string {
	if n, err := ParseName(s); err == nil {
		return n
	}
	return "NAME"
}

type link struct {
	Name string
	Port int
	URL  string
}

func links(routes []Route, port string) []link {
	out := make([]link, len(routes))
	for i, r := range routes {
		out[i] = link{Name: r.Name, Port: r.Port, URL: "http://" + r.Name + ".localhost:" + port + "/"}
	}
	return out
}

type pageData struct {
	Status              int
	Title, Detail, Hint string
	Routes              []link
	Index               bool
}

// writePage writes a failure page. It escapes by hand rather than with
// html/template: every homeport command links the router, and linking
// html/template costs each of them its package initialisation (0.1 ms and
// 18 KB of heap before main); the page has four texts and a list of links.
// Route names are letters, digits, "-", "_" and "." (ParseName), so a
// link's URL needs no more than HTML escaping.
func writePage(w io.Writer, d pageData) error {
	var b strings.Builder
	esc := html.EscapeString
	status := strconv.Itoa(d.Status)
	b.WriteString(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>` + status + " " + esc(d.Title) + ` · homeport</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#222;background:#fff}
@media (prefers-color-scheme:dark){body{color:#ddd;background:#161616}a{color:#8cf}}
h1{font-size:1.3rem} code{font:13px ui-monospace,monospace;background:rgba(127,127,127,.15);padding:.1em .3em;border-radius:3px}
table{border-collapse:collapse} td{padding:.2rem 1rem .2rem 0}
</style></head><body>
<h1>` + status + " · " + esc(d.Title) + "</h1>\n")
	if d.Detail != "" {
		b.WriteString("<p>" + esc(d.Detail) + "</p>")
	}
	b.WriteString("\n")
	if d.Index {
		if len(d.Routes) > 0 {
			b.WriteString("<h2>Routes</h2><table>")
			for _, l := range d.Routes {
				b.WriteString(`<tr><td><a href="` + esc(l.URL) + `">` + esc(l.Name) + ".localhost</a></td><td>port " + strconv.Itoa(l.Port) + "</td></tr>")
			}
			b.WriteString("</table>")
		} else {
			b.WriteString("<p>No routes yet.</p>")
		}
	}
	b.WriteString("\n")
	if d.Hint != "" {
		b.WriteString("<p>Next: <code>" + esc(d.Hint) + "</code></p>")
	}
	b.WriteString("\n</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

package doctor

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// HTTPResult is what the protocol probe of an http(s) target saw.
type HTTPResult struct {
	URL    string `json:"url"`
	Status int    `json:"status,omitempty"`
	Server string `json:"server,omitempty"`
	Error  string `json:"error,omitempty"`
	// Speaks is what the port turned out to speak: "http", "https", or
	// "other" with Banner holding its first bytes.
	Speaks string `json:"speaks"`
	Banner string `json:"banner,omitempty"`
	// Service names the known non-web server behind the port (Redis,
	// PostgreSQL ...), which was not sent an HTTP request.
	Service string `json:"service,omitempty"`
	// HostRejected is true when the server refused the Host header but
	// answered a request for Host: localhost; LocalhostStatus is that
	// answer's status.
	HostRejected    bool   `json:"host_rejected,omitempty"`
	RejectReason    string `json:"reject_reason,omitempty"`
	LocalhostStatus int    `json:"localhost_status,omitempty"`
	TimedOut        bool   `json:"timed_out,omitempty"`
}

// probeHTTP requests t's URL from the address ap and, when that fails,
// finds out what the port speaks instead. A server that answers with bytes
// that are not HTTP, or closes the connection, is known at once from what
// it sent: no second guess waits for a timeout. l is the listener behind ap,
// when known: a known database or other non-web server is not sent an HTTP
// request at all.
func probeHTTP(ctx context.Context, env *Env, t ports.Target, ap netip.AddrPort, l *sockets.Socket) *HTTPResult {
	u := *t.URL
	scheme := strings.ToLower(u.Scheme)
	res := &HTTPResult{URL: u.String(), Speaks: scheme}
	if l != nil {
		// By its process; by the port only when the process is hidden (the
		// URL says the port is a web server, and the user knows best).
		if svc, ok := nonHTTPService(l, len(l.Owners) == 0); ok {
			res.Speaks, res.Service = "other", svc
			return res
		}
	}
	first := ctx
	if scheme == "https" {
		// A plain server may wait in silence for the end of a line that a
		// TLS hello never sends: keep time to ask it in plain HTTP.
		if dl, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			first, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
			defer cancel()
		}
	}
	an := httpGet(first, env, ap, scheme, &u, u.Host)
	switch {
	case an.err == nil && ports.SchemeComplaint(an.status, an.body):
		res.Status, res.Error, res.Speaks = an.status, strings.TrimSpace(ports.FirstLine(an.body)), "https"
		return res
	case an.err == nil:
		res.Status, res.Server = an.status, an.server
		if reason, _ := ports.HostRejection(an.status, an.body); reason != "" {
			lh := "localhost:" + strconv.Itoa(int(t.Port))
			if an2 := httpGet(ctx, env, ap, scheme, &u, lh); an2.err == nil && noRejection(an2.status, an2.body) {
				res.HostRejected, res.RejectReason, res.LocalhostStatus = true, reason, an2.status
			}
		}
		return res
	}
	res.Error = errText(an.err)
	res.TimedOut = classifyDialError(an.err) == TimedOut
	switch speaks := ports.FirstBytesSpeak(an.first); {
	case speaks == ports.SpeaksTLS && scheme == "http":
		res.Speaks = "https" // a TLS alert in answer to plain HTTP
		return res
	case speaks == ports.SpeaksHTTP && scheme == "https":
		res.Speaks = "http" // a plain HTTP error in answer to a TLS hello
		return res
	case speaks == ports.SpeaksOther:
		if scheme == "http" {
			res.Speaks, res.Banner = "other", ports.Printable(an.first)
			return res
		}
		// Not TLS: a plain server may answer a TLS hello with an HTML page
		// and no status line (Python's http.server takes it for HTTP/0.9);
		// plain HTTP tells.
	}
	if res.TimedOut && scheme == "http" {
		// Silence: a TLS server answers plain HTTP with an alert at once,
		// so this is a server that does not answer.
		res.Speaks = ""
		return res
	}
	// Closed without a word (or a TLS hello met silence): ask in the
	// other scheme.
	other := "https"
	if scheme == "https" {
		other = "http"
	}
	if an2 := httpGet(ctx, env, ap, other, &u, u.Host); an2.err == nil && an2.status > 0 {
		res.Speaks = other
		return res
	} else if ports.FirstBytesSpeak(an2.first) == ports.SpeaksOther {
		res.Speaks, res.Banner = "other", ports.Printable(an2.first)
		return res
	}
	if res.TimedOut {
		res.Speaks = "" // silence: neither protocol, nor anything else, said a word
		return res
	}
	res.Speaks = "other"
	return res
}

func noRejection(status int, body string) bool {
	reason, _ := ports.HostRejection(status, body)
	return reason == ""
}

func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// answer is what one HTTP request got: the response's status, Server header
// and the body's start, or the error and the first bytes the server sent
// instead of a response.
type answer struct {
	status int
	server string
	body   string
	first  []byte
	err    error
}

// httpGet sends one GET over a fresh connection to ap with the given Host
// header.
func httpGet(ctx context.Context, env *Env, ap netip.AddrPort, scheme string, u *url.URL, host string) answer {
	c, err := env.Dial(ctx, "tcp", ap.String())
	if err != nil {
		return answer{err: err}
	}
	defer c.Close()
	return exchange(ctx, c, scheme, u, host)
}

// exchange sends one GET over c and reads the answer. It speaks HTTP/1.1
// by hand (req.Write, http.ReadResponse) rather than through http.Transport,
// which logs to stderr when a server talks first (SSH, SMTP banners),
// retries, and follows nothing here anyway.
func exchange(ctx context.Context, c net.Conn, scheme string, u *url.URL, host string) answer {
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	rec := &ports.RecordConn{Conn: c}
	var conn net.Conn = rec
	if scheme == "https" {
		// The probe asks which protocol the port speaks, not whether its
		// certificate is trusted: a dev server's is usually self-signed.
		tc := tls.Client(rec, &tls.Config{InsecureSkipVerify: true, ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}) //nolint:gosec
		if err := tc.HandshakeContext(ctx); err != nil {
			return answer{err: err, first: rec.First()}
		}
		// Record what comes through the tunnel from here on.
		rec = &ports.RecordConn{Conn: tc}
		conn = rec
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return answer{err: err}
	}
	req.Host = host
	req.Close = true
	req.Header.Set("User-Agent", "homeport")
	if err := req.Write(conn); err != nil {
		return answer{err: err}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return answer{err: err, first: rec.First()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return answer{status: resp.StatusCode, server: resp.Header.Get("Server"), body: string(b)}
}

// hearFirst waits up to wait for a server to speak first, as SSH, SMTP,
// FTP and MySQL do, and returns what it said. No bytes and a nil error mean
// it waited in silence (for the client to speak); io.EOF that it closed.
func hearFirst(c net.Conn, wait time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(wait))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if n > 0 {
		return buf[:n], nil
	}
	if classifyDialError(err) == TimedOut {
		return nil, nil
	}
	return nil, err
}

// checkProtocol: cause 7, the port speaks TLS where http:// was used, plain
// HTTP where https:// was, or no HTTP at all.
func checkProtocol(f *facts) []Finding {
	h := f.http
	if h == nil || h.Speaks == strings.ToLower(f.target.URL.Scheme) {
		return nil
	}
	c := f.firstConnected()
	who := f.ownerOf(c.Addr.Addr())
	addr := sockets.FormatAddr(c.Addr)
	switch h.Speaks {
	case "https":
		u := *f.target.URL
		u.Scheme = "https"
		return []Finding{{ID: IDTLSMismatch, Severity: High, Addr: addr, PIDs: f.pidsAt(c.Addr.Addr()),
			Title:    fmt.Sprintf("%s speaks TLS (HTTPS), but the URL says http://", addr),
			Evidence: []string{fmt.Sprintf("%s on %s answered a TLS handshake; a plain HTTP request got: %s", who, addr, h.Error)},
			Fix:      fmt.Sprintf("use %s", u.String()),
		}}
	case "http":
		u := *f.target.URL
		u.Scheme = "http"
		return []Finding{{ID: IDPlainMismatch, Severity: High, Addr: addr, PIDs: f.pidsAt(c.Addr.Addr()),
			Title:    fmt.Sprintf("%s speaks plain HTTP, but the URL says https://", addr),
			Evidence: []string{fmt.Sprintf("the TLS handshake failed (%s); %s on %s answered plain HTTP", h.Error, who, addr)},
			Fix:      fmt.Sprintf("use %s, or put TLS in front of it", u.String()),
		}}
	case "other":
		ev := fmt.Sprintf("%s on %s closed the connection without answering the HTTP request", who, addr)
		switch {
		case h.Service != "":
			ev = fmt.Sprintf("%s on %s is %s, which has its own protocol (doctor sent it no HTTP request)", who, addr, h.Service)
		case h.Banner != "":
			ev = fmt.Sprintf("%s on %s answered an HTTP request with %q", who, addr, h.Banner)
		}
		return []Finding{{ID: IDNotHTTP, Severity: High, Addr: addr, PIDs: f.pidsAt(c.Addr.Addr()),
			Title:    fmt.Sprintf("%s does not speak HTTP", addr),
			Evidence: []string{ev},
			Fix:      fmt.Sprintf("this port is not a web server: check the port number (`homeport who %d`), or talk to it with its own client", c.Addr.Port()),
		}}
	case "":
		if l := f.coveringListener(c.Addr.Addr()); l != nil && f.stopped(l) {
			return nil // checkStopped says why
		}
		return []Finding{{ID: IDNoResponse, Severity: High, Addr: addr, PIDs: f.pidsAt(c.Addr.Addr()),
			Title:    fmt.Sprintf("%s accepts connections but does not answer", addr),
			Evidence: []string{fmt.Sprintf("%s on %s took the connection and sent no response: %s", who, addr, h.Error)},
			Fix:      fmt.Sprintf("the server is stuck or busy: look at %s's logs, or restart it (`homeport kill %d`)", who, c.Addr.Port()),
		}}
	}
	return nil
}

func (f *facts) pidsAt(a netip.Addr) []int {
	if s := f.coveringListener(a); s != nil {
		return ownerPIDs(s)
	}
	return nil
}

// checkHostHeader: cause 8, the server refuses the Host header (dev
// servers' allowedHosts) while it answers for localhost.
func checkHostHeader(f *facts) []Finding {
	h := f.http
	if h == nil || !h.HostRejected {
		return nil
	}
	c := f.firstConnected()
	who := f.ownerOf(c.Addr.Addr())
	u := *f.target.URL
	u.Host = "localhost:" + strconv.Itoa(int(f.target.Port))
	return []Finding{{ID: IDHostRejected, Severity: High, Addr: sockets.FormatAddr(c.Addr), PIDs: f.pidsAt(c.Addr.Addr()),
		Title: fmt.Sprintf("%s rejects the Host header %q (%s)", who, f.target.URL.Host, h.RejectReason),
		Evidence: []string{
			fmt.Sprintf("GET %s on %s with Host: %s got %s", f.target.URL.RequestURI(), sockets.FormatAddr(c.Addr), f.target.URL.Host, h.RejectReason),
			fmt.Sprintf("the same request with Host: localhost:%d got %d %s", f.target.Port, h.LocalhostStatus, http.StatusText(h.LocalhostStatus)),
		},
		Fix: fmt.Sprintf("allow the host in the dev server (Vite `server.allowedHosts`, webpack `devServer.allowedHosts`, Django `ALLOWED_HOSTS`, Rails `config.hosts`), or open %s", u.String()),
	}}
}

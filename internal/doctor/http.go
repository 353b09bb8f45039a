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
	"unicode"

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
	// HostRejected is true when the server refused the Host header but
	// answered a request for Host: localhost; LocalhostStatus is that
	// answer's status.
	HostRejected    bool   `json:"host_rejected,omitempty"`
	RejectReason    string `json:"reject_reason,omitempty"`
	LocalhostStatus int    `json:"localhost_status,omitempty"`
	TimedOut        bool   `json:"timed_out,omitempty"`
}

// probeHTTP requests t's URL from the address ap and, when that fails,
// finds out what the port speaks instead.
func probeHTTP(ctx context.Context, env *Env, t ports.Target, ap netip.AddrPort) *HTTPResult {
	u := *t.URL
	scheme := strings.ToLower(u.Scheme)
	res := &HTTPResult{URL: u.String(), Speaks: scheme}
	st, server, body, err := httpGet(ctx, env, ap, scheme, &u, u.Host)
	if err == nil && !(st == 400 && looksLikeSchemeComplaint(body)) {
		res.Status, res.Server = st, server
		if reason := hostRejection(st, body); reason != "" {
			lh := "localhost:" + strconv.Itoa(int(t.Port))
			if st2, _, body2, err2 := httpGet(ctx, env, ap, scheme, &u, lh); err2 == nil && hostRejection(st2, body2) == "" {
				res.HostRejected, res.RejectReason, res.LocalhostStatus = true, reason, st2
			}
		}
		return res
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			res.Error = ue.Err.Error()
		} else {
			res.Error = err.Error()
		}
		if isTimeout(err) {
			res.TimedOut = true
		}
	} else {
		res.Status = st
		res.Error = strings.TrimSpace(firstLine(body))
	}
	other := "https"
	if scheme == "https" {
		other = "http"
	}
	if st, _, _, err := httpGet(ctx, env, ap, other, &u, u.Host); err == nil && st > 0 {
		res.Speaks = other
		return res
	}
	if res.TimedOut {
		res.Speaks = "" // silence: neither protocol, nor anything else, said a word
		return res
	}
	res.Speaks = "other"
	res.Banner = banner(ctx, env, ap)
	return res
}

// httpGet sends one GET over a fresh connection to ap with the given Host
// header and returns the status, the Server header and the body's start.
// It speaks HTTP/1.1 by hand rather than through http.Transport, which logs
// to stderr when a server talks first (SSH, SMTP banners) and retries.
func httpGet(ctx context.Context, env *Env, ap netip.AddrPort, scheme string, u *url.URL, host string) (int, string, string, error) {
	c, err := env.Dial(ctx, "tcp", ap.String())
	if err != nil {
		return 0, "", "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if scheme == "https" {
		// The probe asks which protocol the port speaks, not whether its
		// certificate is trusted: a dev server's is usually self-signed.
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}) //nolint:gosec
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, "", "", err
		}
		c = tc
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, "", "", err
	}
	req.Host = host
	req.Close = true
	req.Header.Set("User-Agent", "homeport-doctor")
	if err := req.Write(c); err != nil {
		return 0, "", "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, resp.Header.Get("Server"), string(b), nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// looksLikeSchemeComplaint recognises a TLS server's answer to plain HTTP
// (Go: "Client sent an HTTP request to an HTTPS server", nginx: "The plain
// HTTP request was sent to HTTPS port").
func looksLikeSchemeComplaint(body string) bool {
	b := strings.ToLower(body)
	return strings.Contains(b, "http request to an https server") || strings.Contains(b, "plain http request was sent to https")
}

// hostRejection recognises dev servers refusing a Host header: webpack-dev-
// server's "Invalid Host header", Vite's "Blocked request. This host (...)
// is not allowed", Django's DisallowedHost, a bare 403 or 421.
func hostRejection(status int, body string) string {
	b := strings.ToLower(body)
	for _, s := range []string{"invalid host header", "blocked request", "disallowedhost", "invalid http_host header", "host not allowed", "blocked host"} {
		if strings.Contains(b, s) {
			return fmt.Sprintf("%d %s, %q", status, http.StatusText(status), strings.TrimSpace(firstLine(body)))
		}
	}
	if status == http.StatusForbidden || status == http.StatusMisdirectedRequest {
		return fmt.Sprintf("%d %s", status, http.StatusText(status))
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// banner reads what a server says first (SSH, SMTP, Redis errors ...), or
// answers to a blank line, for the "not HTTP" finding.
func banner(ctx context.Context, env *Env, ap netip.AddrPort) string {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	c, err := env.Dial(ctx, "tcp", ap.String())
	if err != nil {
		return ""
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	buf := make([]byte, 64)
	n, _ := bufio.NewReader(c).Read(buf)
	return printable(buf[:n])
}

func printable(b []byte) string {
	var sb strings.Builder
	for _, r := range string(b) {
		switch {
		case r == '\r' || r == '\n':
			sb.WriteString(" ")
		case unicode.IsPrint(r) && r < unicode.MaxASCII:
			sb.WriteRune(r)
		default:
			fmt.Fprintf(&sb, "\\x%02x", r&0xff)
		}
	}
	return strings.TrimSpace(sb.String())
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
		said := "it sent nothing and closed the connection, or answered with bytes that are not HTTP"
		if h.Banner != "" {
			said = fmt.Sprintf("it said %q", h.Banner)
		}
		return []Finding{{ID: IDNotHTTP, Severity: High, Addr: addr, PIDs: f.pidsAt(c.Addr.Addr()),
			Title:    fmt.Sprintf("%s does not speak HTTP", addr),
			Evidence: []string{fmt.Sprintf("%s on %s did not answer an HTTP request (%s); %s", who, addr, h.Error, said)},
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

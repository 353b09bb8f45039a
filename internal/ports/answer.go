package ports

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
)

// What a server's first bytes say it speaks. wait, doctor and audit read
// them to tell at once, without a timeout, that a port is not the web server
// the URL says it is.
const (
	SpeaksHTTP  = "http"
	SpeaksTLS   = "https"
	SpeaksOther = "other"
)

// FirstBytesSpeak tells what protocol a server's first bytes belong to:
// an HTTP response ("HTTP/"), a TLS record (handshake 0x16 or alert 0x15,
// then major version 3: what a TLS server sends back to a plain HTTP
// request), or something else (SSH, SMTP and Redis banners, binary
// database protocols). It returns "" for no bytes.
func FirstBytesSpeak(b []byte) string {
	switch {
	case len(b) == 0:
		return ""
	case len(b) >= 2 && (b[0] == 0x15 || b[0] == 0x16) && b[1] == 0x03, len(b) == 1 && (b[0] == 0x15 || b[0] == 0x16):
		return SpeaksTLS
	case bytes.HasPrefix(b, []byte("HTTP/")) || len(b) < 5 && bytes.HasPrefix([]byte("HTTP/"), b):
		return SpeaksHTTP
	}
	return SpeaksOther
}

// SchemeComplaint recognises a TLS server's answer to plain HTTP (Go:
// "Client sent an HTTP request to an HTTPS server", nginx: "The plain HTTP
// request was sent to HTTPS port").
func SchemeComplaint(status int, body string) bool {
	b := strings.ToLower(body)
	return status == http.StatusBadRequest &&
		(strings.Contains(b, "http request to an https server") || strings.Contains(b, "plain http request was sent to https"))
}

// HostRejection recognises dev servers refusing a Host header: webpack-dev-
// server's "Invalid Host header", Vite's "Blocked request. This host (...)
// is not allowed", Django's DisallowedHost, a bare 403 or 421. It returns
// the status and the body's first line, or "" when the answer is no
// rejection; said is true when the body says so, false for a bare status
// (which may be a Host check or any other refusal: ask again for
// localhost to tell).
func HostRejection(status int, body string) (reason string, said bool) {
	b := strings.ToLower(body)
	for _, s := range []string{"invalid host header", "blocked request", "disallowedhost", "invalid http_host header", "host not allowed", "blocked host"} {
		if strings.Contains(b, s) {
			return fmt.Sprintf("%d %s, %q", status, http.StatusText(status), strings.TrimSpace(FirstLine(body))), true
		}
	}
	if status == http.StatusForbidden || status == http.StatusMisdirectedRequest {
		return fmt.Sprintf("%d %s", status, http.StatusText(status)), false
	}
	return "", false
}

// Printable shows a server's first bytes: ASCII as it is, line ends as
// spaces, the rest as \x escapes.
func Printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '\r' || c == '\n':
			sb.WriteByte(' ')
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	return strings.TrimSpace(sb.String())
}

// FirstLine returns the first line of s, at most 120 bytes of it.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// RecordConn keeps the first bytes a server sends on a connection, so that
// when an HTTP or TLS client fails to read them, the caller can still tell
// what the server said.
type RecordConn struct {
	net.Conn
	mu    sync.Mutex
	first []byte
}

// recordLimit is how much of a server's first words RecordConn keeps:
// enough for a banner line.
const recordLimit = 64

func (c *RecordConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if len(c.first) < recordLimit {
			c.first = append(c.first, p[:min(n, recordLimit-len(c.first))]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

// First returns the first bytes read so far.
func (c *RecordConn) First() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.first)
}

package serve

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// answers sends raw on a new connection, half-closes it, and reads every
// response until the server closes: their statuses and bodies.
func answers(t *testing.T, addr, raw string) (codes []int, bodies string) {
	t.Helper()
	c := send(t, addr, raw)
	c.(*net.TCPConn).CloseWrite()
	br := bufio.NewReader(c)
	for {
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes, bodies
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		codes = append(codes, r.StatusCode)
		bodies += string(b)
	}
}

// TestRequestsHiddenInBodies: a request inside another's body (the
// desyncs of request smuggling) never gets an answer of its own, on
// either path, and /.env is never served.
func TestRequestsHiddenInBodies(t *testing.T) {
	ts := start(t, Options{Dir: tree(t, map[string]string{"a.txt": "hello", ".env": "SECRET=hunter2"})})
	hidden := "GET /.env HTTP/1.1\r\nHost: localhost\r\n\r\n"
	chunk := strconv.FormatInt(int64(len(hidden)), 16) + "\r\n" + hidden + "\r\n0\r\n\r\n"
	head := "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n"
	tests := []struct{ name, raw string }{
		{"CL covers it", head + "Content-Length: " + strconv.Itoa(len(hidden)) + "\r\n\r\n" + hidden},
		{"CL+TE, chunk covers it", head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk},
		{"TE+CL, CL covers it", head + "Transfer-Encoding: chunked\r\nContent-Length: " + strconv.Itoa(len("0\r\n\r\n"+hidden)) + "\r\n\r\n0\r\n\r\n" + hidden},
		{"CL: 0 and CL: n", head + "Content-Length: 0\r\nContent-Length: " + strconv.Itoa(len(hidden)) + "\r\n\r\n" + hidden},
		{"CL: 0, n", head + "Content-Length: 0, " + strconv.Itoa(len(hidden)) + "\r\n\r\n" + hidden},
		{"CL: 0 with TE", head + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk},
		{"TE: chunked, identity", head + "Transfer-Encoding: chunked, identity\r\nContent-Length: " + strconv.Itoa(len(chunk)) + "\r\n\r\n" + chunk},
		{"TE: identity", head + "Transfer-Encoding: identity\r\nContent-Length: " + strconv.Itoa(len(hidden)) + "\r\n\r\n" + hidden},
		{"two TE", head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n" + chunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			codes, bodies := answers(t, ts.Addr, tt.raw)
			if len(codes) != 1 || strings.Contains(bodies, "hunter2") {
				t.Errorf("%q: answers %v, bodies %q; want exactly one answer and no .env", tt.raw, codes, bodies)
			}
		})
	}
}

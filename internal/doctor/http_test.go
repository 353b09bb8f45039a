package doctor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// selfName is this test binary's process name, as the inventory shows it.
var selfName = func() string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		return filepath.Base(os.Args[0])
	}
	return strings.TrimSpace(string(b))
}()

func selfProc() string { return fmt.Sprintf("%s (pid %d)", selfName, os.Getpid()) }

// These run the real Env against real servers on 127.0.0.1.
func TestDiagnoseHTTPLive(t *testing.T) {
	hostCheck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Host, "localhost:") {
			http.Error(w, "Invalid Host header", http.StatusForbidden)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer hostCheck.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer plain.Close()
	ssh := bannerServer(t, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
	// A stand-in for Python's http.server, which answers a TLS hello as an
	// HTTP/0.9 request (an HTML page, no status line) and plain HTTP as
	// HTTP.
	python := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer python.Close()
	pythonTLS := htmlOnTLSHello(t, python.Listener.Addr().String())

	port := func(u string) string { return u[strings.LastIndexByte(u, ':')+1:] }
	tests := []struct {
		name   string
		target string
		wantID string
		fix    string
		names  []string
	}{
		{"healthy", plain.URL + "/x", "", "", nil},
		{"cause 7: TLS port with http://", "http://127.0.0.1:" + port(tlsSrv.URL) + "/", IDTLSMismatch, "https://127.0.0.1:" + port(tlsSrv.URL) + "/",
			[]string{selfProc(), "127.0.0.1:" + port(tlsSrv.URL)}},
		{"cause 7: plain port with https://", "https://127.0.0.1:" + port(plain.URL) + "/", IDPlainMismatch, "http://127.0.0.1:" + port(plain.URL) + "/",
			[]string{selfProc(), "127.0.0.1:" + port(plain.URL)}},
		{"cause 7: plain port that answers TLS with HTML, https://", "https://127.0.0.1:" + pythonTLS + "/", IDPlainMismatch, "http://127.0.0.1:" + pythonTLS + "/",
			[]string{"127.0.0.1:" + pythonTLS}},
		{"cause 7: not HTTP at all", "http://127.0.0.1:" + ssh + "/", IDNotHTTP, "homeport who " + ssh,
			[]string{selfProc(), "127.0.0.1:" + ssh, "SSH-2.0-OpenSSH"}},
		{"cause 8: Host header rejected", "http://127.0.0.1:" + port(hostCheck.URL) + "/", IDHostRejected, "allowedHosts",
			[]string{selfProc(), "127.0.0.1:" + port(hostCheck.URL), "Invalid Host header", "403"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, _ := Diagnose(context.Background(), System(), mustTarget(t, tt.target), &Options{Timeout: 10 * time.Second})
			if tt.wantID == "" {
				if !rep.OK {
					t.Fatalf("Diagnose(%q) findings %v; want healthy", tt.target, ids(rep))
				}
				return
			}
			f := findingByID(rep, tt.wantID)
			if f == nil {
				t.Fatalf("Diagnose(%q) findings = %v (http %+v); want %s", tt.target, ids(rep), rep.HTTP, tt.wantID)
			}
			checkNames(t, f, tt.fix, tt.names...)
		})
	}
}

// serveConns accepts connections on 127.0.0.1 and runs handle on each, in a
// goroutine of its own, until the test ends; it then closes the listener and
// the connections and waits for the handlers. It returns the port.
func serveConns(t *testing.T, handle func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				handle(c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// bannerServer sends banner on each connection and closes it; it returns
// its port.
func bannerServer(t *testing.T, banner string) string {
	return strconv.Itoa(serveConns(t, func(c net.Conn) { c.Write([]byte(banner)) }))
}

// talkFirstServer is a stand-in for servers that speak first (SSH, SMTP,
// MySQL): it sends banner on accept, then reports on heard how many bytes
// the client sent before closing. It returns its port.
func talkFirstServer(t *testing.T, banner string, heard chan<- int) int {
	return serveConns(t, func(c net.Conn) {
		c.Write([]byte(banner))
		n, _ := io.Copy(io.Discard, c)
		heard <- int(n)
	})
}

// silentServer takes connections and never says a word, as a server
// waiting for a binary protocol's next bytes does. It returns its port.
func silentServer(t *testing.T) int {
	return serveConns(t, func(c net.Conn) { io.Copy(io.Discard, c) })
}

// redisLike is a stand-in for a line-based server that is not HTTP: it
// answers each line with an error, closes on "Host:", and waits in silence
// for a line end that a TLS hello never sends; it counts connections. Real
// Redis (TestDiagnoseRedisNotHTTPLive) closes at "Host:" without a word,
// and doctor does not send it a request at all.
func redisLike(t *testing.T) (int, *atomic.Int32) {
	var n atomic.Int32
	port := serveConns(t, func(c net.Conn) {
		n.Add(1)
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil || strings.HasPrefix(strings.ToLower(line), "host:") {
				return
			}
			c.Write([]byte("-ERR unknown command\r\n"))
		}
	})
	return port, &n
}

// A server that answers an HTTP request with bytes that are not HTTP is
// known from that answer: doctor does not go on to try TLS, which such a
// server meets with silence until the timeout.
func TestDiagnoseNotHTTPAtOnce(t *testing.T) {
	port, conns := redisLike(t)
	target := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	rep, _ := Diagnose(context.Background(), System(), mustTarget(t, target), &Options{Timeout: 30 * time.Second})
	f := findingByID(rep, IDNotHTTP)
	if f == nil {
		t.Fatalf("doctor %s findings = %v; want %s", target, ids(rep), IDNotHTTP)
	}
	checkNames(t, f, "homeport who", "-ERR unknown command")
	// One connection to check it takes connections, one for the request.
	if n := conns.Load(); n != 2 {
		t.Errorf("doctor made %d connections to a server that answered non-HTTP; want 2 (the dial, the request)", n)
	}
}

// htmlOnTLSHello is a server that answers a TLS hello (first byte 0x16)
// with an HTML page and no status line, as Python's http.server does, and
// hands plain HTTP to the server at plain. It returns its port.
func htmlOnTLSHello(t *testing.T, plain string) string {
	return strconv.Itoa(serveConns(t, func(c net.Conn) {
		b := make([]byte, 4096)
		n, _ := c.Read(b)
		if n > 0 && b[0] == 0x16 {
			c.Write([]byte("<!DOCTYPE HTML>\n<html><body>Bad request version</body></html>\n"))
			return
		}
		up, err := net.Dial("tcp", plain)
		if err != nil {
			return
		}
		defer up.Close()
		up.Write(b[:n])
		io.Copy(c, up)
	}))
}

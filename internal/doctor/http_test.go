package doctor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
		{"cause 7: not HTTP at all", "http://127.0.0.1:" + ssh + "/", IDNotHTTP, "homeport who " + ssh,
			[]string{selfProc(), "127.0.0.1:" + ssh, "SSH-2.0-OpenSSH"}},
		{"cause 8: Host header rejected", "http://127.0.0.1:" + port(hostCheck.URL) + "/", IDHostRejected, "allowedHosts",
			[]string{selfProc(), "127.0.0.1:" + port(hostCheck.URL), "Invalid Host header", "403"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Diagnose(context.Background(), System(), mustTarget(t, tt.target), &Options{Timeout: 10 * time.Second})
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

// bannerServer accepts connections, sends banner and closes; it returns its
// port.
func bannerServer(t *testing.T, banner string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(banner))
			c.Close()
		}
	}()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

func TestHostRejection(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   bool
	}{
		{403, "Invalid Host header", true},
		{200, `Blocked request. This host ("x.test") is not allowed.`, true},
		{400, "DisallowedHost at /", true},
		{421, "", true},
		{200, "hello", false},
		{404, "not found", false},
	}
	for _, tt := range tests {
		if got := hostRejection(tt.status, tt.body) != ""; got != tt.want {
			t.Errorf("hostRejection(%d, %q) = %v; want %v", tt.status, tt.body, got, tt.want)
		}
	}
}

package cli

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeport/internal/ports"
)

func waitOpts(t *testing.T, io *IO, timeout time.Duration, targets ...string) *WaitOptions {
	t.Helper()
	opts := &WaitOptions{IO: io, Timeout: timeout, Status: ports.DefaultStatus}
	for _, s := range targets {
		tg, err := ports.ParseTarget(s)
		if err != nil {
			t.Fatal(err)
		}
		opts.Targets = append(opts.Targets, tg)
	}
	return opts
}

func TestWaitRunsCommandWithItsExitCode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := portStr(uint16(ln.Addr().(*net.TCPAddr).Port))
	io, out, errb := testIO("")
	if got := Main([]string{"wait", "127.0.0.1:" + p, "--", "sh", "-c", "echo ran; exit 7"}, io); got != 7 {
		t.Fatalf("wait -- sh -c 'exit 7': exit %d; want 7 (stderr %q)", got, errb)
	}
	if out.String() != "ran\n" {
		t.Errorf("command output %q; want %q", out, "ran\n")
	}
	if errb.String() != "" {
		t.Errorf("stderr %q; want nothing when not a terminal", errb)
	}
}

func TestWaitTimeoutExit1(t *testing.T) {
	p := portStr(freePort(t))
	io, _, errb := testIO("")
	opts := waitOpts(t, io, 200*time.Millisecond, p)
	opts.Command = []string{"sh", "-c", "echo must not run; exit 9"}
	err := waitRun(context.Background(), opts)
	if got := exitCodeOf(err); got != 1 {
		t.Fatalf("wait on a dead port: exit %d (%v); want 1", got, err)
	}
	if !strings.Contains(errb.String(), "homeport: "+p+": refused") {
		t.Errorf("stderr %q does not say what the target last saw", errb)
	}
	if !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Errorf("error %q", err)
	}
}

func TestWaitCommandNotFound(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	io, _, _ := testIO("")
	opts := waitOpts(t, io, 10*time.Second, ln.Addr().String())
	opts.Command = []string{"homeport-no-such-command-xyz"}
	if got := exitCodeOf(waitRun(context.Background(), opts)); got != 127 {
		t.Fatalf("wait -- missing command: exit %d; want 127", got)
	}
}

// TestWaitSpinnerOnlyOnTerminal: the spinner draws on a terminal's stderr
// while a target is pending; into a pipe, stderr gets only the final report.
func TestWaitSpinnerOnlyOnTerminal(t *testing.T) {
	t.Run("pipe", func(t *testing.T) {
		p := portStr(freePort(t))
		io, out, errb := testIO("")
		// 400ms pending: four spinner ticks, were there a spinner.
		if got := exitCodeOf(waitRun(context.Background(), waitOpts(t, io, 400*time.Millisecond, p))); got != 1 {
			t.Fatalf("exit %d; want 1", got)
		}
		if want := "homeport: " + p + ": refused\n"; errb.String() != want || out.String() != "" {
			t.Errorf("into a pipe: stderr %q, stdout %q; want only %q", errb, out, want)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		p := freePort(t)
		io, out, errb := testIO("")
		io.ErrTTY = true
		done := make(chan error, 1)
		go func() { done <- waitRun(context.Background(), waitOpts(t, io, 30*time.Second, portStr(p))) }()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(errb.String(), "waiting for "+portStr(p)+" (refused)") {
			if time.Now().After(deadline) {
				t.Fatalf("no spinner line on a terminal: %q", errb)
			}
			time.Sleep(5 * time.Millisecond)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+portStr(p))
		if err != nil {
			t.Skipf("port %d taken meanwhile: %v", p, err)
		}
		defer ln.Close()
		if err := <-done; err != nil {
			t.Fatalf("wait = %v", err)
		}
		if out.String() != "" {
			t.Errorf("stdout %q; want nothing", out)
		}
		if !strings.Contains(errb.String(), "is ready") || !strings.Contains(errb.String(), "\r\x1b[K") {
			t.Errorf("terminal stderr %q lacks the cleared spinner and the ready line", errb)
		}
	})
}

func TestWaitUntilFreeCLI(t *testing.T) {
	p := portStr(freePort(t))
	ln, err := net.Listen("tcp", "127.0.0.1:"+p)
	if err != nil {
		t.Fatal(err)
	}
	io, _, errb := testIO("")
	opts := waitOpts(t, io, 150*time.Millisecond, p)
	opts.UntilFree = true
	if got := exitCodeOf(waitRun(context.Background(), opts)); got != 1 {
		t.Fatalf("wait --until-free on an open port: exit %d; want 1", got)
	}
	if !strings.Contains(errb.String(), "still answering") {
		t.Errorf("stderr %q", errb)
	}
	ln.Close()
	opts.Timeout = 20 * time.Second
	if err := waitRun(context.Background(), opts); err != nil {
		t.Fatalf("wait --until-free on a closed port = %v", err)
	}
}

// TestWaitExecsInPlace runs the real command line in a process of its own:
// with its own standard streams, homeport replaces itself with the command
// (same pid, like exec "$@" in wait-for-it.sh), whose exit status is then
// the process's.
func TestWaitExecsInPlace(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	args := strings.Join([]string{"wait", ln.Addr().String(), "--", "sh", "-c", "echo $$; exit 7"}, "\x1f")
	cmd := newHelperCmd("main", args)
	var out strings.Builder
	cmd.Stdout = &out
	err = cmd.Run()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 7 {
		t.Fatalf("homeport wait -- sh -c 'exit 7' ended with %v; want exit 7", err)
	}
	if got, want := strings.TrimSpace(out.String()), strconv.Itoa(cmd.Process.Pid); got != want {
		t.Errorf("the command ran as pid %s; want homeport's own pid %s (exec in place)", got, want)
	}
}

// Each cause that waiting cannot fix gets its own hint, not "wait longer".
func TestWaitHint(t *testing.T) {
	target := func(s string) ports.Target {
		tg, err := ports.ParseTarget(s)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	tests := []struct {
		name   string
		target string
		seen   ports.Seen
		want   string
	}{
		{"TLS on http://", "http://127.0.0.1:8443/health", ports.Seen{Kind: ports.TLSOnHTTP}, "wait for https://127.0.0.1:8443/health"},
		{"plain on https://", "https://localhost:3000/", ports.Seen{Kind: ports.PlainOnHTTPS}, "wait for http://localhost:3000/"},
		{"not HTTP", "http://127.0.0.1:6379/", ports.Seen{Kind: ports.NotHTTP, Detail: "-ERR"}, "homeport wait 127.0.0.1:6379"},
		{"Host check", "http://myapp.test:5173/", ports.Seen{Kind: ports.HostRejected, Status: 403}, "wait for http://localhost:5173/"},
		{"other family", "127.0.0.1:3000", ports.Seen{Kind: ports.OtherFamily, Detail: "[::1]:3000"}, "wait for localhost:3000"},
		{"closed", "http://127.0.0.1:6379/", ports.Seen{Kind: ports.Closed}, "homeport doctor http://127.0.0.1:6379/"},
		{"self-signed", "https://localhost:8443/", ports.Seen{Kind: ports.TLSError, Detail: "x509: certificate signed by unknown authority"}, "--insecure"},
		{"status", "http://localhost:3000/", ports.Seen{Kind: ports.Status, Status: 503}, "--status 503"},
		{"refused on localhost", "localhost:3000", ports.Seen{Kind: ports.Refused}, "homeport ports"},
		{"timed out", "198.51.100.7:22", ports.Seen{Kind: ports.TimedOut}, "wait longer with --timeout 2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := waitHint(&WaitOptions{Timeout: time.Second}, []ports.Result{{Target: target(tt.target), Seen: tt.seen}})
			if !strings.Contains(got, tt.want) {
				t.Errorf("waitHint(%s, %v) = %q; want it to contain %q", tt.target, tt.seen, got, tt.want)
			}
			if tt.seen.Kind != ports.TimedOut && tt.seen.Kind != ports.Refused && strings.Contains(got, "wait longer") {
				t.Errorf("waitHint(%s, %v) = %q; waiting longer does not fix it", tt.target, tt.seen, got)
			}
		})
	}
}

// The real command against Go's TLS server with an http:// URL: exit 1 and
// the hint names the https:// URL.
func TestWaitTLSOnHTTPHintLive(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	tio, _, errb := testIO("")
	err := waitRun(context.Background(), waitOpts(t, tio, 500*time.Millisecond, "http://127.0.0.1:"+port+"/"))
	if code := exitCodeOf(err); code != 1 {
		t.Fatalf("exit %d; want 1", code)
	}
	var ee *ExitError
	if !errors.As(err, &ee) || !strings.Contains(ee.Hint, "https://127.0.0.1:"+port+"/") {
		t.Errorf("wait http:// on a TLS port: error %v; want a hint naming https://127.0.0.1:%s/ (stderr %q)", err, port, errb)
	}
}

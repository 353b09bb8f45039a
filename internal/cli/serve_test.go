package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"homeport/internal/sockets"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func serveTestFactory() (*Factory, *lockedBuffer, *lockedBuffer) {
	out, errb := &lockedBuffer{}, &lockedBuffer{}
	return &Factory{IO: &IO{In: strings.NewReader(""), Out: out, Err: errb}, Take: sockets.Take}, out, errb
}

func TestServeFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" means accepted
		check   func(*ServeOptions) bool
	}{
		{"defaults", []string{dir}, "", func(o *ServeOptions) bool {
			return o.Port == 62893 && len(o.Hosts) == 0 && !o.LAN && !o.Live && !o.SPA && o.CORS == "" && o.Dir == dir
		}},
		{"current folder", nil, "", func(o *ServeOptions) bool { return o.Dir == "." }},
		{"all flags", []string{dir, "-p", "0", "--host", "::1", "--spa", "--live", "--dotfiles", "--cors", "http://localhost:5173", "--auth", "a:b", "--strict-port"}, "", func(o *ServeOptions) bool {
			return o.Port == 0 && o.Hosts[0] == "::1" && o.SPA && o.Live && o.Dotfiles && o.CORS == "http://localhost:5173" && o.Auth == "a:b" && o.StrictPort
		}},
		{"lan with auth", []string{dir, "--lan", "--auth", "me:pw"}, "", nil},
		{"lan with no-auth", []string{dir, "--lan", "--no-auth"}, "", nil},
		{"host localhost", []string{dir, "--host", "localhost"}, "", nil},
		{"allow hosts", []string{dir, "--allow-host", "myapp.test", "--allow-host", "box.lan:8080"}, "", func(o *ServeOptions) bool {
			return len(o.AllowHosts) == 2 && o.AllowHosts[0] == "myapp.test" && o.AllowHosts[1] == "box.lan:8080"
		}},
		{"allow host not a name", []string{dir, "--allow-host", "a b"}, "not a host name", nil},
		{"allow host wildcard", []string{dir, "--allow-host", "*.test"}, "not a host name", nil},
		{"allow host empty", []string{dir, "--allow-host", ""}, "not a host name", nil},
		{"lan without auth", []string{dir, "--lan"}, "needs --auth", nil},
		{"host beyond loopback", []string{dir, "--host", "0.0.0.0"}, "not a loopback address", nil},
		{"host lan address", []string{dir, "--host", "192.168.1.2"}, "not a loopback address", nil},
		{"bad auth", []string{dir, "--auth", "nopass"}, "user:password", nil},
		{"auth and no-auth", []string{dir, "--auth", "a:b", "--no-auth"}, "contradict", nil},
		{"bad port", []string{dir, "--port", "70000"}, "not a port", nil},
		{"missing folder", []string{filepath.Join(dir, "nope")}, "no such file", nil},
		{"a file", []string{file}, "is a file", nil},
		{"two folders", []string{dir, dir}, "one folder", nil},
	}
	t.Setenv("HOMEPORT_AUTH", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _ := serveTestFactory()
			var got *ServeOptions
			cmd := NewCmdServe(f, func(o *ServeOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tt.wantErr != "" {
				var ee *ExitError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &ee) || ee.Code != exitUsage {
					t.Fatalf("serve %q = %v; want usage error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("serve %q = %v", tt.args, err)
			}
			if tt.check != nil && !tt.check(got) {
				t.Errorf("serve %q parsed as %+v", tt.args, got)
			}
		})
	}
}

func TestServeAuthFromEnv(t *testing.T) {
	t.Setenv("HOMEPORT_AUTH", "env:secret")
	f, _, _ := serveTestFactory()
	var got *ServeOptions
	cmd := NewCmdServe(f, func(o *ServeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{t.TempDir(), "--lan"})
	if err := cmd.Execute(); err != nil || got.Auth != "env:secret" {
		t.Fatalf("serve --lan with HOMEPORT_AUTH = %v, auth %q; want accepted with env:secret", err, got.Auth)
	}
	cmd = NewCmdServe(f, func(o *ServeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{t.TempDir(), "--auth", "flag:pw"})
	if err := cmd.Execute(); err != nil || got.Auth != "flag:pw" {
		t.Fatalf("--auth with HOMEPORT_AUTH set = %v, %q; want the flag to win", err, got.Auth)
	}
}

// runServe runs serveRun until stop is called, and returns the URLs it
// printed when ready.
func runServe(t *testing.T, opts *ServeOptions) (urls []string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan []string, 1)
	opts.Ready = func(u []string) { ready <- u }
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	done := make(chan error, 1)
	go func() { done <- serveRun(ctx, opts) }()
	select {
	case urls = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serveRun ended before serving: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serveRun not ready after 30s")
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("serveRun did not return 30s after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return urls, stop
}

func httpGet(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if host != "" {
		req.Host = host
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeRun(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>hello</h1>"), 0o644)
	f, out, errb := serveTestFactory()
	opts := &ServeOptions{IO: f.IO, Factory: f, Dir: dir, Port: 0, Live: true}
	urls, stop := runServe(t, opts)
	if len(urls) < 2 || !strings.HasPrefix(urls[0], "http://localhost:") || urls[1] != "http://127.0.0.1:"+strings.TrimPrefix(urls[0], "http://localhost:") {
		t.Fatalf("URLs = %q; want localhost first, then 127.0.0.1 on the same port", urls)
	}
	for _, u := range urls {
		if code, body := httpGet(t, u, ""); code != 200 || !strings.Contains(body, "<h1>hello</h1>") || !strings.Contains(body, "live reload") {
			t.Errorf("GET %s = %d %q", u, code, body)
		}
	}
	if code, _ := httpGet(t, urls[1], "rebind.example"); code != 403 {
		t.Errorf("GET with Host rebind.example = %d; want 403", code)
	}
	if err := stop(); err != nil {
		t.Fatalf("serveRun after cancel = %v; want nil (exit 0)", err)
	}
	if got := out.String(); !strings.HasPrefix(got, urls[0]+"\n") {
		t.Errorf("stdout = %q; want the URLs", got)
	}
	for _, want := range []string{"serving " + dir + " (live reload) on", "GET / 200 ", "shutting down"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestServeAllowHost: a Host named with --allow-host is answered, with or
// without a port and in any case, and any other name still gets 403.
func TestServeAllowHost(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>hello</h1>"), 0o644)
	f, _, errb := serveTestFactory()
	urls, _ := runServe(t, &ServeOptions{IO: f.IO, Factory: f, Dir: dir, Port: 0, Hosts: []string{"127.0.0.1"}, AllowHosts: []string{"myapp.test", "Box.LAN"}})
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"myapp.test", "index.html", 200},
		{"myapp.test:8080", "", 200},
		{"box.lan", "index.html", 200},
		{"other.test", "index.html", 403},
		{"myapp.test.evil", "", 403},
	} {
		if code, _ := httpGet(t, urls[0]+tc.path, tc.host); code != tc.want {
			t.Errorf("GET /%s with Host %s = %d; want %d", tc.path, tc.host, code, tc.want)
		}
	}
	if !strings.Contains(errb.String(), "also answering Host myapp.test, Box.LAN") {
		t.Errorf("stderr does not name the allowed hosts:\n%s", errb)
	}
}

// holdPort listens on 127.0.0.1, as another program would, and returns the
// port.
func holdPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func TestServePortTaken(t *testing.T) {
	if _, err := sockets.Take(context.Background(), sockets.Filter{Port: 1}); err != nil {
		t.Skipf("socket inventory unavailable: %v", err)
	}
	port := holdPort(t)
	dir := t.TempDir()
	self := fmt.Sprintf("(pid %d)", os.Getpid())

	f, _, errb := serveTestFactory()
	urls, stop := runServe(t, &ServeOptions{IO: f.IO, Factory: f, Dir: dir, Port: port, Hosts: []string{"127.0.0.1"}})
	moved, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(urls[0], "http://localhost:"), "/"))
	if moved <= port {
		t.Errorf("serve on taken port %d listens on %d; want a later port", port, moved)
	}
	msg := fmt.Sprintf("port %d is held by ", port)
	if got := errb.String(); !strings.Contains(got, msg) || !strings.Contains(got, self) || !strings.Contains(got, "trying "+strconv.Itoa(port+1)) {
		t.Errorf("stderr = %q; want %q naming this process %s", got, msg, self)
	}
	if code, _ := httpGet(t, urls[0], ""); code != 404 && code != 200 {
		t.Errorf("GET %s = %d", urls[0], code)
	}
	stop()

	f, _, _ = serveTestFactory()
	err := serveRun(context.Background(), &ServeOptions{IO: f.IO, Factory: f, Dir: dir, Port: port, Hosts: []string{"127.0.0.1"}, StrictPort: true})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != exitFailure || !strings.Contains(ee.Msg, msg) || !strings.Contains(ee.Msg, self) || !strings.Contains(ee.Hint, "homeport kill "+strconv.Itoa(port)) {
		t.Errorf("serve --strict-port on a taken port = %#v; want exit 1 naming the holder", err)
	}

	// When the inventory cannot say, the port is just taken.
	f.Take = func(context.Context, sockets.Filter) (*sockets.Snapshot, error) { return nil, sockets.ErrNotSupported }
	err = serveRun(context.Background(), &ServeOptions{IO: f.IO, Factory: f, Dir: dir, Port: port, Hosts: []string{"127.0.0.1"}, StrictPort: true})
	if !errors.As(err, &ee) || ee.Msg != fmt.Sprintf("port %d is taken", port) {
		t.Errorf("serve --strict-port without inventory = %v; want \"port %d is taken\"", err, port)
	}
}

func TestServeLAN(t *testing.T) {
	// A second loopback address stands in for the LAN address: a real
	// listener, a real client, no traffic off the machine.
	lan := netip.MustParseAddr("127.0.0.7")
	if ln, err := net.Listen("tcp", "127.0.0.7:0"); err != nil {
		t.Skipf("127.0.0.7 unavailable: %v", err)
	} else {
		ln.Close()
	}
	f, out, errb := serveTestFactory()
	opts := &ServeOptions{IO: f.IO, Factory: f, Dir: t.TempDir(), Port: 0, Hosts: []string{"127.0.0.1"}, LAN: true, Auth: "me:pw",
		LANAddr: func() (netip.Addr, string, error) { return lan, "eth0", nil }}
	urls, stop := runServe(t, opts)
	port := strings.TrimSuffix(strings.TrimPrefix(urls[0], "http://localhost:"), "/")
	lanURL := "http://127.0.0.7:" + port + "/"
	if strings.Count(out.String(), lanURL) != 1 {
		t.Errorf("stdout = %q; want the LAN URL %s once", out.String(), lanURL)
	}
	if e := errb.String(); !strings.Contains(e, "reachable by anyone on your network") || !strings.Contains(e, "█") {
		t.Errorf("stderr lacks the warning or the QR code:\n%s", e)
	}
	if code, _ := httpGet(t, lanURL, ""); code != 401 {
		t.Errorf("GET %s without auth = %d; want 401", lanURL, code)
	}
	req, _ := http.NewRequest("GET", lanURL, nil)
	req.SetBasicAuth("me", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s with auth = %d; want 200 (the LAN address is an allowed Host)", lanURL, resp.StatusCode)
	}
	stop()

	opts.LANAddr = func() (netip.Addr, string, error) { return netip.Addr{}, "", errors.New("no LAN address found") }
	opts.Ready = nil
	if err := serveRun(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "no LAN address") {
		t.Errorf("serve --lan without a LAN = %v", err)
	}
}

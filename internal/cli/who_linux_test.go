package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"
	"golang.org/x/sys/unix"
)

// realFactory is a Factory over the real inventory, writing to buffers.
func realFactory() (*Factory, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return NewFactory(&IO{Out: &out, Err: &errb}), &out, &errb
}

// A bare port means every protocol: a port that only a UDP socket holds is
// held (`socat -u UDP-LISTEN:9999 OPEN:/dev/null`, dnsmasq's 5353).
func TestWhoBarePortFindsUDP(t *testing.T) {
	// A port free on TCP (a UDP port from :0 may be another program's TCP
	// port).
	port := portStr(freePort(t))
	c, err := net.ListenPacket("udp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	f, out, errb := realFactory()
	if code := runWho(t, f, port); code != 0 {
		t.Fatalf("who %s exit %d; want 0 (stdout %q, stderr %q)", port, code, out, errb)
	}
	if want := port + "/udp is held by "; !strings.HasPrefix(out.String(), want) {
		t.Errorf("who %s printed %q; want it to start with %q", port, out, want)
	}

	// N/tcp narrows it.
	f, out, _ = realFactory()
	if code := runWho(t, f, port+"/tcp"); code != 1 {
		t.Errorf("who %s/tcp exit %d; want 1", port, code)
	}
	if want := "nothing is listening on port " + port + "/tcp\n"; out.String() != want {
		t.Errorf("who %s/tcp printed %q; want %q", port, out, want)
	}
}

// The same with socat, the server users try it with.
func TestWhoSocatUDP(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat is not installed (scripts/test installs it)")
	}
	port := portStr(freePort(t))
	cmd := exec.Command("socat", "-u", "UDP-LISTEN:"+port+",bind=127.0.0.1", "OPEN:/dev/null")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) // our child, by its pid
	var out *bytes.Buffer
	waitFor(t, "socat listening on "+port+"/udp", func() bool {
		var f *Factory
		f, out, _ = realFactory()
		return runWho(t, f, port) == 0
	})
	if want := port + "/udp is held by socat (pid "; !strings.HasPrefix(out.String(), want) {
		t.Errorf("who %s printed %q; want it to start with %q", port, out, want)
	}
	if !strings.Contains(out.String(), "listening on 127.0.0.1 only") {
		t.Errorf("who %s printed %q; want the address", port, out)
	}
}

// A v6-only [::] takes no IPv4 client, though it listens on all interfaces.
func TestWhoV6OnlyWildcard(t *testing.T) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1) })
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp6", "[::]:0")
	if err != nil {
		t.Skipf("no IPv6 here: %v", err)
	}
	defer ln.Close()
	port := portStr(uint16(ln.Addr().(*net.TCPAddr).Port))

	f, out, errb := realFactory()
	if code := runWho(t, f, port); code != 0 {
		t.Fatalf("who %s exit %d (stderr %q)", port, code, errb)
	}
	if want := "listening on all interfaces: [::] (IPv6 only: IPv4 clients are refused), since "; !strings.Contains(out.String(), want) {
		t.Errorf("who %s printed %q; want %q", port, out, want)
	}
}

// exportedTestBinary copies the test binary under name into a folder that
// every user may read, for children that run as another user or under
// another name.
func exportedTestBinary(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "homeport-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(dir, name)
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// As a user other than root, a socket of root's whose process cannot be
// read is root's, and sudo shows the process: it is not "outside this PID
// namespace, or the kernel".
func TestWhoAsNobodyNamesRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to start a root-owned listener and run homeport as nobody")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // held by this root process
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := portStr(uint16(ln.Addr().(*net.TCPAddr).Port))

	bin := exportedTestBinary(t, "homeport")
	cmd := exec.Command(setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", bin, "-test.run=^TestHelperProcess$")
	// /tcp: a UDP socket of another program may share the number.
	cmd.Env = append(os.Environ(), "HOMEPORT_HELPER=main", "HOMEPORT_HELPER_ARGS=who\x1f"+port+"/tcp")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if err != nil {
		t.Fatalf("homeport who %s as nobody: %v (stdout %q, stderr %q)", port, err, out.String(), errb.String())
	}
	want := port + "/tcp is held by a process that user nobody cannot see (its socket is root's, uid 0), listening on 127.0.0.1 only\n" +
		"  hint: sudo homeport who " + port + "/tcp shows the process\n"
	if out.String() != want {
		t.Errorf("homeport who %s as nobody printed\n%q; want\n%q", port, out.String(), want)
	}
}

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// --user with a name no user has is a mistake, not "no sockets match".
func TestPortsNoSuchUser(t *testing.T) {
	f, out, errb := realFactory()
	if code := runPorts(t, f, "ports", "--user", "nobodyx"); code != 2 {
		t.Errorf("ports --user nobodyx exit %d; want 2", code)
	}
	want := "homeport: error: --user: no user \"nobodyx\" on this system\nhomeport: hint: did you mean 'homeport ports --user nobody'?\n"
	if errb.String() != want || out.Len() != 0 {
		t.Errorf("ports --user nobodyx: stdout %q, stderr %q; want stderr %q", out, errb, want)
	}
	// A real user with no sockets is no error.
	f, out, errb = realFactory()
	if code := runPorts(t, f, "ports", "--user", "nobody", "--port", portStr(freePort(t))); code != 0 || out.Len() != 0 {
		t.Errorf("ports --user nobody exit %d, stdout %q, stderr %q; want 0 and nothing", code, out, errb)
	}
}

// On a terminal, columns are measured in display cells: a process named in
// CJK and emoji (two cells a rune) keeps the table aligned, and rows fit the
// terminal's width.
func TestPortsTableWideNames(t *testing.T) {
	const name = "服务器🚀" // 13 bytes: the kernel keeps it whole as the comm
	bin := exportedTestBinary(t, name)
	port := freePort(t)
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(bin, "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "HOMEPORT_HELPER=listen", "HOMEPORT_HELPER_ADDR=127.0.0.1:"+portStr(port), "HOMEPORT_HELPER_OUT="+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) // our child, by its pid
	waitFor(t, "ready from the helper", func() bool { b, _ := os.ReadFile(out); return string(b) == "ready" })

	for _, width := range []int{80, 120} {
		var stdout, errb bytes.Buffer
		f := NewFactory(&IO{Out: &stdout, Err: &errb, OutTTY: true, Width: width})
		if code := runPorts(t, f, "ports", "--port", portStr(port), "--tcp"); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[1], name) {
			t.Fatalf("width %d: table %q; want a header and the row of %s", width, stdout.String(), name)
		}
		// Each column starts in the same display cell in the header and
		// the row.
		for _, col := range []string{"USER", "UP", "COMMAND"} {
			h := cellOf(lines[0], strings.Index(lines[0], col))
			r := cellOf(lines[1], nthField(lines[1], slices.Index(strings.Fields(lines[0]), col)))
			if h != r {
				t.Errorf("width %d: %s starts in cell %d of the header and cell %d of the row:\n%s", width, col, h, r, stdout.String())
			}
		}
		for _, l := range lines {
			if w := runewidth.StringWidth(l); w > width {
				t.Errorf("width %d: line %q takes %d cells", width, l, w)
			}
		}
		if !strings.HasSuffix(lines[1], "…") {
			t.Errorf("width %d: row %q; want the long command line cut with …", width, lines[1])
		}
	}
}

// cellOf is the display cell at which byte i of s starts.
func cellOf(s string, i int) int { return runewidth.StringWidth(s[:i]) }

// nthField is the byte offset at which the n-th space-separated field of s
// starts.
func nthField(s string, n int) int {
	field, in := -1, false
	for i, r := range s {
		if r == ' ' {
			in = false
			continue
		}
		if !in {
			in = true
			if field++; field == n {
				return i
			}
		}
	}
	return len(s)
}

// dnsmasq answers DNS on UDP and TCP: a bare port names both in one
// sentence, and its owner is dnsmasq however it dropped its privileges.
func TestWhoDnsmasq(t *testing.T) {
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		t.Skip("dnsmasq is not installed (scripts/test installs it)")
	}
	if os.Geteuid() != 0 {
		t.Skip("dnsmasq needs root to start")
	}
	port := portStr(freePort(t))
	cmd := exec.Command(bin, "-k", "-p", port, "--listen-address=127.0.0.1", "--bind-interfaces",
		"--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file")
	errb := &syncBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) // our child, by its pid
	// dnsmasq binds UDP, then TCP: wait for both.
	want := port + "/tcp and " + port + "/udp are held by dnsmasq (pid "
	var out *bytes.Buffer
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var f *Factory
		f, out, _ = realFactory()
		if runWho(t, f, port) == 0 && strings.HasPrefix(out.String(), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dnsmasq on %s/tcp and /udp after 30s: who says %q; dnsmasq said %q", port, out, errb.String())
		}
	}
	if !strings.HasPrefix(out.String(), want) || !strings.Contains(out.String(), "listening on 127.0.0.1 only") {
		t.Errorf("who %s printed %q; want it to start with %q and name 127.0.0.1", port, out, want)
	}
	f, out, _ := realFactory()
	if code := runWho(t, f, port+"/udp"); code != 0 || !strings.HasPrefix(out.String(), port+"/udp is held by dnsmasq") {
		t.Errorf("who %s/udp exit %d, printed %q", port, code, out)
	}
}

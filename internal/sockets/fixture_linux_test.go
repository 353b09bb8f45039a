package sockets

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the fixture: run with HOMEPORT_FIXTURE set, it
// opens the sockets its spec names, prints "ready PID [PID...]" and holds
// them until its stdin closes. Specs are comma-separated items:
//
//	tcp4:N tcp6:N any4:N dual:N v6only:N udp4:N udp6:N  N sockets of that kind
//	reuse:PORT   a TCP listener on 127.0.0.1:PORT with SO_REUSEPORT
//	golisten     a listener from net.Listen (MPTCP since Go 1.24)
//	name:NAME    set the process name (comm) to NAME
//	inherit      start a child that inherits every socket, then report both
func TestMain(m *testing.M) {
	if spec, ok := os.LookupEnv("HOMEPORT_FIXTURE"); ok {
		os.Exit(runFixture(spec))
	}
	if port, ok := os.LookupEnv("HOMEPORT_TAKE_PORT"); ok {
		// List one port and print what was seen (TestHiddenOwnersWhenNotRoot).
		p, _ := strconv.Atoi(port)
		snap, err := Take(context.Background(), Filter{Port: uint16(p)})
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		owners := 0
		for _, s := range snap.Sockets {
			owners += len(s.Owners)
		}
		fmt.Printf("sockets=%d owners=%d hidden=%d\n", len(snap.Sockets), owners, snap.Hidden)
		os.Exit(0)
	}
	// A test that leaves a goroutine behind (a netlink reader, an owner
	// scan) fails the package.
	goleak.VerifyTestMain(m)
}

func runFixture(spec string) int {
	var fds []int
	var keep []any
	pids := []int{os.Getpid()}
	inherit := false
	for _, item := range strings.Split(spec, ",") {
		kind, arg, _ := strings.Cut(item, ":")
		n, _ := strconv.Atoi(arg)
		var err error
		switch kind {
		case "tcp4", "tcp6", "any4", "dual", "v6only", "udp4", "udp6":
			for range n {
				var fd int
				fd, err = openFixtureSocket(kind, 0, false)
				if err != nil {
					break
				}
				fds = append(fds, fd)
			}
		case "reuse":
			var fd int
			fd, err = openFixtureSocket("tcp4", n, true)
			fds = append(fds, fd)
		case "golisten":
			var ln net.Listener
			ln, err = net.Listen("tcp", "127.0.0.1:0")
			if err == nil {
				var f *os.File
				f, err = ln.(*net.TCPListener).File()
				if f != nil {
					fds = append(fds, int(f.Fd()))
					keep = append(keep, ln, f)
				}
			}
		case "name":
			// /proc/self is the thread-group leader, whose name ps and ss show.
			err = os.WriteFile("/proc/self/comm", []byte(arg), 0)
		case "inherit":
			inherit = true
		default:
			err = fmt.Errorf("unknown fixture item %q", item)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fixture:", err)
			return 1
		}
	}
	if inherit {
		cmd := exec.Command("sleep", "3600")
		cmd.Stdin = nil
		for _, fd := range fds {
			cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(fd), "socket"))
		}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "fixture:", err)
			return 1
		}
		defer cmd.Process.Kill()
		pids = append(pids, cmd.Process.Pid)
	}
	var b strings.Builder
	b.WriteString("ready")
	for _, p := range pids {
		fmt.Fprintf(&b, " %d", p)
	}
	if len(fds) > 0 {
		if sa, err := unix.Getsockname(fds[0]); err == nil {
			fmt.Fprintf(&b, " port=%d", sockaddrPort(sa))
		}
	}
	fmt.Println(b.String())
	io.Copy(io.Discard, os.Stdin)
	_ = keep
	return 0
}

func sockaddrPort(sa unix.Sockaddr) int {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port
	case *unix.SockaddrInet6:
		return a.Port
	}
	return 0
}

func openFixtureSocket(kind string, port int, reuse bool) (int, error) {
	family, typ := unix.AF_INET, unix.SOCK_STREAM
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	v6only := -1
	switch kind {
	case "tcp6":
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}
	case "any4":
		sa = &unix.SockaddrInet4{Port: port}
	case "dual":
		family, sa, v6only = unix.AF_INET6, &unix.SockaddrInet6{Port: port}, 0
	case "v6only":
		family, sa, v6only = unix.AF_INET6, &unix.SockaddrInet6{Port: port}, 1
	case "udp4":
		typ = unix.SOCK_DGRAM
	case "udp6":
		family, typ, sa = unix.AF_INET6, unix.SOCK_DGRAM, &unix.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}
	}
	fd, err := unix.Socket(family, typ, 0)
	if err != nil {
		return -1, err
	}
	if v6only >= 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			return -1, err
		}
	}
	if reuse {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return -1, err
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return -1, fmt.Errorf("bind %s: %w", kind, err)
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, 16); err != nil {
			return -1, err
		}
	}
	return fd, nil
}

// fixture is a running fixture process.
type fixture struct {
	pids []int
	port int
	cmd  *exec.Cmd
	in   io.WriteCloser
}

// startFixture runs the test binary as a fixture process with spec and waits
// until it holds its sockets. The process ends when the test does.
func startFixture(t testing.TB, spec string) *fixture {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOMEPORT_FIXTURE="+spec)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{cmd: cmd, in: in}
	t.Cleanup(f.stop)
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		fields := strings.Fields(s)
		if len(fields) < 2 || fields[0] != "ready" {
			t.Fatalf("fixture %q did not start: %q", spec, s)
		}
		for _, fld := range fields[1:] {
			if v, ok := strings.CutPrefix(fld, "port="); ok {
				f.port, _ = strconv.Atoi(v)
				continue
			}
			pid, _ := strconv.Atoi(fld)
			f.pids = append(f.pids, pid)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("fixture %q not ready after 60s", spec)
	}
	return f
}

func (f *fixture) stop() {
	if f.in != nil {
		f.in.Close()
		f.in = nil
		done := make(chan struct{})
		go func() { f.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			f.cmd.Process.Kill()
			<-done
		}
	}
}

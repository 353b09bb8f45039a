package cli

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"homeport/internal/ports"
)

// The test binary doubles as the processes these tests need (the os/exec
// pattern: run it with -test.run=^TestHelperProcess$ and an environment
// that says what to be):
//
//	HOMEPORT_HELPER=listen    listen on HOMEPORT_HELPER_ADDR, write "ready"
//	                          to HOMEPORT_HELPER_OUT, then on SIGTERM or
//	                          SIGINT write the signal's name there and exit
//	HOMEPORT_HELPER=stubborn  the same, but ignore SIGTERM (only SIGKILL ends it)
//	HOMEPORT_HELPER=shared    like listen, but first start a worker (itself,
//	                          as "worker") that inherits the listening socket,
//	                          as forked workers do; the worker writes
//	                          "ready PID", then its signal, to HOMEPORT_HELPER_OUT2
//	HOMEPORT_HELPER=client    connect to HOMEPORT_HELPER_ADDR, write
//	                          "connected", then live on whatever happens
//	HOMEPORT_HELPER=main      run homeport with the arguments in
//	                          HOMEPORT_HELPER_ARGS (separated by \x1f)
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("HOMEPORT_HELPER")
	if mode == "" {
		t.Skip("helper process for other tests")
	}
	out := os.Getenv("HOMEPORT_HELPER_OUT")
	addr := os.Getenv("HOMEPORT_HELPER_ADDR")
	switch mode {
	case "main":
		os.Exit(Main(strings.Split(os.Getenv("HOMEPORT_HELPER_ARGS"), "\x1f"), System()))
	case "listen", "stubborn", "shared", "worker":
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		if mode == "stubborn" {
			signal.Ignore(syscall.SIGTERM)
		}
		var ln net.Listener
		var err error
		if mode == "worker" {
			ln, err = net.FileListener(os.NewFile(3, "listener")) // inherited, as after fork
		} else {
			ln, err = net.Listen("tcp", addr)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		if mode == "shared" {
			f, err := ln.(*net.TCPListener).File()
			if err != nil {
				os.Exit(3)
			}
			w := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
			w.Env = append(os.Environ(), "HOMEPORT_HELPER=worker", "HOMEPORT_HELPER_OUT="+os.Getenv("HOMEPORT_HELPER_OUT2"))
			w.ExtraFiles = []*os.File{f}
			w.Stderr = os.Stderr
			if err := w.Start(); err != nil {
				os.Exit(3)
			}
			f.Close()
			go func() { _ = w.Wait() }()
			for { // wait for the worker, so that both hold the socket when we say ready
				if b, _ := os.ReadFile(os.Getenv("HOMEPORT_HELPER_OUT2")); strings.HasPrefix(string(b), "ready") {
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		go func() {
			var conns []net.Conn // keep accepted connections open
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns = append(conns, c)
			}
		}()
		ready := "ready"
		if mode == "worker" {
			ready = fmt.Sprintf("ready %d", os.Getpid())
		}
		if err := os.WriteFile(out, []byte(ready), 0o600); err != nil {
			os.Exit(3)
		}
		sig := <-sigs
		_ = os.WriteFile(out, []byte(sig.String()), 0o600)
		os.Exit(0)
	case "client":
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		defer c.Close()
		if err := os.WriteFile(out, []byte("connected"), 0o600); err != nil {
			os.Exit(3)
		}
		_, _ = io.Copy(io.Discard, c) // returns when the server goes away
		select {}                     // a client lives on; only the test ends it
	}
	os.Exit(2)
}

// helper is one running helper process.
type helper struct {
	cmd  *exec.Cmd
	out  string
	done chan struct{}
	err  error // cmd.Wait's result, once done is closed
}

// newHelperCmd returns the command for a helper; for "main", arg is
// homeport's arguments separated by \x1f, otherwise the address.
func newHelperCmd(mode, arg string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "HOMEPORT_HELPER="+mode, "HOMEPORT_HELPER_ADDR="+arg, "HOMEPORT_HELPER_ARGS="+arg)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	return cmd
}

func startHelper(t *testing.T, mode, addr string, env ...string) *helper {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	cmd := newHelperCmd(mode, addr, append(env, "HOMEPORT_HELPER_OUT="+out)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { h.err = cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // our own child, by its pid
		<-h.done
	})
	if mode != "main" {
		h.waitFile(t, func(s string) bool { return s == "ready" || s == "connected" })
	}
	return h
}

func (h *helper) pid() int { return h.cmd.Process.Pid }

// file returns what the helper wrote.
func (h *helper) file() string {
	b, _ := os.ReadFile(h.out)
	return string(b)
}

func (h *helper) waitFile(t *testing.T, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok(h.file()) {
		select {
		case <-h.done:
			if s := h.file(); ok(s) {
				return s
			}
			t.Fatalf("helper exited (%v); its file says %q", h.err, h.file())
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("helper's file says %q after 30s", h.file())
		}
	}
	return h.file()
}

func (h *helper) exited() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

func (h *helper) waitExit(t *testing.T) error {
	t.Helper()
	select {
	case <-h.done:
		return h.err
	case <-time.After(30 * time.Second):
		t.Fatal("helper still running after 30s")
		return nil
	}
}

// freePort returns a port nothing holds on any loopback or wildcard address.
func freePort(t *testing.T) uint16 {
	t.Helper()
	got, err := ports.Free(ports.FreeOptions{Ranges: []ports.Range{ports.DynamicRange}})
	if err != nil {
		t.Fatal(err)
	}
	return got[0]
}

// testIO returns an IO over buffers; the buffers are safe to read while a
// command writes (the spinner writes from a goroutine).
func testIO(in string) (*IO, *syncBuffer, *syncBuffer) {
	out, errb := &syncBuffer{}, &syncBuffer{}
	return &IO{In: strings.NewReader(in), Out: out, Err: errb}, out, errb
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func exitCodeOf(err error) int { return exitCode(err) }

func portStr(p uint16) string { return strconv.Itoa(int(p)) }

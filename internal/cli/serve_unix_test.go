//go:build unix

package cli

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildHomeport builds the real binary once per test run.
func buildHomeport(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found: cannot build the homeport binary")
	}
	bin := filepath.Join(t.TempDir(), "homeport")
	out, err := exec.Command(gobin, "build", "-o", bin, "homeport/cmd/homeport").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// servedProcess is `homeport serve` running as a child process.
type servedProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr chan string // lines
}

func startServe(t *testing.T, bin, dir string) *servedProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve", dir, "--port", "0", "--host", "127.0.0.1")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	p := &servedProcess{cmd: cmd, stderr: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.stderr <- sc.Text()
		}
		close(p.stderr)
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the URL: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	p.url = strings.TrimSpace(line)
	return p
}

func (p *servedProcess) waitStderr(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-p.stderr:
			if !ok {
				t.Fatalf("stderr closed before %q", want)
			}
			if strings.Contains(line, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q on stderr within 30s", want)
		}
	}
}

func (p *servedProcess) wait(t *testing.T) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("homeport serve still running 30s after the signal")
	}
	return nil
}

// TestServeSignals runs the real binary: on SIGTERM (and SIGINT) it finishes
// a download in flight and exits 0; a second signal ends it at once.
func TestServeSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the homeport binary")
	}
	bin := buildHomeport(t)
	dir := t.TempDir()
	const size = 32 << 20 // larger than socket buffers: the download is in flight
	big := make([]byte, size)
	for i := range big {
		big[i] = byte(i * 7)
	}
	os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644)

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run("graceful "+sig.String(), func(t *testing.T) {
			p := startServe(t, bin, dir)
			resp, err := http.Get(p.url + "big.bin")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			head := make([]byte, 1024)
			if _, err := io.ReadFull(resp.Body, head); err != nil {
				t.Fatal(err)
			}
			p.cmd.Process.Signal(sig)
			p.waitStderr(t, "shutting down")
			rest, err := io.ReadAll(resp.Body)
			if err != nil || len(head)+len(rest) != size {
				t.Fatalf("download in flight during shutdown: %d bytes, %v; want all %d", len(head)+len(rest), err, size)
			}
			if err := p.wait(t); err != nil {
				t.Errorf("homeport serve after %v: %v; want exit 0", sig, err)
			}
		})
	}

	t.Run("second signal", func(t *testing.T) {
		p := startServe(t, bin, dir)
		resp, err := http.Get(p.url + "big.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		// The body is not read, so the download stays in flight and the
		// graceful shutdown waits on it.
		p.cmd.Process.Signal(syscall.SIGINT)
		p.waitStderr(t, "shutting down")
		// Main restores the default handling right after the first signal;
		// a signal that beats it is swallowed, so send again until the
		// process dies (a user pressing Ctrl+C twice sees the same).
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		deadline := time.Now().Add(30 * time.Second)
	again:
		p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case err = <-done:
		case <-time.After(500 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("homeport serve still running 30s after a second SIGINT")
			}
			goto again
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("after a second SIGINT: %v; want death by the signal", err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("after a second SIGINT: %v; want killed by SIGINT", err)
		}
	})
}

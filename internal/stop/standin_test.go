package stop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"homeport/internal/procs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// standin is a running testdata/standin.py: a server stand-in that
// behaves, on signals, like the server it stands in for.
type standin struct {
	cmd   *exec.Cmd
	out   string
	ports []uint16
	done  chan struct{}
}

// startStandin starts testdata/standin.py in mode, listening on addrs
// ("tcp:127.0.0.1:0"), and waits until it is ready.
func startStandin(t *testing.T, mode string, addrs ...string) *standin {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is needed for the server stand-ins (scripts/test installs it)")
	}
	script, err := filepath.Abs("testdata/standin.py")
	if err != nil {
		t.Fatal(err)
	}
	s := &standin{out: filepath.Join(t.TempDir(), "out"), done: make(chan struct{})}
	s.cmd = exec.Command(py, append([]string{script, mode, s.out}, addrs...)...)
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill() // our own child, by its pid
		<-s.done
	})
	ready := s.waitFor(t, func(lines []string) bool { return strings.HasPrefix(lines[0], "ready") })
	for _, f := range strings.Fields(ready[0])[1:] {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("stand-in wrote %q", ready[0])
		}
		s.ports = append(s.ports, uint16(p))
	}
	return s
}

func (s *standin) pid() int { return s.cmd.Process.Pid }

func (s *standin) lines() []string {
	b, _ := os.ReadFile(s.out)
	return strings.Split(string(b), "\n")
}

// signals returns the signals the stand-in got, in order: "TERM", "INT".
func (s *standin) signals() []string {
	var out []string
	for _, l := range s.lines()[1:] {
		if l != "exit" && l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (s *standin) waitFor(t *testing.T, ok func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l := s.lines()
		if ok(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("stand-in file after 30s: %q", l)
		}
		select {
		case <-s.done:
			if l := s.lines(); !ok(l) {
				t.Fatalf("stand-in exited; its file: %q", l)
			}
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (s *standin) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// process reads the stand-in as the inventory would show it.
func (s *standin) process(t *testing.T) *procs.Process {
	t.Helper()
	p, err := procs.Get(s.pid())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

package cli

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tmuxSession is a tmux server of its own (a private socket) running one
// shell in a window of fixed size.
type tmuxSession struct {
	t    *testing.T
	sock string
}

func newTmuxSession(t *testing.T, w, h int, env ...string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed; scripts/test installs it")
		}
		t.Skip("tmux is not installed")
	}
	s := &tmuxSession{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	shell := append([]string{"env"}, env...)
	shell = append(shell, "PS1=top-test$ ", "TERM=xterm-256color", "bash", "--norc", "--noprofile", "-i")
	args := append([]string{"-f", "/dev/null", "new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h)}, shell...)
	s.run(args...)
	t.Cleanup(func() { _ = s.cmd("kill-server").Run() }) // our own server, by its socket
	s.waitFor("the shell prompt", func(screen string) bool { return strings.Contains(screen, "top-test$") })
	return s
}

func (s *tmuxSession) cmd(args ...string) *exec.Cmd {
	return exec.Command("tmux", append([]string{"-S", s.sock}, args...)...)
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := s.cmd(args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// keys types text literally; key presses a named key (Enter, Escape).
func (s *tmuxSession) keys(text string) { s.run("send-keys", "-l", text) }
func (s *tmuxSession) key(name string)  { s.run("send-keys", name) }

func (s *tmuxSession) screen() string { return s.run("capture-pane", "-p") }

// waitFor polls the screen until ok, and fails with the screen after 30s.
func (s *tmuxSession) waitFor(what string, ok func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sc := s.screen()
		if ok(sc) {
			return sc
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waiting for %s: the screen after 30s:\n%s", what, sc)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rowOf matches the table row of a listener on 127.0.0.1:port.
func rowOf(port int) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`(?m)^.{3}%d +tcp +127\.0\.0\.1 `, port))
}

// TestTopInTmux runs the built `homeport top` in a real terminal: rows come
// and go with listeners, / filters, K and y stop a listener of the test's
// own, and q gives the shell back with the terminal restored.
func TestTopInTmux(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "homeport")
	if out, err := exec.Command("go", "build", "-o", bin, "homeport/cmd/homeport").CombinedOutput(); err != nil {
		t.Fatalf("building homeport: %v\n%s", err, out)
	}
	s := newTmuxSession(t, 120, 30, "NO_COLOR=1")
	s.keys(bin + " top --interval 200ms")
	s.key("Enter")
	s.waitFor("the table", func(sc string) bool {
		return strings.Contains(sc, "homeport top ·") && strings.Contains(sc, "PORT") && strings.Contains(sc, "listening")
	})
	if alt := strings.TrimSpace(s.run("display-message", "-p", "#{alternate_on}")); alt != "1" {
		t.Errorf("top is not on the alternate screen (alternate_on=%s)", alt)
	}
	// NO_COLOR: attributes (the cursor's reversed row) but no colours.
	if styled := s.run("capture-pane", "-p", "-e"); regexp.MustCompile(`\x1b\[[0-9;]*(3[0-7]|9[0-7])[;m]`).MatchString(styled) {
		t.Errorf("NO_COLOR is set, yet the screen has colours:\n%q", styled)
	}

	// Other programs' listeners may fill the screen: show this test's
	// own, by its process name (the kernel keeps 15 bytes of it).
	name := filepath.Base(os.Args[0])
	name = name[:min(len(name), 15)]
	s.keys("/")
	s.waitFor("the filter prompt", func(sc string) bool { return strings.Contains(sc, "/█") })
	s.keys(name)
	s.key("Enter")
	s.waitFor("the filter kept", func(sc string) bool { return strings.Contains(sc, fmt.Sprintf("filter %q", name)) })

	// A listener that opens shows up, and goes once closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	s.waitFor(fmt.Sprintf("the row of port %d", port), func(sc string) bool { return rowOf(port).MatchString(sc) })
	ln.Close()
	s.waitFor(fmt.Sprintf("the row of port %d to go", port), func(sc string) bool { return !rowOf(port).MatchString(sc) })

	// Resized to 80×24, the table is drawn again to fit.
	s.run("resize-window", "-x", "80", "-y", "24")
	s.waitFor("the table at 80×24", func(sc string) bool {
		lines := strings.Split(strings.TrimRight(sc, "\n"), "\n")
		return len(lines) == 24 && strings.Contains(lines[1], "PORT") && strings.Contains(lines[1], "EXPOSURE") &&
			strings.HasPrefix(lines[23], "/ filter")
	})
	s.run("resize-window", "-x", "120", "-y", "30")

	// A listener of a child process: filter for it, stop it with K and y.
	victim := int(freePort(t))
	h := startHelper(t, "listen", fmt.Sprintf("127.0.0.1:%d", victim))
	s.waitFor("the child's row", func(sc string) bool { return rowOf(victim).MatchString(sc) })
	s.key("Escape")
	s.waitFor("the filter cleared", func(sc string) bool { return !strings.Contains(sc, "filter \"") })
	s.keys("/")
	s.waitFor("the filter prompt", func(sc string) bool { return strings.Contains(sc, "/█") })
	s.keys(fmt.Sprint(victim))
	s.waitFor("the filtered table", func(sc string) bool {
		return strings.Contains(sc, "1 shown") && rowOf(victim).MatchString(sc)
	})
	s.key("Enter")
	s.waitFor("the filter kept", func(sc string) bool { return strings.Contains(sc, fmt.Sprintf(`filter "%d"`, victim)) })
	s.keys("K")
	question := fmt.Sprintf("(pid %d) on tcp 127.0.0.1:%d? [y/N]", h.pid(), victim)
	s.waitFor("the question", func(sc string) bool { return strings.Contains(sc, question) })
	s.keys("y")
	s.waitFor("the port freed", func(sc string) bool {
		return strings.Contains(sc, fmt.Sprintf("tcp 127.0.0.1:%d is free", victim))
	})
	if err := h.waitExit(t); err != nil || h.file() != "terminated" {
		t.Errorf("the child ended with %v, having written %q; want it stopped by SIGTERM", err, h.file())
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", victim), 5*time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still takes connections", victim)
	}

	// q: the shell is back, on the main screen, with a visible cursor.
	s.keys("q")
	sc := s.waitFor("the shell prompt again", func(sc string) bool {
		return !strings.Contains(sc, "homeport top ·") && strings.HasSuffix(strings.TrimRight(sc, "\n "), "top-test$")
	})
	if alt := strings.TrimSpace(s.run("display-message", "-p", "#{alternate_on} #{cursor_flag}")); alt != "0 1" {
		t.Errorf("after q: alternate_on, cursor_flag = %s; want 0 1 (main screen, cursor shown)\n%s", alt, sc)
	}
	s.keys("echo typed-$((40+2))")
	s.key("Enter")
	s.waitFor("the shell to echo", func(sc string) bool { return strings.Contains(sc, "typed-42") })

	// Ctrl-C quits as q does, with status 0.
	s.keys("clear; " + bin + " top; echo top-ended-$?")
	s.key("Enter")
	s.waitFor("the table again", func(sc string) bool { return strings.Contains(sc, "homeport top ·") })
	s.key("C-c")
	s.waitFor("the shell after ctrl+c", func(sc string) bool {
		return !strings.Contains(sc, "homeport top ·") && strings.Contains(sc, "top-ended-0")
	})
	if alt := strings.TrimSpace(s.run("display-message", "-p", "#{alternate_on} #{cursor_flag}")); alt != "0 1" {
		t.Errorf("after ctrl+c: alternate_on, cursor_flag = %s; want 0 1", alt)
	}
}

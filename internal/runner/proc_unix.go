//go:build unix

package runner

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// group is the command's process group. The command leads a group of its
// own, so that a signal reaches every process it started (a shell's
// children, npm's node) and nothing else. When homeport's input is the
// terminal and homeport is in its foreground, the command's group takes
// the foreground: Ctrl-C then reaches it straight from the terminal, and
// a dev server that reads keys (Vite's "h + enter") is not stopped for
// reading from a background group (SIGTTIN).
type group struct {
	cmd  *exec.Cmd
	pgid int
	tty  int // the terminal handed to the command's group; -1: none
}

func newGroup(cmd *exec.Cmd) *group {
	g := &group{cmd: cmd, tty: -1}
	attr := &syscall.SysProcAttr{Setpgid: true}
	if f, ok := cmd.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		if fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err == nil && fg == syscall.Getpgrp() {
			attr.Foreground, attr.Ctty = true, fd
			g.tty = fd
		}
	}
	cmd.SysProcAttr = attr
	return g
}

// started notes the group, and lets homeport write to the terminal it
// handed over: with "stty tostop" the kernel would stop a background
// group's writes with SIGTTOU. The command has its own signal dispositions
// by now (Start returns after exec), so it does not inherit the ignoring.
func (g *group) started() {
	g.pgid = g.cmd.Process.Pid
	if g.tty >= 0 {
		signal.Ignore(syscall.SIGTTOU)
	}
}

// signal sends sig to the whole group. A group whose leader has gone
// lives on while it has members, and its id is not handed to a new
// process meanwhile.
func (g *group) signal(sig syscall.Signal) {
	if g.pgid > 0 {
		_ = syscall.Kill(-g.pgid, sig)
	}
}

// finished takes the terminal back once the command has ended. homeport is
// then in a background group, which the kernel stops (SIGTTOU) for
// changing the terminal's foreground group unless it ignores that signal,
// as it does since started.
func (g *group) finished() {
	if g.tty < 0 {
		return
	}
	_ = unix.IoctlSetPointerInt(g.tty, unix.TIOCSPGRP, syscall.Getpgrp())
	signal.Reset(syscall.SIGTTOU)
}

// stopLeft stops what is left of the group once its leader has ended (a
// server a wrapper forked and left behind): SIGTERM, then SIGKILL after
// timeout. It returns how many processes were left and the last signal
// sent.
func (g *group) stopLeft(timeout time.Duration) (int, syscall.Signal) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	n := groupSize(g.pgid)
	if n == 0 {
		return 0, 0
	}
	sig := syscall.SIGTERM
	g.signal(sig)
	if !waitEmpty(g.pgid, timeout) {
		sig = syscall.SIGKILL
		g.signal(sig)
		waitEmpty(g.pgid, 2*time.Second)
	}
	return n, sig
}

func waitEmpty(pgid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for groupSize(pgid) > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

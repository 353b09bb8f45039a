package procs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrReused is returned when a PID now names another process than the one
// that was asked for: its start time changed, so the original process has
// exited and the PID was recycled. It wraps ErrGone: for the caller, the
// process it meant is gone.
var ErrReused = fmt.Errorf("%w (its pid now belongs to another process)", ErrGone)

// ErrPermission is returned when the operating system refused to signal a
// process: it belongs to another user and homeport is not root.
var ErrPermission = errors.New("permission denied")

// RefusedError is returned by Guard.Signal for a process homeport will not
// signal, whatever the operating system would allow.
type RefusedError struct {
	PID    int
	Reason string // why, in a few words: "it is init (pid 1)"
	Hint   string // what to do instead, when there is something
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refusing to signal pid %d: %s", e.PID, e.Reason)
}

// Signaller delivers a signal to one exact process: pid together with the
// start time it had when homeport looked at it (Process.StartTicks).
//
// Contract: Signal never delivers to a process whose start time differs
// from startTicks (it returns an error wrapping ErrReused), returns an error
// wrapping ErrGone when the process no longer exists, and ErrPermission when
// the OS refuses. Alive reports whether that exact process still runs; a
// zombie (exited, not yet reaped by its parent) does not.
type Signaller interface {
	Signal(pid int, startTicks uint64, sig syscall.Signal) error
	Alive(pid int, startTicks uint64) bool
}

// OS returns the signaller of this operating system: pidfd on Linux, so that
// a PID recycled between the check and the signal is never hit.
func OS() Signaller { return osSignaller{} }

// Guard applies homeport's refusal rules before any signal reaches a
// Signaller: never PID 1 or below (nor Windows' System, PID 4), never homeport itself or its parent (the
// shell or program that runs it), and never another user's process unless
// homeport runs as root. The OS would refuse the last one too; refusing first
// gives a message that says what to do.
type Guard struct {
	Signaller Signaller
	Self      int // os.Getpid()
	Parent    int // os.Getppid()
	UID       int // effective user id: 0 is root; -1 where users don't apply
}

// NewGuard returns a Guard for the running process over the OS signaller.
func NewGuard() *Guard {
	return &Guard{Signaller: OS(), Self: os.Getpid(), Parent: os.Getppid(), UID: os.Geteuid()}
}

// Check returns a *RefusedError when p must not be signalled, nil otherwise.
// On Windows, PIDs 0 and 4 are the kernel (the idle process, and System,
// which holds http.sys's ports): the refusal says what they are and how to
// release what they hold (SystemProcessNote).
func (g *Guard) Check(p *Process) error {
	if note, ok := SystemProcessNote(p.PID, 0); ok {
		return &RefusedError{PID: p.PID, Reason: note.Reason, Hint: note.Hint}
	}
	switch {
	case p.PID <= 1:
		what := "it is init, the first process of the system"
		if p.PID <= 0 {
			what = "it is not a single process (pid 0 and below name process groups)"
		}
		return &RefusedError{PID: p.PID, Reason: what}
	case p.PID == g.Self:
		return &RefusedError{PID: p.PID, Reason: "it is homeport itself"}
	case p.PID == g.Parent:
		return &RefusedError{PID: p.PID, Reason: "it is homeport's parent process (the shell or program running homeport)",
			Hint: "stop it from its own terminal, or run homeport from another shell"}
	case g.UID > 0 && p.UID >= 0 && p.UID != g.UID:
		user := p.User
		if user == "" {
			user = strconv.Itoa(p.UID)
		}
		return &RefusedError{PID: p.PID, Reason: fmt.Sprintf("it belongs to user %s and homeport is not running as root", user),
			Hint: "run the same command with sudo"}
	case g.UID > 0 && p.UID < 0:
		return &RefusedError{PID: p.PID, Reason: "its owner cannot be read, so it is probably another user's",
			Hint: "run the same command with sudo"}
	}
	return nil
}

// Signal checks p against the refusal rules, then sends sig to p, but only
// if p still is the process with p.StartTicks.
func (g *Guard) Signal(p *Process, sig syscall.Signal) error {
	if err := g.Check(p); err != nil {
		return err
	}
	return g.Signaller.Signal(p.PID, p.StartTicks, sig)
}

// Alive reports whether p still runs (and is still p).
func (g *Guard) Alive(p *Process) bool { return g.Signaller.Alive(p.PID, p.StartTicks) }

// ParseSignal parses a signal the way kill(1) takes it: "TERM", "SIGTERM",
// "term" or a number ("15"). Only the signals that stop or nudge a process
// are known by name; any number from 1 to 64 is accepted.
func ParseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return 0, errors.New("empty signal: give a name like TERM or a number like 15")
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("signal %q is out of range (1-64)", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	for _, ns := range signalNames {
		if ns.name == name {
			return ns.sig, nil
		}
	}
	known := make([]string, len(signalNames))
	for i, ns := range signalNames {
		known[i] = ns.name
	}
	return 0, fmt.Errorf("unknown signal %q (known: %s, or a number)", s, strings.Join(known, ", "))
}

// SignalName returns "SIGTERM" for syscall.SIGTERM, or "signal 42".
func SignalName(sig syscall.Signal) string {
	for _, ns := range signalNames {
		if ns.sig == sig {
			return "SIG" + ns.name
		}
	}
	return "signal " + strconv.Itoa(int(sig))
}

// signalNames are the signals known by name on every OS homeport builds for
// (Go's syscall package defines them on Windows too).
var signalNames = []struct {
	name string
	sig  syscall.Signal
}{
	{"TERM", syscall.SIGTERM},
	{"INT", syscall.SIGINT},
	{"HUP", syscall.SIGHUP},
	{"QUIT", syscall.SIGQUIT},
	{"KILL", syscall.SIGKILL},
}

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

// RefusalKind says why homeport will not signal a process. Callers decide
// on the kind (the dashboard maps it to a status, kill to a hint); Reason
// and Hint are only for people.
type RefusalKind int

// The refusals.
const (
	RefuseInit         RefusalKind = iota + 1 // pid 1, the first process of the system
	RefuseGroup                               // pid 0 or below: kill(2) would read it as a process group
	RefuseSelf                                // homeport itself
	RefuseParent                              // the shell or program running homeport
	RefuseOtherUser                           // another user's process, and homeport is not root
	RefuseUnknownOwner                        // the owner cannot be read, and homeport is not root
	RefuseKernel                              // Windows' System Idle Process or System (pid 0, 4)
	RefuseContainer                           // docker-proxy: the port belongs to a container
	RefuseOrphan                              // the owner has exited; children hold its socket (Windows)
)

// RefusedError is returned by Guard.Signal for a process homeport will not
// signal, whatever the operating system would allow.
type RefusedError struct {
	PID    int
	Kind   RefusalKind
	User   string // RefuseOtherUser: the owner's name, or its uid
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
// Signaller: never PID 1 or below (nor Windows' System, PID 4), never
// homeport itself or its parent (the shell or program that runs it), never
// docker-proxy (it forwards a container's published port: docker restarts
// it, and stopping the container is what frees the port), and never another
// user's process unless homeport runs as root. The OS would refuse the last
// one too; refusing first gives a message that says what to do.
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
		return &RefusedError{PID: p.PID, Kind: RefuseKernel, Reason: note.Reason, Hint: note.Hint}
	}
	switch {
	case p.PID == 1:
		return &RefusedError{PID: p.PID, Kind: RefuseInit, Reason: "it is init, the first process of the system"}
	case p.PID <= 0:
		return &RefusedError{PID: p.PID, Kind: RefuseGroup, Reason: "it is not a single process (pid 0 and below name process groups)"}
	case p.PID == g.Self:
		return &RefusedError{PID: p.PID, Kind: RefuseSelf, Reason: "it is homeport itself"}
	case p.PID == g.Parent:
		return &RefusedError{PID: p.PID, Kind: RefuseParent, Reason: "it is homeport's parent process (the shell or program running homeport)",
			Hint: "stop it from its own terminal, or run homeport from another shell"}
	case p.Name == "docker-proxy":
		return &RefusedError{PID: p.PID, Kind: RefuseContainer, Reason: "it forwards to a container",
			Hint: "stop the container"}
	case g.UID > 0 && p.UID >= 0 && p.UID != g.UID:
		user := p.User
		if user == "" {
			user = strconv.Itoa(p.UID)
		}
		return &RefusedError{PID: p.PID, Kind: RefuseOtherUser, User: user,
			Reason: fmt.Sprintf("it belongs to user %s and homeport is not running as root", user),
			Hint:   "run the same command with sudo"}
	case g.UID > 0 && p.UID < 0:
		return &RefusedError{PID: p.PID, Kind: RefuseUnknownOwner, Reason: "its owner cannot be read, so it is probably another user's",
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

// Continue resumes p if it is stopped (Ctrl-Z, SIGSTOP): a stopped process
// does not act on a signal, not even SIGTERM, until it runs again. Only
// SIGKILL reaches it without this. On Windows there is nothing to do.
func (g *Guard) Continue(p *Process) error {
	if sigCont == 0 {
		return nil
	}
	return g.Signal(p, sigCont)
}

// Stopped reports whether p was stopped when it was read: by a signal (T,
// Ctrl-Z or SIGSTOP) or by a debugger (t).
func (p *Process) Stopped() bool { return p.State == "T" || p.State == "t" }

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

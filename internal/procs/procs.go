// Package procs reads the facts homeport shows about a process (name, command
// line, user, start time) and signals processes safely.
//
// procs sits below sockets: the inventory joins sockets to the processes that
// own them, and needs nothing else from this package than Process and Get.
package procs

import (
	"errors"
	"time"
)

// ErrNotSupported is returned on operating systems without a process backend.
var ErrNotSupported = errors.New("process facts are not supported on this operating system")

// ErrGone is returned when the process exited before it could be read.
var ErrGone = errors.New("process no longer exists")

// Process holds what homeport shows about one process. Fields the OS would not
// reveal (another user's process when not root) stay at their zero value.
type Process struct {
	PID     int       `json:"pid"`
	PPID    int       `json:"ppid,omitempty"`
	Name    string    `json:"name"`              // kernel's short name (comm)
	State   string    `json:"state,omitempty"`   // one-letter state: R, S, D, T, Z ...
	UID     int       `json:"uid"`               // real user id; -1 when unknown
	User    string    `json:"user,omitempty"`    // user name for UID, or the number when it has none
	Cmdline []string  `json:"cmdline,omitempty"` // argv; empty for kernel threads and hidden processes
	Start   time.Time `json:"started,omitzero"`  // when the process started

	// StartTicks is the start time in the kernel's own unit (clock ticks
	// since boot on Linux). It identifies a process together with its PID:
	// a recycled PID has another start time.
	StartTicks uint64 `json:"-"`
}

// Command returns the command line joined by spaces, or the name in brackets
// when the command line is empty (kernel threads, zombies, hidden processes).
func (p *Process) Command() string {
	if len(p.Cmdline) == 0 {
		if p.Name == "" {
			return ""
		}
		return "[" + p.Name + "]"
	}
	n := len(p.Cmdline) - 1
	for _, a := range p.Cmdline {
		n += len(a)
	}
	b := make([]byte, 0, n)
	for i, a := range p.Cmdline {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, a...)
	}
	return string(b)
}

// Get reads the facts of one process. It returns an error wrapping ErrGone
// when the process does not exist (any more).
func Get(pid int) (*Process, error) {
	return get(pid)
}

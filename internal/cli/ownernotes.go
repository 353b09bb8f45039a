package cli

import (
	"errors"
	"fmt"
	"runtime"

	"homeport/internal/procs"
)

// OwnerNotes tells `who` and `kill` how to speak of owners on this
// operating system, and explains owners that are not ordinary processes
// (issue 6): Windows' kernel PIDs 0 and 4, and a PID that has exited while
// the socket it opened lives on in a child. Tests replace its parts.
type OwnerNotes struct {
	// Windows makes the hints say "an elevated prompt" instead of sudo,
	// and a socket without a visible owner one whose owner homeport could
	// not read: Windows has no PID namespaces.
	Windows bool

	// System explains a PID that is the kernel (procs.SystemProcessNote).
	System func(pid int, port uint16) (procs.Note, bool)

	// Orphan explains an owner that no longer exists; nil where the OS
	// cannot report one (Linux and macOS name the processes that hold the
	// socket, not the one that opened it).
	Orphan func(pid int, port uint16) (procs.Note, bool)
}

// SystemOwnerNotes returns the notes of the running operating system.
func SystemOwnerNotes() *OwnerNotes {
	n := &OwnerNotes{Windows: runtime.GOOS == "windows", System: procs.SystemProcessNote}
	if n.Windows {
		n.Orphan = orphanNote(procs.Get, procs.Children)
	}
	return n
}

// orphanNote returns an Orphan function over get and children: an owner is
// an orphan when get says its PID is gone, and the note names the children
// that children finds.
func orphanNote(get func(int) (*procs.Process, error), children func(int) ([]procs.Process, error)) func(int, uint16) (procs.Note, bool) {
	return func(pid int, port uint16) (procs.Note, bool) {
		if _, err := get(pid); !errors.Is(err, procs.ErrGone) {
			return procs.Note{}, false
		}
		kids, _ := children(pid) // none found is a note of its own
		return procs.OrphanNote(pid, port, kids), true
	}
}

// ownerNotes returns n, or the running system's notes when n is nil.
func ownerNotes(n *OwnerNotes) *OwnerNotes {
	if n == nil {
		return SystemOwnerNotes()
	}
	return n
}

// note explains the owner pid of port when it is not an ordinary process.
func (n *OwnerNotes) note(pid int, port uint16) (procs.Note, bool) {
	if n.System != nil {
		if note, ok := n.System(pid, port); ok {
			return note, true
		}
	}
	if n.Orphan != nil {
		return n.Orphan(pid, port)
	}
	return procs.Note{}, false
}

// elevate says how to run cmd with the rights to see or stop every process:
// "sudo homeport kill 80", or on Windows the same from an elevated prompt.
func (n *OwnerNotes) elevate(cmd string) string {
	if n.Windows {
		return fmt.Sprintf("run `%s` from an elevated prompt (Run as administrator)", cmd)
	}
	return "sudo " + cmd
}

// unseen says who holds a socket whose owner is not visible, for "N is
// held by ...".
func (n *OwnerNotes) unseen(user string) string {
	switch {
	case n.Windows:
		return "a process homeport cannot read (run from an elevated prompt to see which)"
	case user != "":
		return fmt.Sprintf("a process of user %s that homeport cannot see (run with sudo to see which)", user)
	}
	return "a process outside this PID namespace, or the kernel (no visible owner)"
}

package cli

import (
	"errors"
	"fmt"
	"os"
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

	// EUID is the user homeport runs as (os.Geteuid; -1 on Windows): as
	// root, a socket without a visible owner is outside this PID
	// namespace; as another user, it may be another user's.
	EUID int

	// System explains a PID that is the kernel (procs.SystemProcessNote).
	System func(pid int, port uint16) (procs.Note, bool)

	// Orphan explains an owner that no longer exists; nil where the OS
	// cannot report one (Linux and macOS name the processes that hold the
	// socket, not the one that opened it).
	Orphan func(pid int, port uint16) (procs.Note, bool)
}

// SystemOwnerNotes returns the notes of the running operating system.
func SystemOwnerNotes() *OwnerNotes {
	n := &OwnerNotes{Windows: runtime.GOOS == "windows", EUID: os.Geteuid(), System: procs.SystemProcessNote}
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

// unseen says who holds a socket of user uid (-1: unknown) whose owner is
// not visible, for "N is held by ...", and what shows the owner, as a hint
// for cmd ("" when nothing would). As root, an owner is invisible when it
// runs outside this PID namespace or is the kernel; as another user, the
// socket's uid still tells whose it is.
func (n *OwnerNotes) unseen(uid int, cmd string) (who, hint string) {
	switch {
	case n.Windows:
		return "a process homeport cannot read (run from an elevated prompt to see which)", ""
	case n.EUID != 0 && uid >= 0 && uid != n.EUID:
		// The socket's uid is its creator's: a daemon that dropped to
		// another user after binding (dnsmasq) still shows root.
		return fmt.Sprintf("a process that user %s cannot see (its socket is %s's, uid %d)", procs.UserName(n.EUID), procs.UserName(uid), uid),
			n.elevate(cmd) + " shows the process"
	case n.EUID != 0 && uid == n.EUID:
		// Daemons started by root that change to this user (memcached -u
		// nobody) are not dumpable: their files cannot be read by the
		// user they run as.
		return fmt.Sprintf("a process that homeport cannot read, though its socket is yours (%s): one started by root that changed to this user, or one outside this PID namespace", procs.UserName(uid)),
			n.elevate(cmd) + " shows the process"
	case n.EUID != 0:
		return "a process homeport cannot see", n.elevate(cmd) + " shows the process"
	case uid > 0:
		return fmt.Sprintf("a process of user %s outside this PID namespace (no visible owner)", procs.UserName(uid)), ""
	}
	return "a process outside this PID namespace, or the kernel (no visible owner)", ""
}

package sockets

import "context"

// Tracker takes inventories one after another and keeps what it learned about
// owners between them, so that a poller looking every second does not read
// every process's open files every second. The first Take costs as much as
// Take; later ones reuse the owners of sockets seen before while their
// process lives on with the same start time, and read /proc/<pid>/fd again
// only for processes that are new since the last Take, or for every process
// when a socket appears that no known process holds.
//
// Reused owners can be stale in one way: a process that handed a socket to
// another process it did not fork (SCM_RIGHTS) and closed its own copy is
// still shown as an owner until it exits. Forked workers are new processes
// and are found.
//
// On operating systems whose inventory names owners itself (Windows, macOS)
// Take is a plain Take. A Tracker is not safe for concurrent use.
type Tracker struct {
	st trackerState
}

// NewTracker returns a Tracker with nothing learned yet.
func NewTracker() *Tracker { return &Tracker{} }

// Take lists the sockets matching f, as the package's Take does. f.PIDs and
// f.NoOwners are honoured by a full Take.
func (t *Tracker) Take(ctx context.Context, f Filter) (*Snapshot, error) {
	if f.NoOwners || len(f.PIDs) > 0 {
		return Take(ctx, f)
	}
	return t.st.take(ctx, f)
}

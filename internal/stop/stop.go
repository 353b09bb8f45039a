// Package stop frees ports: it finds the processes that listen on them,
// leaves alone the ones homeport must not touch, signals the others, waits
// for them to go, escalates to the next signal when they do not, and reads
// the inventory again to tell whether each port is free. `homeport kill`,
// the dashboard and the project runner share it.
//
// It sits above sockets and procs and below the surfaces that use it:
// freeing a port needs the inventory (who holds it, who is connected to it,
// what else the process holds) and safe signalling (procs.Guard) together,
// and sockets already imports procs, so neither of them can hold it. procs
// keeps what concerns one process: the refusal rules, pidfd signalling, and
// what homeport knows about how servers stop (procs.StopSteps).
//
// Results are typed: each process gets an Outcome with a Kind and details,
// each port a Port with what held it before and after. Callers render them;
// nothing here is a sentence meant to be searched.
package stop

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// Target is one port to free.
type Target struct {
	Port uint16
	// Proto narrows the target to one protocol; "" means every protocol
	// (a bare "kill 5353" frees a UDP-only port too).
	Proto sockets.Proto
	// Accepts, when not nil, keeps only the listeners that take
	// connections to the address the user named ("localhost:3000" is not
	// held by a listener on 192.0.2.1:3000). nil: every address.
	Accepts func(*sockets.Socket) bool
}

// Expect names a process the way a caller showed it to a person (the
// dashboard's row: pid, start time, socket): Free signals it only if the
// same process still holds that socket, and reports Changed otherwise.
type Expect struct {
	PID int
	// Start is the start time that was shown (procs.Process.Start), or
	// StartTicks its value in the kernel's unit; either identifies the
	// process together with PID. Both zero: not checked.
	Start      time.Time
	StartTicks uint64
	// Inode is the socket that was shown (sockets.Socket.Inode); 0: not
	// checked.
	Inode uint64
}

// Request says what to free and how.
type Request struct {
	Targets []Target

	// Signal is the first signal; 0 sends each process its own clean one
	// (SIGINT to PostgreSQL, SIGTERM to most: procs.StopSteps). Further
	// signals follow by the process's ladder, SIGKILL last.
	Signal syscall.Signal

	// Timeout is how long each signal gets before the next is sent; 0: 5s.
	Timeout time.Duration
	// KillWait is how long to wait for processes to go after SIGKILL; 0: 2s.
	KillWait time.Duration

	// Expect, when not empty, limits the victims to these processes, each
	// signalled only if it still is what the caller showed.
	Expect []Expect

	// DryRun plans and stops there: nothing is signalled.
	DryRun bool

	// Confirm, when not nil, is called once with the plan before any
	// signal, when there is a process to signal (never in a dry run): the
	// CLI shows the plan and asks. Returning false stops there, and every
	// process that would have been signalled gets Declined. nil: go ahead
	// (the daemon, whose user has already said yes).
	Confirm func(*Report) bool
}

// Kind is what happened to one process.
type Kind int

// The outcomes.
const (
	// Pending: planned, not (yet) signalled; every victim of a dry run.
	Pending Kind = iota
	// ExitedOnSignal: it exited on Outcome.Signal, after Outcome.After.
	ExitedOnSignal
	// StoppedListening: its ports are free, but it still runs (shutting
	// down, or it let go of the socket).
	StoppedListening
	// Killed: it did not stop on the gentler signals (Outcome.Resisted)
	// and exited on SIGKILL.
	Killed
	// Refused: homeport will not signal it (Victim.Refused says why, or
	// Victim.Note for an owner that is not an ordinary process).
	Refused
	// PermissionDenied: the OS refused the signal.
	PermissionDenied
	// StillRunning: it outlived every signal homeport sent (stuck in the
	// kernel after SIGKILL), or the wait was interrupted.
	StillRunning
	// Gone: it had exited before the first signal.
	Gone
	// Changed: the process is not the one that was planned or expected:
	// its pid now names another process (Outcome.Now), or it no longer
	// holds the socket the caller showed. It was left alone.
	Changed
	// Declined: Confirm said no; nothing was sent.
	Declined
	// Failed: signalling failed for another reason (Outcome.Err).
	Failed
)

var kindNames = [...]string{
	Pending: "pending", ExitedOnSignal: "exited", StoppedListening: "stopped-listening", Killed: "killed",
	Refused: "refused", PermissionDenied: "permission-denied", StillRunning: "still-running", Gone: "gone",
	Changed: "changed", Declined: "declined", Failed: "failed",
}

// String names the kind for logs and JSON: "exited", "killed", "changed".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// MarshalText makes kinds readable in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Outcome is what happened to one process, with the details to tell it.
type Outcome struct {
	Kind Kind
	// Signal is the signal it went on (ExitedOnSignal, StoppedListening,
	// Killed).
	Signal syscall.Signal
	// Sent are the signals delivered, in order.
	Sent []syscall.Signal
	// After is the time from the first signal to its exit, or to its ports
	// being free.
	After time.Duration
	// WasStopped: it was stopped (Ctrl-Z, SIGSTOP) and was resumed with
	// SIGCONT after the signal, without which only SIGKILL reaches it.
	WasStopped bool
	// Resisted are the signals it did not stop on in time, each with what
	// it was waiting for.
	Resisted []Resisted
	// Now is, for Changed, the process its pid names now (nil: none).
	Now *procs.Process
	// Err is what the OS said, for Failed and PermissionDenied.
	Err error
}

// Resisted is a signal a process did not stop on within the timeout.
type Resisted struct {
	Step procs.Step
	// Clients are the connections still open to its ports when the time
	// was up: what a server that waits for its clients is waiting for.
	Clients []Client
	// Next is the signal sent next; 0 when none was (interrupted).
	Next procs.Step
}

// Client is a connection to a victim's port.
type Client struct {
	Local  netip.AddrPort // the victim's end
	Remote netip.AddrPort // the client's end
	// Process is the client, when it runs on this machine and homeport
	// can see it.
	Process *procs.Process
}

// Victim is one process that holds a target.
type Victim struct {
	Process procs.Process
	// Holds are its listeners on the targets.
	Holds []sockets.Socket
	// Also are its other listeners: they close with it.
	Also []sockets.Socket
	// Steps are the signals planned for it, in order (procs.StopSteps).
	Steps []procs.Step
	// Server is what homeport knows of it as a server; nil: ordinary.
	Server *procs.Server
	// Refused says why it will not be signalled (Outcome.Kind Refused).
	Refused *procs.RefusedError
	// Note explains an owner that is not an ordinary process (Windows'
	// kernel, an owner that exited while children hold its socket).
	Note *procs.Note
	// Port is the first target port it holds.
	Port    uint16
	Outcome Outcome

	sent    bool // a signal was delivered
	gone    time.Duration
	stepped int // signals of Steps sent
}

// UnseenKind says why the owner of a listener could not be seen.
type UnseenKind int

// The reasons an owner is not visible.
const (
	// UnseenOtherUser: the socket belongs to another user (Unseen.UID),
	// and homeport is not root.
	UnseenOtherUser UnseenKind = iota + 1
	// UnseenOwnUser: the socket belongs to homeport's own user, but the
	// process cannot be read: it changed credentials (setuid, setgid, or
	// capabilities), which makes the kernel hide its files even from
	// that user. Root can see it.
	UnseenOwnUser
	// UnseenNamespace: homeport may read every process and still sees no
	// owner: the process runs outside this PID namespace (a container),
	// or the kernel holds the socket.
	UnseenNamespace
	// UnseenUnknown: the socket's user is not known (Windows).
	UnseenUnknown
)

// Unseen is a listener on a target whose owner homeport cannot see.
type Unseen struct {
	Kind   UnseenKind
	UID    int // the socket's user; -1 unknown
	Socket sockets.Socket
}

// Port is one target, before and after.
type Port struct {
	Target Target
	// Sockets are the listeners that held it when the plan was made.
	Sockets []sockets.Socket
	// Unseen are those of Sockets whose owner could not be seen.
	Unseen []Unseen
	// Checked: the inventory was read again after signalling.
	Checked bool
	// Left are the listeners still there when it was read again.
	Left []sockets.Socket
	// Restarted: a listener of Left belongs to a process that was not a
	// victim: something (a supervisor, a watcher) started it again.
	Restarted bool
}

// Held reports whether anything listened on the port when planned.
func (p *Port) Held() bool { return len(p.Sockets) > 0 }

// Free reports whether the port was free when read again.
func (p *Port) Free() bool { return p.Checked && len(p.Left) == 0 }

// Report is the plan and what came of it.
type Report struct {
	Ports   []*Port
	Victims []*Victim
	// DryRun: the report is the plan only.
	DryRun bool
}

// ToSignal returns the victims the plan will signal.
func (r *Report) ToSignal() []*Victim {
	var out []*Victim
	for _, v := range r.Victims {
		if v.Refused == nil && v.Note == nil && v.Outcome.Kind == Pending {
			out = append(out, v)
		}
	}
	return out
}

// Held reports whether any target was held.
func (r *Report) Held() bool {
	return slices.ContainsFunc(r.Ports, (*Port).Held)
}

// NotFreed returns the targets that were held and are still held.
func (r *Report) NotFreed() []*Port {
	var out []*Port
	for _, p := range r.Ports {
		if p.Held() && !p.Free() {
			out = append(out, p)
		}
	}
	return out
}

// Engine frees ports on this system; its parts are what tests replace.
type Engine struct {
	// Take reads the socket inventory; nil: sockets.Take.
	Take func(context.Context, sockets.Filter) (*sockets.Snapshot, error)
	// Guard applies the refusal rules and signals; nil: procs.NewGuard().
	Guard *procs.Guard
	// Note explains an owner of port that is not an ordinary process,
	// which is never signalled; nil: none.
	Note func(pid int, port uint16) (procs.Note, bool)
	// Poll is the longest pause between two checks of whether a process
	// has gone (the first checks come sooner); 0: 5ms.
	Poll time.Duration
}

// ErrNoTargets is returned for a request without targets.
var ErrNoTargets = errors.New("no port to free")

// Free plans, asks (Request.Confirm), signals, waits, escalates and checks
// the ports again. Its error is for the inventory failing or a bad
// request; what happened to each process and port is in the Report.
func (e *Engine) Free(ctx context.Context, req Request) (*Report, error) {
	if len(req.Targets) == 0 {
		return nil, ErrNoTargets
	}
	e = e.withDefaults()
	if req.Timeout <= 0 {
		req.Timeout = 5 * time.Second
	}
	if req.KillWait <= 0 {
		req.KillWait = 2 * time.Second
	}
	r, err := e.plan(ctx, &req)
	if err != nil {
		return nil, err
	}
	if req.DryRun {
		r.DryRun = true
		return r, nil
	}
	victims := r.ToSignal()
	if len(victims) > 0 && req.Confirm != nil && !req.Confirm(r) {
		for _, v := range victims {
			v.Outcome.Kind = Declined
		}
		return r, nil
	}
	if len(victims) > 0 {
		e.signal(ctx, &req, r, victims)
	}
	// Interrupted or not, say where the ports stand: one quick read.
	if err := e.verify(context.WithoutCancel(ctx), r); err != nil {
		return r, err
	}
	return r, nil
}

func (e *Engine) withDefaults() *Engine {
	c := *e
	if c.Take == nil {
		c.Take = sockets.Take
	}
	if c.Guard == nil {
		c.Guard = procs.NewGuard()
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Millisecond
	}
	return &c
}

// listeners lists the listening sockets that hold t.
func (e *Engine) listeners(ctx context.Context, t Target, noOwners bool) ([]sockets.Socket, error) {
	f := sockets.Filter{Port: t.Port, TCP: t.Proto == sockets.TCP, UDP: t.Proto == sockets.UDP, NoOwners: noOwners}
	snap, err := e.Take(ctx, f)
	if err != nil {
		return nil, err
	}
	socks := snap.Sockets
	if t.Accepts != nil {
		socks = slices.DeleteFunc(slices.Clone(socks), func(s sockets.Socket) bool { return !t.Accepts(&s) })
	}
	return socks, nil
}

// sameSocket reports whether a and b are one socket.
func sameSocket(a, b *sockets.Socket) bool {
	if a.Inode != 0 || b.Inode != 0 {
		return a.Inode == b.Inode
	}
	return a.Proto == b.Proto && a.Local == b.Local
}

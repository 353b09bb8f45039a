// Package watch turns repeated socket inventories into changes: a socket
// opened, closed, or changed owner. The dashboard, `homeport top` and
// `ports --watch` all stand on it.
//
// A Poller takes an inventory every Interval through a sockets.Tracker, which
// keeps the owners it found between polls, so that watching 10,000 listeners
// does not mean reading every process's open files every second. A Hub fans
// the updates out to any number of subscribers, dropping the slow ones rather
// than waiting for them.
package watch

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// DefaultInterval is how often a Poller looks when Options.Interval is zero.
const DefaultInterval = time.Second

// Kind is what happened to a socket between two polls.
type Kind uint8

// The kinds of change.
const (
	Opened  Kind = iota + 1 // the socket is new
	Closed                  // the socket is gone
	Changed                 // the socket's owners changed
)

var kindNames = [...]string{Opened: "open", Closed: "close", Changed: "change"}

// String returns the kind as JSON shows it: "open", "close" or "change".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// MarshalText makes kinds readable in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is one change. For Closed, Socket is the socket as last seen; for
// Changed, Previous is the socket as seen before with its old owners.
type Event struct {
	Kind     Kind
	Socket   sockets.Socket
	Previous *sockets.Socket
}

// Update is the outcome of one poll.
type Update struct {
	// At is when the inventory was taken.
	At time.Time

	// Snapshot is every socket that matches the filter, in sockets.Sort's
	// order. It is shared with every subscriber: treat it as read-only.
	Snapshot []sockets.Socket

	// Events are the changes since the previous poll, closed sockets first,
	// then the others in Snapshot's order. Empty in the first update.
	Events []Event

	// Initial marks the first update a poller or a subscription delivers:
	// its Snapshot is the starting point, not a change.
	Initial bool

	// Hidden counts processes whose sockets could not be seen for lack of
	// permission (see sockets.Snapshot).
	Hidden int

	// Took is how long the inventory took.
	Took time.Duration
}

// Options configure a Poller.
type Options struct {
	// Interval between polls; DefaultInterval when zero.
	Interval time.Duration

	// Filter says which sockets to watch (sockets.Filter's zero value: TCP
	// and UDP listeners with their owners).
	Filter sockets.Filter

	// Take takes one inventory; a sockets.Tracker's Take when nil. Tests
	// replace it.
	Take func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error)
}

// Poller polls the inventory and reports changes. It is not safe for
// concurrent use: one goroutine calls Poll or Run.
type Poller struct {
	opts       Options
	prev, next index
	done       bool // a first poll happened
}

// New returns a Poller with opts.
func New(opts Options) *Poller {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Take == nil {
		opts.Take = sockets.NewTracker().Take
	}
	return &Poller{opts: opts, prev: newIndex(), next: newIndex()}
}

// Interval returns the time between polls.
func (p *Poller) Interval() time.Duration { return p.opts.Interval }

// key identifies a socket across polls: the same protocol, addresses and
// inode are the same socket. A socket closed and opened again on the same
// port has a new inode, so it is a close and an open, not a change.
type key struct {
	proto  sockets.Proto
	local  netip.AddrPort
	remote netip.AddrPort
	inode  uint64
}

func keyOf(s *sockets.Socket) key {
	return key{proto: s.Proto, local: s.Local, remote: s.Remote, inode: s.Inode}
}

// index finds a socket of one poll by its key. Sockets with an inode (all
// of them on Linux) are looked up by the inode alone, a much cheaper map
// key than the addresses, and then compared in full.
type index struct {
	socks   []sockets.Socket
	byInode map[uint64]int
	byKey   map[key]int
}

func newIndex() index { return index{byInode: map[uint64]int{}, byKey: map[key]int{}} }

func (x *index) reset(socks []sockets.Socket) {
	clear(x.byInode)
	clear(x.byKey)
	x.socks = socks
	for i := range socks {
		if ino := socks[i].Inode; ino != 0 {
			x.byInode[ino] = i
		} else {
			x.byKey[keyOf(&socks[i])] = i
		}
	}
}

// find returns the index of s's socket in x, or -1.
func (x *index) find(s *sockets.Socket) int {
	if s.Inode == 0 {
		if i, ok := x.byKey[keyOf(s)]; ok {
			return i
		}
		return -1
	}
	i, ok := x.byInode[s.Inode]
	if !ok {
		return -1
	}
	o := &x.socks[i]
	if o.Proto != s.Proto || o.Local != s.Local || o.Remote != s.Remote {
		return -1
	}
	return i
}

// Poll takes one inventory and returns it with the changes since the last
// Poll. A failed inventory returns the error and changes nothing: the next
// Poll compares with the last good one.
func (p *Poller) Poll(ctx context.Context) (Update, error) {
	start := time.Now()
	snap, err := p.opts.Take(ctx, p.opts.Filter)
	if err != nil {
		return Update{}, err
	}
	u := Update{At: start, Snapshot: snap.Sockets, Hidden: snap.Hidden, Initial: !p.done}
	p.next.reset(snap.Sockets)
	if p.done {
		u.Events = diff(&p.prev, &p.next)
	}
	p.prev, p.next = p.next, p.prev
	p.done = true
	u.Took = time.Since(start)
	return u, nil
}

// diff lists what changed from old to cur.
func diff(old, cur *index) []Event {
	var evs []Event
	for i := range old.socks {
		if cur.find(&old.socks[i]) < 0 {
			evs = append(evs, Event{Kind: Closed, Socket: old.socks[i]})
		}
	}
	for i := range cur.socks {
		s := &cur.socks[i]
		j := old.find(s)
		switch {
		case j < 0:
			evs = append(evs, Event{Kind: Opened, Socket: *s})
		case !sameOwners(old.socks[j].Owners, s.Owners):
			prev := old.socks[j]
			evs = append(evs, Event{Kind: Changed, Socket: *s, Previous: &prev})
		}
	}
	return evs
}

// sameOwners compares owner lists by process identity: pid and start time.
func sameOwners(a, b []procs.Process) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) > 0 && &a[0] == &b[0] {
		return true // the tracker kept the same shared slice
	}
	return slices.EqualFunc(a, b, func(x, y procs.Process) bool {
		return x.PID == y.PID && x.StartTicks == y.StartTicks && x.Name == y.Name
	})
}

// Run polls until ctx ends, calling fn with each update, the first one
// (Initial) at once. Failed polls are passed to onErr when it is not nil and
// retried at the next tick. Run returns ctx's error.
func (p *Poller) Run(ctx context.Context, fn func(Update), onErr func(error)) error {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		u, err := p.Poll(ctx)
		switch {
		case err == nil:
			fn(u)
		case ctx.Err() != nil:
			return ctx.Err()
		case onErr != nil && !errors.Is(err, context.Canceled):
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

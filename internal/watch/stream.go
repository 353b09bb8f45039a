package watch

import (
	"context"

	"homeport/internal/sockets"
)

// StreamOptions say what Stream shows and where it goes.
type StreamOptions struct {
	// Keep narrows the stream to the sockets it returns true for (the
	// filters the inventory cannot apply itself: several ports, exposure,
	// user, process name); nil keeps every socket.
	Keep func(*sockets.Socket) bool

	// Start receives the kept sockets of the first inventory, the state
	// the changes start from.
	Start func(at Update, socks []sockets.Socket) error

	// Event receives each change to a kept socket, in order.
	Event func(at Update, ev Event) error

	// OnError is told of a failed inventory; the stream goes on at the next
	// tick. nil: ignored.
	OnError func(error)
}

// Stream polls until ctx ends or a callback fails, and hands the changes to
// opts, narrowed by Keep: a socket that starts to match (a new owner whose
// name matches --process) is an Opened, one that stops matching a Closed, so
// that a reader sees each socket open once and close once. It returns the
// first callback error, or nil when ctx ended.
func (p *Poller) Stream(ctx context.Context, opts StreamOptions) error {
	keep := opts.Keep
	if keep == nil {
		keep = func(*sockets.Socket) bool { return true }
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var failed error
	fail := func(err error) {
		if err != nil && failed == nil {
			failed = err
			cancel()
		}
	}
	var kept []sockets.Socket
	p.Run(ctx, func(u Update) {
		if failed != nil {
			return
		}
		if u.Initial {
			kept = kept[:0]
			for i := range u.Snapshot {
				if keep(&u.Snapshot[i]) {
					kept = append(kept, u.Snapshot[i])
				}
			}
			if opts.Start != nil {
				fail(opts.Start(u, kept))
			}
			return
		}
		for _, ev := range u.Events {
			ev, ok := narrow(ev, keep)
			if !ok || opts.Event == nil {
				continue
			}
			fail(opts.Event(u, ev))
			if failed != nil {
				return
			}
		}
	}, opts.OnError)
	return failed
}

// narrow turns ev into the change a reader of the kept sockets sees, if any.
func narrow(ev Event, keep func(*sockets.Socket) bool) (Event, bool) {
	if ev.Kind != Changed {
		return ev, keep(&ev.Socket)
	}
	was, is := keep(ev.Previous), keep(&ev.Socket)
	switch {
	case was && is:
		return ev, true
	case is:
		return Event{Kind: Opened, Socket: ev.Socket}, true
	case was:
		return Event{Kind: Closed, Socket: *ev.Previous}, true
	}
	return ev, false
}

package ports

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"homeport/internal/sockets"
)

// Holding is what holds a target.
type Holding struct {
	Target Target

	// Sockets are the listeners that answer the target: on its port, of
	// its protocol (every protocol for a target that names none), and, when
	// the target names a host, taking connections to one of its addresses.
	Sockets []sockets.Socket

	// OnPort are the listeners on the port of the target's protocols, the
	// address aside: where the port is held when Sockets is empty.
	OnPort []sockets.Socket

	// Hidden counts the processes whose sockets could not be read for lack
	// of permission (sockets.Snapshot.Hidden).
	Hidden int
}

// Held reports whether anything answers the target.
func (h *Holding) Held() bool { return len(h.Sockets) > 0 }

// ResolveError is a target's host that did not resolve.
type ResolveError struct {
	Host string
	Err  error
}

func (e *ResolveError) Error() string {
	return fmt.Sprintf("cannot resolve %q: %s", e.Host, seenOf(e.Err))
}
func (e *ResolveError) Unwrap() error { return e.Err }

// Holders finds what holds target t: it takes the inventory of t's port with
// take (sockets.Take, or a test's), and keeps the listeners that answer t's
// host, resolved with r as Resolve does. An inventory error is returned as
// take gave it; a host that does not resolve is a *ResolveError.
func Holders(ctx context.Context, take func(context.Context, sockets.Filter) (*sockets.Snapshot, error), t Target, r Resolver) (*Holding, error) {
	snap, err := take(ctx, t.Filter())
	if err != nil {
		return nil, err
	}
	h := &Holding{Target: t, OnPort: snap.Sockets, Sockets: snap.Sockets, Hidden: snap.Hidden}
	if t.Host == "" {
		return h, nil
	}
	addrs, err := Resolve(ctx, r, t.Host)
	if err != nil {
		return nil, &ResolveError{Host: t.Host, Err: err}
	}
	h.Sockets = slices.DeleteFunc(slices.Clone(snap.Sockets), func(s sockets.Socket) bool {
		return !slices.ContainsFunc(addrs, func(a netip.Addr) bool { return s.Takes(a) })
	})
	return h, nil
}

package stop

import (
	"context"
	"fmt"
	"slices"

	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// TargetOf turns a target as the user typed it into the engine's: its port,
// its protocol ("" for a bare port: every protocol), and, when it names an
// address, the listeners that take connections to that address
// (`kill localhost:3000` is not `kill 3000` on 192.0.2.1). localhost means
// both loopbacks, as ports.Resolve has it; r nil is the system's resolver.
func TargetOf(ctx context.Context, t ports.Target, r ports.Resolver) (Target, error) {
	st := Target{Port: t.Port}
	if !t.AnyProto {
		st.Proto = sockets.Proto(t.Proto)
	}
	if t.Host == "" {
		return st, nil
	}
	addrs, err := ports.Resolve(ctx, r, t.Host)
	if err != nil {
		return st, &ResolveError{Host: t.Host, Port: t.Port, Err: err}
	}
	st.Accepts = func(s *sockets.Socket) bool { return slices.ContainsFunc(addrs, s.Takes) }
	return st, nil
}

// ResolveError is returned by TargetOf when the target's host does not
// resolve.
type ResolveError struct {
	Host string
	Port uint16
	Err  error
}

func (e *ResolveError) Error() string { return fmt.Sprintf("cannot resolve %q: %v", e.Host, e.Err) }
func (e *ResolveError) Unwrap() error { return e.Err }

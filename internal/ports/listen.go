package ports

// The port policy: how homeport's own servers (`serve`, the daemon, the
// router) take their port, and what they learn when it is taken.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"homeport/internal/sockets"
)

// LoopbackHosts are where homeport's servers listen unless told otherwise:
// both loopbacks, so that "localhost" works whichever family a client
// resolves it to.
var LoopbackHosts = []string{"127.0.0.1", "::1"}

// MaxMoves bounds how many ports past the wanted one Listen tries with
// ListenOptions.Move.
const MaxMoves = 100

// ListenOptions say where Listen listens and what it does when the port is
// refused.
type ListenOptions struct {
	// Hosts are IP literals ("127.0.0.1", "::1", a LAN address), not names;
	// empty means LoopbackHosts.
	Hosts []string
	// Port is the wanted port; 0 asks for any free port, the same on every
	// host.
	Port int
	// Move, when the port is refused, tries the next ports (at most
	// MaxMoves of them, and past a whole excluded range at once) and
	// listens on the first that every host takes. Without Move a refused
	// port is a *PortError.
	Move bool
	// Inventory reads the sockets on a port to name its holder; nil means
	// sockets.Take. An inventory that fails leaves the holder unnamed.
	Inventory func(context.Context, sockets.Filter) (*sockets.Snapshot, error)
	// Reserved tells the ports the OS keeps from programs (Windows'
	// excluded ranges) and its dynamic range; nil means SystemReserved().
	// It is asked only once a port has been refused.
	Reserved ReservedRanges
}

// Listening is what Listen opened.
type Listening struct {
	// Listeners are open on Port, one per host that exists here, in the
	// order of the hosts. The caller closes them.
	Listeners []net.Listener
	// Port is the port listened on: the wanted one, the one picked for
	// port 0, or the one moved to.
	Port int
	// Absent are the hosts whose address or family this machine lacks
	// (no IPv6 loopback): not listened on. A host is absent only when
	// another one listens.
	Absent []string
	// Passed are the ports refused before Port, in order (only with Move).
	Passed []Refusal
}

// RefusalKind is why a port could not be had.
type RefusalKind int

const (
	// Held: the port is in use. Owners names the listening processes
	// when the inventory can see them.
	Held RefusalKind = iota + 1
	// Excluded: the OS keeps the port from every program (a Windows
	// excluded range); nobody holds it. Exclusion is the range.
	Excluded
)

// Refusal says why one port could not be had.
type Refusal struct {
	Port int
	Kind RefusalKind
	// Owners are the processes listening on Port (Held). Empty when the
	// inventory cannot see them: another user's process without root, a
	// process outside this PID namespace, or no listener at all.
	Owners []Owner
	// Dynamic, for a Held port that no listener holds, is the OS's dynamic
	// range when Port lies in it: an outgoing connection took the port as
	// its local one and keeps it for a while. The zero Range otherwise.
	Dynamic Range
	// Exclusion is the excluded range that holds Port (Excluded).
	Exclusion Exclusion
}

// Owner is a process that listens on a refused port.
type Owner struct {
	PID  int
	Name string
}

// String says what r means in a sentence for a user: "port 62893 is held
// by node (pid 4242)", "port 62893 is taken", or the exclusion's Explain.
// Programs read the fields, not this.
func (r Refusal) String() string {
	if r.Kind == Excluded {
		return r.Exclusion.Explain(uint16(r.Port))
	}
	if len(r.Owners) == 0 {
		return fmt.Sprintf("port %d is taken", r.Port)
	}
	names := make([]string, len(r.Owners))
	for i, h := range r.Owners {
		names[i] = fmt.Sprintf("%s (pid %d)", h.Name, h.PID)
	}
	return fmt.Sprintf("port %d is held by %s", r.Port, strings.Join(names, ", "))
}

// PortError is Listen's error when the port cannot be had: the wanted one
// without Move, or every port tried with it.
type PortError struct {
	// Refusal is the last port tried (the wanted one without Move).
	Refusal
	// Passed, with Move, are the ports refused before it.
	Passed []Refusal
	// Exhausted is true when Move ran out of ports to try (MaxMoves, or
	// port 65535).
	Exhausted bool
}

func (e *PortError) Error() string {
	if e.Exhausted && len(e.Passed) > 0 {
		return fmt.Sprintf("ports %d-%d are all taken or excluded", e.Passed[0].Port, e.Port)
	}
	return e.Refusal.String()
}

// Listen opens TCP listeners on every host at one port, so that a taken
// port is known before anything is served (net.Listen first, then Serve).
//
// When the port is refused on any host, Listen closes what it opened and
// finds out why: a Windows excluded range (from o.Reserved), or in use, in
// which case it names the listening processes from o.Inventory and, when
// none is seen and the port lies in the dynamic range, says so (an
// outgoing connection may hold it). Then, with o.Move, it tries the next
// port; without, it returns a *PortError. This is `homeport serve`'s "port
// 62893 is held by node (pid 4242); trying 62894", and the daemon's "port
// 62893 is held by node (pid 4242)" before it exits 1 (a router that moves
// breaks every NAME.localhost URL).
//
// Any other failure (permission to bind a low port, a host that is not an
// address of this machine while no other listens) is returned wrapped, and
// is not a *PortError.
func Listen(ctx context.Context, o ListenOptions) (*Listening, error) {
	hosts := o.Hosts
	if len(hosts) == 0 {
		hosts = LoopbackHosts
	}
	take := o.Inventory
	if take == nil {
		take = sockets.Take
	}
	reserved := o.Reserved
	if reserved == nil {
		reserved = SystemReserved()
	}
	var excluded []Exclusion // read at the first refusal, once
	exRead := false
	var passed []Refusal
	port := o.Port
	for {
		lns, absent, err := listenAll(hosts, port)
		if err == nil {
			return &Listening{Listeners: lns, Port: lns[0].Addr().(*net.TCPAddr).Port, Absent: absent, Passed: passed}, nil
		}
		if !exRead {
			excluded, exRead = excludedRanges(ctx, reserved), true
		}
		var r Refusal
		next := port + 1
		// A port Windows excludes (Hyper-V, WinNAT, Docker) fails with
		// "access forbidden", not "in use", and nobody holds it.
		if e, ok := ExcludedAt(excluded, uint16(port)); ok && port != 0 {
			r = Refusal{Port: port, Kind: Excluded, Exclusion: e}
			next = int(e.Hi) + 1
		} else if IsAddrInUse(err) && port != 0 {
			r = Refusal{Port: port, Kind: Held, Owners: owners(ctx, take, port)}
			if len(r.Owners) == 0 {
				if dyn := dynamicRange(ctx, reserved); dyn.Contains(uint16(port)) {
					r.Dynamic = dyn
				}
			}
		} else {
			return nil, err
		}
		if !o.Move {
			return nil, &PortError{Refusal: r}
		}
		if next > 65535 || len(passed) == MaxMoves {
			return nil, &PortError{Refusal: r, Passed: passed, Exhausted: true}
		}
		passed = append(passed, r)
		port = next
	}
}

// listenAll listens on each host at port. With port 0 the first host
// picks a free port and the others take the same one; should that port be
// taken on another host, it picks again.
func listenAll(hosts []string, port int) (lns []net.Listener, absent []string, err error) {
	for try := 0; ; try++ {
		lns, absent, err = listenOnce(hosts, port)
		if err == nil || port != 0 || !IsAddrInUse(err) || try == 20 {
			return lns, absent, err
		}
	}
}

func listenOnce(hosts []string, port int) ([]net.Listener, []string, error) {
	var lns []net.Listener
	var absent []string
	for _, h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
		if err != nil {
			if len(lns) > 0 && unavailable(err) {
				absent = append(absent, h)
				continue
			}
			for _, l := range lns {
				l.Close()
			}
			return nil, nil, err // net.OpError names the address
		}
		if port == 0 {
			port = ln.Addr().(*net.TCPAddr).Port
		}
		lns = append(lns, ln)
	}
	return lns, absent, nil
}

// unavailable reports an error that means the address does not exist here.
func unavailable(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT)
}

// IsAddrInUse reports whether err says the address is already in use.
func IsAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || isAddrInUseOS(err)
}

// owners names the processes listening on TCP port (Holders), each once;
// none when the inventory cannot say within 2 seconds.
func owners(ctx context.Context, take func(context.Context, sockets.Filter) (*sockets.Snapshot, error), port int) []Owner {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h, err := Holders(ctx, take, Target{Port: uint16(port), Proto: "tcp"}, nil)
	if err != nil {
		return nil
	}
	var found []Owner
	for _, s := range h.Sockets {
		if s.State != sockets.Listen {
			continue
		}
		for _, p := range s.Owners {
			if !slices.ContainsFunc(found, func(o Owner) bool { return o.PID == p.PID }) {
				found = append(found, Owner{PID: p.PID, Name: p.Name})
			}
		}
	}
	return found
}

// excludedRanges returns the TCP ranges the OS keeps from programs; none
// when they cannot be read.
func excludedRanges(ctx context.Context, r ReservedRanges) []Exclusion {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ex, err := r.Excluded(ctx, "tcp")
	if err != nil {
		return nil
	}
	return ex
}

// dynamicRange returns the OS's dynamic TCP range; the zero Range when it
// cannot be read.
func dynamicRange(ctx context.Context, r ReservedRanges) Range {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	dyn, err := r.Dynamic(ctx, "tcp")
	if err != nil {
		return Range{}
	}
	return dyn
}

// Package sockets is homeport's inventory of sockets and the processes that
// own them. The model lives here; each operating system fills it from its own
// backend (sockets_linux.go, sockets_windows.go, sockets_darwin.go), behind the
// small private osImpl contract below.
package sockets

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"homeport/internal/procs"
)

// ErrNotSupported is returned by Take on operating systems without a backend.
var ErrNotSupported = errors.New("the socket inventory is not supported on this operating system")

// Proto is a transport protocol.
type Proto string

// The protocols homeport lists.
const (
	TCP Proto = "tcp"
	UDP Proto = "udp"
)

// State is a socket state. The values are Linux's TCP states, which every
// backend maps its own states to; UDP sockets that are bound but not connected
// are Close, which `ss` prints as UNCONN.
type State uint8

// Socket states, numbered as Linux numbers them (include/net/tcp_states.h).
const (
	Established State = 1
	SynSent     State = 2
	SynRecv     State = 3
	FinWait1    State = 4
	FinWait2    State = 5
	TimeWait    State = 6
	Close       State = 7
	CloseWait   State = 8
	LastAck     State = 9
	Listen      State = 10
	Closing     State = 11
	NewSynRecv  State = 12
)

var stateNames = [...]string{
	Established: "ESTAB",
	SynSent:     "SYN-SENT",
	SynRecv:     "SYN-RECV",
	FinWait1:    "FIN-WAIT-1",
	FinWait2:    "FIN-WAIT-2",
	TimeWait:    "TIME-WAIT",
	Close:       "UNCONN",
	CloseWait:   "CLOSE-WAIT",
	LastAck:     "LAST-ACK",
	Listen:      "LISTEN",
	Closing:     "CLOSING",
	NewSynRecv:  "SYN-RECV",
}

// String returns the state as `ss` prints it.
func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return fmt.Sprintf("STATE-%d", uint8(s))
}

// MarshalText makes states readable in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Listening reports whether a socket in this state accepts traffic from new
// peers: a TCP listener, or a bound UDP socket that is not connected.
func (s State) Listening() bool { return s == Listen || s == Close }

// Socket is one socket of the inventory.
type Socket struct {
	Proto  Proto          `json:"proto"`
	State  State          `json:"state"`
	Local  netip.AddrPort `json:"local"`
	Remote netip.AddrPort `json:"remote"`

	// V6Only is true for an IPv6 socket that does not accept IPv4 traffic.
	// An IPv6 wildcard listener ([::]) without it is dual-stack: it also
	// answers on every IPv4 address.
	V6Only bool `json:"v6only"`

	// Inode identifies the socket (the inode of its file on Linux); zero
	// where the OS has no such number.
	Inode uint64 `json:"inode,omitempty"`

	// RecvQ and SendQ are the queues as `ss` shows them: for a listener,
	// the connections waiting in the accept queue and the backlog limit.
	RecvQ uint32 `json:"recv_q"`
	SendQ uint32 `json:"send_q"`

	// UID is the user that created the socket; -1 when unknown.
	UID int `json:"uid"`

	// Owners are the processes holding the socket open: several for a socket
	// shared by forked workers or inherited by children. Empty when the
	// owner could not be seen (another user's process when not root, a
	// process outside this PID namespace, or a socket held by the kernel).
	// Sockets with the same owners may share this slice: treat it as
	// read-only.
	Owners []procs.Process `json:"owners"`
}

// Port returns the local port.
func (s *Socket) Port() uint16 { return s.Local.Port() }

// DualStack reports whether the socket is an IPv6 wildcard listener that
// also accepts IPv4 connections.
func (s *Socket) DualStack() bool {
	a := s.Local.Addr()
	return a.Is6() && !a.Is4In6() && a.IsUnspecified() && !s.V6Only
}

// Takes reports whether the socket takes connections (or datagrams) sent to
// the local address a: its own address, or any address of its family when it
// is bound to the wildcard, and IPv4 too for a dual-stack [::]. Zones and
// IPv4-mapped forms do not count: [::ffff:127.0.0.1] is 127.0.0.1.
func (s *Socket) Takes(a netip.Addr) bool {
	l := s.Local.Addr().WithZone("").Unmap()
	a = a.WithZone("").Unmap()
	if l == a {
		return true
	}
	if !l.IsUnspecified() {
		return false
	}
	if l.Is4() {
		return a.Is4()
	}
	return a.Is6() || !s.V6Only
}

// FormatAddr prints an address and port the way users type them and ss
// prints them: 127.0.0.1:3000, [::1]:3000, an IPv4-mapped address as IPv4.
func FormatAddr(ap netip.AddrPort) string {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

// Exposure tells who can reach a socket.
type Exposure string

// The exposures. A socket bound to one specific non-loopback address is
// Address: reachable by whoever can reach that address.
const (
	Loopback      Exposure = "loopback"
	AllInterfaces Exposure = "all interfaces"
	Address       Exposure = "address"
)

// Exposure classifies the socket's local address.
func (s *Socket) Exposure() Exposure {
	a := s.Local.Addr().Unmap()
	switch {
	case a.IsLoopback():
		return Loopback
	case a.IsUnspecified():
		return AllInterfaces
	default:
		return Address
	}
}

// Exposed reports whether other machines may reach the socket: it is not
// bound to a loopback address.
func (s *Socket) Exposed() bool { return s.Exposure() != Loopback }

// Filter says which sockets to list. The zero Filter lists TCP and UDP
// listeners of both families with their owners.
type Filter struct {
	// TCP and UDP restrict the protocols; when both are false, both are listed.
	TCP, UDP bool

	// All lists sockets in every state, not only listeners.
	All bool

	// Port keeps only sockets whose local port is Port (0: any).
	Port uint16

	// NoOwners skips the process scan: Owners stay empty. It is much faster.
	NoOwners bool

	// PIDs, when not empty, keeps only sockets owned by one of these
	// processes, and lets the backend look at those processes only.
	PIDs []int

	// The rest is applied by Take once the backend has answered (see
	// Match).

	// Ports, when not empty, keeps only sockets on one of these local
	// ports (Port asks the backend for a single one).
	Ports []uint16

	// Exposed keeps only sockets other machines may reach (Exposed).
	Exposed bool

	// User keeps only sockets of this user, a name or a uid: the user that
	// created the socket, or one of its owners'.
	User string

	// Process keeps only sockets with an owner whose name or command line
	// contains Process, in any case. It needs the owners.
	Process string
}

func (f *Filter) wantTCP() bool { return f.TCP || !f.UDP }
func (f *Filter) wantUDP() bool { return f.UDP || !f.TCP }

// Snapshot is the result of one inventory.
type Snapshot struct {
	Sockets []Socket

	// Source names where the sockets came from, e.g. "netlink sock_diag" or
	// "/proc/net".
	Source string

	// Fallback, when not nil, is why the preferred source was not used.
	Fallback error

	// Hidden counts processes whose open files could not be read for lack
	// of permission: sockets they own show no owner.
	Hidden int
}

// osImpl is what a backend provides. inventory lists the sockets that match
// the protocol, state and port parts of the filter, sorted or not, with
// Owners empty; owners fills the Owners of the given sockets in place,
// reading only what it needs when pids is not empty, and returns the number
// of processes it could not read for lack of permission.
type osImpl interface {
	inventory(ctx context.Context, f *Filter) (socks []Socket, source string, fallback error, err error)
	owners(ctx context.Context, socks []Socket, pids []int, early bool) (hidden int, err error)
}

// Take lists the sockets matching f, sorted by port, then protocol, then
// address.
func Take(ctx context.Context, f Filter) (*Snapshot, error) {
	impl := newImpl()
	if impl == nil {
		return nil, ErrNotSupported
	}
	socks, source, fallback, err := impl.inventory(ctx, &f)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Source: source, Fallback: fallback}
	if !f.NoOwners || len(f.PIDs) > 0 || f.Process != "" {
		// A question about one port is answered as soon as each of its
		// sockets has an owner (see owners' contract).
		early := f.Port != 0
		snap.Hidden, err = impl.owners(ctx, socks, f.PIDs, early)
		if err != nil {
			return nil, err
		}
	}
	if f.selects() {
		socks = slices.DeleteFunc(socks, func(s Socket) bool { return !f.Match(&s) })
	}
	snap.Sockets = sorted(socks)
	return snap, nil
}

// List is Take without the snapshot's notes.
func List(ctx context.Context, f Filter) ([]Socket, error) {
	snap, err := Take(ctx, f)
	if err != nil {
		return nil, err
	}
	return snap.Sockets, nil
}

// Sort orders sockets by local port, protocol, address, state, peer and
// inode.
func Sort(socks []Socket) { copy(socks, sorted(socks)) }

// sorted returns socks in Sort's order, in a new slice.
//
// It sorts integer keys and then moves each socket once: sorting the
// 144-byte sockets themselves swaps them ~n·log n times, each with write
// barriers while the collector runs — a sixth of an inventory's time on a
// machine with 10,000 listeners. Sockets that share a port and protocol are
// ordered by the full comparison.
func sorted(socks []Socket) []Socket {
	// key: port<<33 | udp<<32 | index.
	keys := make([]uint64, len(socks))
	for i := range socks {
		k := uint64(socks[i].Local.Port()) << 33
		if socks[i].Proto != TCP {
			k |= 1 << 32
		}
		keys[i] = k | uint64(i)
	}
	slices.Sort(keys)
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && keys[hi]>>32 == keys[lo]>>32 {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(keys[lo:hi], func(a, b uint64) int {
				return compareSockets(&socks[uint32(a)], &socks[uint32(b)])
			})
		}
		lo = hi
	}
	out := make([]Socket, len(socks))
	for i, k := range keys {
		out[i] = socks[uint32(k)]
	}
	return out
}

func compareSockets(a, b *Socket) int {
	if c := int(a.Local.Port()) - int(b.Local.Port()); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Proto), string(b.Proto)); c != 0 {
		return c
	}
	if c := a.Local.Addr().Compare(b.Local.Addr()); c != 0 {
		return c
	}
	if c := int(a.State) - int(b.State); c != 0 {
		return c
	}
	if c := a.Remote.Compare(b.Remote); c != 0 {
		return c
	}
	switch {
	case a.Inode < b.Inode:
		return -1
	case a.Inode > b.Inode:
		return 1
	}
	return 0
}

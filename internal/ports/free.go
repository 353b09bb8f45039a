package ports

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"time"
)

// ErrNoFreePort is returned when every port of the asked ranges is taken or
// held.
var ErrNoFreePort = errors.New("no free port")

// bindAddrs are where a free port must be bindable. A port held on any one
// of them is not free: a server that binds "localhost" or the wildcard would
// fail, and get-port and portfinder returned ports held on [::1] for years.
var bindAddrs = []netip.Addr{
	netip.IPv4Unspecified(),
	netip.AddrFrom4([4]byte{127, 0, 0, 1}),
	netip.IPv6Unspecified(),
	netip.IPv6Loopback(),
}

// Bindable reports whether a TCP listener can be opened on port p on
// 127.0.0.1, 0.0.0.0, ::1 and [::] (IPv6-only, so that 0.0.0.0 is checked on
// its own). Where the machine has no IPv6, the IPv6 addresses are skipped.
// The listeners are closed again before Bindable returns.
func Bindable(p uint16) bool {
	for _, a := range bindAddrs {
		network := "tcp4"
		if a.Is6() {
			network = "tcp6"
		}
		ln, err := net.Listen(network, netip.AddrPortFrom(a, p).String())
		if err != nil {
			if a.Is6() && noIPv6(err) {
				continue
			}
			return false
		}
		ln.Close()
	}
	return true
}

// noIPv6 tells "this machine has no IPv6" from "the port is taken".
func noIPv6(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) ||
		errors.Is(err, syscall.EPROTONOSUPPORT)
}

// FreeOptions says where and how to look for free ports.
type FreeOptions struct {
	// Ranges to pick from; empty means DefaultRanges of the dynamic range
	// Reserved names (on Linux the kernel's ephemeral range).
	Ranges []Range

	// Reserved tells which ports the OS keeps from programs: Free never
	// returns a port inside one of its excluded ranges (Windows' Hyper-V,
	// WinNAT and Docker reservations, issue 6). nil means SystemReserved().
	// When it cannot be read, nothing is excluded: the bind test still
	// keeps unbindable ports out.
	Reserved ReservedRanges

	// Name, when set, makes the pick stable: the name hashes to a port of
	// the ranges and the first free port from there on is taken, so the
	// same name gets the same port every day while it stays free.
	Name string

	// Count is how many distinct ports to pick (0 means 1).
	Count int

	// Holds, when not nil, keeps parallel pickers from returning the
	// same port: see Holds.
	Holds *Holds

	// HoldName is who the holds are for, when that is not Name: a hold
	// does not keep its own name from the port, so a project's service
	// holds as "<project folder>/api" to keep another project's "api" off
	// it, while both start from the same stable port.
	HoldName string

	// Skip are ports never to return (those a caller has given out).
	Skip []uint16
}

// Free picks free ports. With Holds set, each port it returns is held
// (and already unlocked: the hold lives in its file until it expires or
// its holder exits).
func Free(opts FreeOptions) ([]uint16, error) {
	reserved := opts.Reserved
	if reserved == nil {
		reserved = SystemReserved()
	}
	// netsh answers in a tenth of a second; a hung one must not hang free.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ranges := opts.Ranges
	if len(ranges) == 0 {
		dyn, err := reserved.Dynamic(ctx, "tcp")
		if err != nil {
			dyn = EphemeralRange(os.DirFS("/"))
		}
		ranges = DefaultRanges(dyn)
	}
	excluded, err := reserved.Excluded(ctx, "tcp")
	if err != nil {
		excluded = nil
	}
	total := 0
	for _, r := range ranges {
		total += r.Len()
	}
	count := max(opts.Count, 1)
	if total == 0 {
		return nil, fmt.Errorf("%w: the range is empty", ErrNoFreePort)
	}
	if len(WithoutExcluded(ranges, excluded)) == 0 {
		return nil, fmt.Errorf("%w in %s: Windows excludes every port of it (`netsh int ipv4 show excludedportrange protocol=tcp`)",
			ErrNoFreePort, rangesString(ranges))
	}
	// Start at the name's hash, or at random: parallel pickers without a
	// name then rarely even contend for the same lock file.
	var start int
	if opts.Name != "" {
		h := fnv.New64a()
		h.Write([]byte(opts.Name))
		start = int(h.Sum64() % uint64(total))
	} else {
		start = rand.IntN(total)
	}
	// The walk goes over the ranges as asked and skips excluded ports,
	// rather than over WithoutExcluded's ranges: Hyper-V moves its
	// reservations at every reboot, and a name must keep its port while
	// that port stays free.
	var picked []uint16
	for i := 0; i < total && len(picked) < count; i++ {
		p := nth(ranges, (start+i)%total)
		if slices.Contains(picked, p) || slices.Contains(opts.Skip, p) {
			continue
		}
		if _, ex := ExcludedAt(excluded, p); ex {
			continue
		}
		ok, err := tryPort(p, opts)
		if err != nil {
			return picked, err
		}
		if ok {
			picked = append(picked, p)
		}
	}
	if len(picked) < count {
		if count == 1 {
			return nil, fmt.Errorf("%w in %s", ErrNoFreePort, rangesString(ranges))
		}
		return picked, fmt.Errorf("%w in %s: found %d of %d", ErrNoFreePort, rangesString(ranges), len(picked), count)
	}
	return picked, nil
}

func tryPort(p uint16, opts FreeOptions) (bool, error) {
	if opts.Holds == nil {
		return Bindable(p), nil
	}
	name := opts.HoldName
	if name == "" {
		name = opts.Name
	}
	r, err := opts.Holds.hold(p, name, Bindable)
	if err != nil || r == nil {
		return false, err
	}
	r.Unlock()
	return true, nil
}

// nth returns the i-th port of ranges taken in order.
func nth(ranges []Range, i int) uint16 {
	for _, r := range ranges {
		if i < r.Len() {
			return r.Lo + uint16(i)
		}
		i -= r.Len()
	}
	panic("ports: index out of ranges")
}

func rangesString(rs []Range) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ", "
		}
		s += r.String()
	}
	if s == "" {
		return "no range"
	}
	return s
}

// RangesString formats ranges the way --range takes them, comma-separated.
func RangesString(rs []Range) string { return rangesString(rs) }

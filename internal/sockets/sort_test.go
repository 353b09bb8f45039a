package sockets

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

func TestSortMatchesFullComparison(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	addrs := []string{"127.0.0.1", "0.0.0.0", "::", "::1", "192.0.2.1"}
	var socks []Socket
	for i := range 2000 {
		p := Proto(TCP)
		if r.IntN(3) == 0 {
			p = UDP
		}
		socks = append(socks, Socket{
			Proto:  p,
			State:  State(1 + r.IntN(11)),
			Local:  netip.AddrPortFrom(netip.MustParseAddr(addrs[r.IntN(len(addrs))]), uint16(r.IntN(40))),
			Remote: netip.AddrPortFrom(netip.MustParseAddr(addrs[r.IntN(len(addrs))]), uint16(r.IntN(3))),
			Inode:  uint64(i),
		})
	}
	want := slices.Clone(socks)
	slices.SortStableFunc(want, func(a, b Socket) int { return compareSockets(&a, &b) })
	Sort(socks)
	for i := range socks {
		if compareSockets(&socks[i], &want[i]) != 0 {
			t.Fatalf("Sort: position %d is %+v; want %+v", i, socks[i], want[i])
		}
	}
}

func BenchmarkSort(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	orig := make([]Socket, 10000)
	for i := range orig {
		orig[i] = Socket{Proto: TCP, State: Listen, Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(r.IntN(65535)+1)), Inode: uint64(i)}
	}
	socks := make([]Socket, len(orig))
	b.ReportAllocs()
	for b.Loop() {
		copy(socks, orig)
		Sort(socks)
	}
}

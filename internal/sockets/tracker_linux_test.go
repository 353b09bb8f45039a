package sockets

import (
	"context"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
)

// trackPort takes one port's sockets through tr and returns them.
func trackPort(t *testing.T, tr *Tracker, port int) []Socket {
	t.Helper()
	snap, err := tr.Take(context.Background(), Filter{Port: uint16(port)})
	if err != nil {
		t.Fatal(err)
	}
	return snap.Sockets
}

// TestTrackerReusesOwners follows one port through a Tracker: its owners are
// found on the first take, reused on the next without reading the owner's
// fd directory, and found again after the process is gone and a new one
// holds the port.
func TestTrackerReusesOwners(t *testing.T) {
	f := startFixture(t, "tcp4:1,inherit")
	tr := NewTracker()
	want := slices.Sorted(slices.Values(f.pids))

	socks := trackPort(t, tr, f.port)
	if len(socks) != 1 || !slices.Equal(ownerPIDs(&socks[0]), want) {
		t.Fatalf("first take of port %d = %v; want one socket owned by %v", f.port, socks, want)
	}
	if !tr.st.full {
		t.Errorf("first take did not scan every process")
	}

	socks = trackPort(t, tr, f.port)
	if len(socks) != 1 || !slices.Equal(ownerPIDs(&socks[0]), want) {
		t.Fatalf("second take of port %d = %v; want one socket owned by %v", f.port, socks, want)
	}
	if tr.st.full {
		t.Errorf("second take scanned every process; want the known owners reused")
	}
	if o := socks[0].Owners[0]; o.Name == "" || len(o.Cmdline) == 0 || o.Start.IsZero() {
		t.Errorf("reused owner facts incomplete: %+v", o)
	}

	port := f.port
	f.stop()
	g := startFixture(t, "reuse:"+strconv.Itoa(port))
	socks = trackPort(t, tr, port)
	if len(socks) != 1 || !slices.Equal(ownerPIDs(&socks[0]), g.pids) {
		t.Fatalf("take after a new holder of port %d = %v; want owned by %v", port, socks, g.pids)
	}
}

// TestTrackerFindsNewSocketOfOldProcess opens a listener in this process,
// which the Tracker has already seen: the unknown inode sends it back to
// the fd directories of old processes, newest first.
func TestTrackerFindsNewSocketOfOldProcess(t *testing.T) {
	tr := NewTracker()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	trackPort(t, tr, port)
	ln.Close()

	// A second listener on the same port: a new inode, an old process.
	ln2, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Skipf("port %d taken again by someone else: %v", port, err)
	}
	defer ln2.Close()
	socks := trackPort(t, tr, port)
	if len(socks) != 1 || !slices.Equal(ownerPIDs(&socks[0]), []int{os.Getpid()}) {
		t.Fatalf("take of port %d = %v; want owned by this process (%d)", port, socks, os.Getpid())
	}
	if tr.st.scanned == 0 {
		t.Errorf("an unknown inode did not make the Tracker read fd directories")
	}

	// Nothing new: nothing scanned in full.
	trackPort(t, tr, port)
	if tr.st.full {
		t.Errorf("a steady port made the Tracker scan every process")
	}
}

// TestTrackerMatchesTake compares a Tracker's second take of every listener
// with a full Take: the same sockets carry the same owners, but for sockets
// that came or went between the two.
func TestTrackerMatchesTake(t *testing.T) {
	startFixture(t, "tcp4:20,udp4:5,inherit")
	tr := NewTracker()
	ctx := context.Background()
	if _, err := tr.Take(ctx, Filter{}); err != nil {
		t.Fatal(err)
	}
	got, err := tr.Take(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	full, err := Take(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byInode := map[uint64][]int{}
	for i := range full.Sockets {
		byInode[full.Sockets[i].Inode] = ownerPIDs(&full.Sockets[i])
	}
	compared := 0
	for i := range got.Sockets {
		s := &got.Sockets[i]
		w, ok := byInode[s.Inode]
		if !ok || s.Inode == 0 {
			continue
		}
		compared++
		if g := ownerPIDs(s); !slices.Equal(g, w) && len(w) > 0 {
			t.Errorf("%s %s inode %d: tracker owners %v; Take owners %v", s.Proto, s.Local, s.Inode, g, w)
		}
	}
	if compared < 25 {
		t.Errorf("compared %d sockets; want at least the fixture's 25", compared)
	}
}

package sockets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"homeport/internal/procs"
)

// trackerState is what a Tracker remembers between inventories on Linux.
type trackerState struct {
	impl *linuxImpl

	seen    map[int]bool           // pids in /proc at the last take
	procs   map[int]*procs.Process // owners at the last take, by pid
	owners  map[uint64][]int       // socket inode → owner pids at the last take
	orphans map[uint64]bool        // inodes no readable process held at the last full scan
	shared  map[string]ownerGroup  // owner sets by "pid,start;..." key
	hidden  int

	// Kept between takes so that a poll allocates little more than the
	// snapshot it returns: the netlink buffer and the sockets read into it,
	// which never leave the Tracker (the snapshot is a sorted copy).
	buf     []byte
	scratch []Socket

	spareSeen   map[int]bool
	spareOwners map[uint64][]int

	// What the last take read, for tests and benchmarks: fd directories
	// read, and whether every process was scanned.
	scanned int
	full    bool
}

func (t *trackerState) take(ctx context.Context, f Filter) (*Snapshot, error) {
	if t.impl == nil {
		t.impl = &linuxImpl{procRoot: "/proc"}
	}
	socks, source, fallback, err := t.inventory(ctx, &f)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Source: source, Fallback: fallback}
	if err := t.fill(ctx, socks); err != nil {
		return nil, err
	}
	snap.Hidden = t.hidden
	snap.Sockets = sorted(socks)
	return snap, nil
}

// fill sets the Owners of socks from what is known, reading fd directories
// only where something is new.
func (t *trackerState) fill(ctx context.Context, socks []Socket) error {
	pids, err := t.impl.listPIDs()
	if err != nil {
		return err
	}
	slices.Sort(pids)
	first := t.seen == nil
	// The maps of the take before last are cleared and reused.
	now := t.spareSeen
	if now == nil {
		now = make(map[int]bool, len(pids))
	}
	clear(now)
	var fresh []int
	for _, pid := range pids {
		now[pid] = true
		if !t.seen[pid] {
			fresh = append(fresh, pid)
		}
	}
	if t.procs == nil {
		t.procs = map[int]*procs.Process{}
	}

	// Known owners stay known while they live with the same start time; a
	// recycled pid is a new process and is scanned like one.
	for pid, p := range t.procs {
		if !now[pid] {
			delete(t.procs, pid)
			continue
		}
		st, ok := t.stat(pid)
		if !ok || st.StartTicks != p.StartTicks {
			delete(t.procs, pid)
			if ok && t.seen[pid] {
				fresh = append(fresh, pid)
			}
			continue
		}
		if st.Name != p.Name {
			// The process exec'd another program: its facts changed.
			if np, err := procs.Get(pid); err == nil {
				t.procs[pid] = np
			}
		}
	}

	// The inode index is built only when some fd directory is read.
	sc := &fdScan{root: t.impl.procRoot, owned: make([]atomic.Bool, len(socks))}
	index := func() {
		if sc.want != nil {
			return
		}
		sc.want = make(map[uint64]int32, len(socks))
		for i := range socks {
			if socks[i].Inode != 0 {
				sc.want[socks[i].Inode] = int32(i)
			}
		}
	}
	var hits []ownerHit
	for i := range socks {
		for _, pid := range t.owners[socks[i].Inode] {
			if t.procs[pid] != nil {
				hits = append(hits, ownerHit{sock: int32(i), pid: pid})
				sc.owned[i].Store(true)
			}
		}
	}

	t.scanned = len(fresh)
	if len(fresh) > 0 {
		index()
	}
	got, hidden, err := scanPIDs(ctx, sc, fresh)
	if err != nil {
		return err
	}
	hits = append(hits, got...)
	t.full = first
	if first {
		t.hidden = hidden
	}
	if unknown := t.unknown(socks, sc); !first && unknown > 0 {
		// A socket no known process holds: an old process opened it. Read
		// the processes not read above, newest first, until every such
		// socket has an owner. Stopping there misses no owner but one that
		// got the socket over a Unix socket (SCM_RIGHTS): a process that
		// shares it through fork is new, and was read above.
		rest := make([]int, 0, len(pids))
		isFresh := make(map[int]bool, len(fresh))
		for _, pid := range fresh {
			isFresh[pid] = true
		}
		for _, pid := range pids {
			if !isFresh[pid] {
				rest = append(rest, pid)
			}
		}
		index()
		base := sc.found.Load()
		done := func() bool { return sc.found.Load()-base >= int64(unknown) }
		got, h, n, err := scanNewestFirst(ctx, sc, rest, done)
		if err != nil {
			return err
		}
		hits = append(hits, got...)
		t.scanned += n
		if n == len(rest) {
			t.hidden = hidden + h
			t.full = true
		}
	}

	orphans := make(map[uint64]bool)
	for i := range socks {
		ino := socks[i].Inode
		if ino != 0 && !sc.owned[i].Load() && (t.full || t.orphans[ino]) {
			orphans[ino] = true
		}
	}
	t.orphans = orphans
	t.seen, t.spareSeen = now, t.seen
	t.apply(socks, hits)
	return nil
}

// unknown counts the sockets that have no owner and were not already
// ownerless at the last full scan (held by the kernel, or by a process
// outside this PID namespace or of another user).
func (t *trackerState) unknown(socks []Socket, sc *fdScan) int {
	n := 0
	for i := range socks {
		if ino := socks[i].Inode; ino != 0 && !sc.owned[i].Load() && !t.orphans[ino] {
			n++
		}
	}
	return n
}

func (t *trackerState) stat(pid int) (procs.Stat, bool) {
	b, err := os.ReadFile(t.impl.procRoot + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procs.Stat{}, false
	}
	st, err := procs.ParseStat(b)
	return st, err == nil
}

// apply turns hits into Owners and remembers them for the next take.
// Sockets with the same owners share one Owners slice, kept across takes.
func (t *trackerState) apply(socks []Socket, hits []ownerHit) {
	slices.SortFunc(hits, func(a, b ownerHit) int {
		if a.sock != b.sock {
			return int(a.sock - b.sock)
		}
		return a.pid - b.pid
	})
	hits = slices.Compact(hits)
	owners := t.spareOwners
	if owners == nil {
		owners = make(map[uint64][]int, len(socks))
	}
	clear(owners)
	live := make(map[int]*procs.Process, len(t.procs))
	shared := make(map[string]ownerGroup, len(t.shared))
	fact := func(pid int) *procs.Process {
		p := t.procs[pid]
		if p == nil {
			got, err := procs.Get(pid)
			if err != nil {
				// It exited after the scan: keep what is known until the
				// next take forgets it.
				got = &procs.Process{PID: pid, UID: -1}
			}
			p = got
			t.procs[pid] = p
		}
		live[pid] = p
		return p
	}
	var key []byte
	for i := 0; i < len(hits); {
		j := i
		key = key[:0]
		for j < len(hits) && hits[j].sock == hits[i].sock {
			key = strconv.AppendInt(key, int64(hits[j].pid), 10)
			key = append(key, ',')
			key = strconv.AppendUint(key, fact(hits[j].pid).StartTicks, 10)
			key = append(key, ';')
			j++
		}
		g, ok := shared[string(key)]
		if !ok {
			g, ok = t.shared[string(key)]
			if ok && !sameFacts(g.procs, t.procs) {
				ok = false
			}
			if !ok {
				g = ownerGroup{procs: make([]procs.Process, 0, j-i), pids: make([]int, 0, j-i)}
				for _, h := range hits[i:j] {
					g.procs = append(g.procs, *fact(h.pid))
					g.pids = append(g.pids, h.pid)
				}
			}
			shared[string(key)] = g
		}
		s := &socks[hits[i].sock]
		s.Owners = g.procs[:len(g.procs):len(g.procs)]
		if s.Inode != 0 {
			owners[s.Inode] = g.pids
		}
		i = j
	}
	t.owners, t.spareOwners = owners, t.owners
	t.procs = live
	t.shared = shared
}

// ownerGroup is one set of owners, shared by every socket it holds.
type ownerGroup struct {
	procs []procs.Process
	pids  []int
}

// sameFacts reports whether a kept Owners group still shows what is known of
// its processes (a process that exec'd has a new name and command line).
func sameFacts(group []procs.Process, known map[int]*procs.Process) bool {
	for i := range group {
		p := known[group[i].PID]
		if p == nil || p.Name != group[i].Name || p.StartTicks != group[i].StartTicks {
			return false
		}
	}
	return true
}

// scanPIDs reads the fd directories of pids with a few goroutines and
// returns the wanted sockets they hold, and how many could not be read for
// lack of permission.
func scanPIDs(ctx context.Context, sc *fdScan, pids []int) ([]ownerHit, int, error) {
	if len(pids) == 0 || len(sc.want) == 0 {
		return nil, 0, nil
	}
	workers := min(runtime.GOMAXPROCS(0), 4, len(pids))
	q := &pidQueue{pids: pids, hi: len(pids)}
	results := make([][]ownerHit, workers)
	denied := make([]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newFDReader()
			for ctx.Err() == nil {
				pid, ok := q.take(w%2 == 1)
				if !ok {
					return
				}
				var d bool
				results[w], d = r.scan(sc, pid, results[w])
				if d {
					denied[w]++
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var hits []ownerHit
	n := 0
	for w := range workers {
		hits = append(hits, results[w]...)
		n += denied[w]
	}
	return hits, n, nil
}

// scanNewestFirst reads the fd directories of pids from the newest (highest
// pid) down, with a few goroutines, until done reports true. It returns the
// hits, how many directories could not be read for lack of permission, and
// how many processes were read.
func scanNewestFirst(ctx context.Context, sc *fdScan, pids []int, done func() bool) ([]ownerHit, int, int, error) {
	if len(pids) == 0 || len(sc.want) == 0 {
		return nil, 0, 0, nil
	}
	workers := min(runtime.GOMAXPROCS(0), 4, len(pids))
	q := &pidQueue{pids: pids, hi: len(pids)}
	results := make([][]ownerHit, workers)
	denied := make([]int, workers)
	read := make([]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newFDReader()
			for ctx.Err() == nil && !done() {
				pid, ok := q.take(true)
				if !ok {
					return
				}
				var d bool
				results[w], d = r.scan(sc, pid, results[w])
				read[w]++
				if d {
					denied[w]++
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, 0, 0, err
	}
	var hits []ownerHit
	nd, nr := 0, 0
	for w := range workers {
		hits = append(hits, results[w]...)
		nd += denied[w]
		nr += read[w]
	}
	return hits, nd, nr, nil
}

// inventory is linuxImpl's, with the netlink dump read into the Tracker's
// reused buffers.
func (t *trackerState) inventory(ctx context.Context, f *Filter) ([]Socket, string, error, error) {
	if t.impl.forceProc {
		return t.impl.inventory(ctx, f)
	}
	if t.buf == nil {
		t.buf = make([]byte, 256<<10)
	}
	socks, err := diagDumpInto(ctx, f, t.buf, t.scratch[:0])
	if err != nil {
		// Let the plain inventory fall back to /proc/net and say why.
		return t.impl.inventory(ctx, f)
	}
	t.scratch = socks
	return socks, "netlink sock_diag", nil, nil
}

// diagDumpInto is diagDump appending to out, with buf for the answers.
func diagDumpInto(ctx context.Context, f *Filter, buf []byte, out []Socket) ([]Socket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("opening netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if d, ok := ctx.Deadline(); ok {
		tv := unix.NsecToTimeval(time.Until(d).Nanoseconds())
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	}
	dst := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	states := wantedStates(f)
	for i, k := range dumpKinds(f) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		req := diagRequest(k.family, k.proto, states, f.Port, uint32(i+1))
		if err := unix.Sendto(fd, req, 0, dst); err != nil {
			return nil, fmt.Errorf("sending sock_diag request: %w", err)
		}
		for {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("reading sock_diag answer: %w", err)
			}
			out, err = parseDiagMessages(buf[:n], k.p, out)
			if errors.Is(err, errDumpDone) {
				break
			}
			if err != nil {
				if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EAFNOSUPPORT) {
					break
				}
				return nil, fmt.Errorf("sock_diag %s dump: %w", k.file, err)
			}
		}
	}
	return out, nil
}

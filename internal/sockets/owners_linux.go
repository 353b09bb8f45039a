package sockets

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"homeport/internal/procs"
)

// owners finds the processes holding each socket by reading the links in
// /proc/<pid>/fd ("socket:[inode]"), as ss and lsof do. It is the costly part
// of an inventory, so:
//   - each fd directory is read with getdents and each link with readlinkat
//     on the directory's fd, into reused buffers: no allocation per fd;
//   - processes are split between a few goroutines (the work is syscalls);
//   - with early set (a question about one port), the scan stops once every
//     socket has an owner, then looks only at those owners' parents and
//     descendants: a socket is shared through fork (workers, children
//     inheriting it), so that is where further owners live.
//
// Processes that exit mid-scan are skipped; fd directories that may not be
// read (other users' processes when not root) are counted in hidden.
func (l *linuxImpl) owners(ctx context.Context, socks []Socket, pids []int, early bool) (int, error) {
	if len(socks) == 0 {
		return 0, nil
	}
	want := make(map[uint64]int32, len(socks))
	for i := range socks {
		if socks[i].Inode != 0 {
			want[socks[i].Inode] = int32(i)
		}
	}
	if len(want) == 0 {
		return 0, nil
	}
	if len(pids) == 0 {
		var err error
		pids, err = l.listPIDs()
		if err != nil {
			return 0, err
		}
		slices.Sort(pids)
	}

	sc := &fdScan{root: l.procRoot, want: want, owned: make([]atomic.Bool, len(socks))}
	workers := min(runtime.GOMAXPROCS(0), 4, len(pids))
	// Workers take processes from both ends of the pid list, oldest and
	// newest first: with early set, the holder of the port is found soon
	// whether it is a long-lived daemon or the server started a moment ago.
	q := &pidQueue{pids: pids, hi: len(pids)}
	var wg sync.WaitGroup
	results := make([][]ownerHit, workers)
	hidden := make([]int, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newFDReader()
			for {
				if ctx.Err() != nil {
					return
				}
				if early && sc.found.Load() == int64(len(want)) {
					return
				}
				pid, ok := q.take(w%2 == 1)
				if !ok {
					return
				}
				hits, denied := r.scan(sc, pid, results[w])
				results[w] = hits
				if denied {
					hidden[w]++
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var hits []ownerHit
	for _, r := range results {
		hits = append(hits, r...)
	}
	if early && !q.empty() {
		hits = sc.relatives(hits, q.taken())
	}
	n := 0
	for _, h := range hidden {
		n += h
	}
	fillOwners(socks, hits)
	return n, nil
}

// pidQueue hands out pids from both ends.
type pidQueue struct {
	mu     sync.Mutex
	pids   []int
	lo, hi int // pids[lo:hi] are left
}

// take returns the next pid from the back (newest) or the front (oldest).
func (q *pidQueue) take(back bool) (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.lo >= q.hi {
		return 0, false
	}
	if back {
		q.hi--
		return q.pids[q.hi], true
	}
	q.lo++
	return q.pids[q.lo-1], true
}

// taken is the set of pids handed out so far: once the workers are done,
// those whose fds were all read.
func (q *pidQueue) taken() map[int]bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := make(map[int]bool, q.lo+len(q.pids)-q.hi)
	for _, p := range q.pids[:q.lo] {
		m[p] = true
	}
	for _, p := range q.pids[q.hi:] {
		m[p] = true
	}
	return m
}

func (q *pidQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lo >= q.hi
}

// ownerHit says that process pid holds socks[sock].
type ownerHit struct {
	sock int32
	pid  int
}

type fdScan struct {
	root  string
	want  map[uint64]int32
	owned []atomic.Bool // socks[i] has at least one owner
	found atomic.Int64  // how many owned are true
}

// fdReader reads fd directories with buffers reused across processes.
type fdReader struct {
	dents []byte
	link  []byte
}

func newFDReader() *fdReader {
	return &fdReader{dents: make([]byte, 32<<10), link: make([]byte, 64)}
}

var socketPrefix = []byte("socket:[")

// scan appends to hits the wanted sockets that pid holds. denied reports an
// fd directory that exists but may not be read.
func (r *fdReader) scan(sc *fdScan, pid int, hits []ownerHit) (_ []ownerHit, denied bool) {
	dir := sc.root + "/" + strconv.Itoa(pid) + "/fd"
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		// ENOENT/ESRCH: the process exited. EACCES: another user's.
		return hits, err == unix.EACCES || err == unix.EPERM
	}
	defer unix.Close(dfd)
	for {
		n, err := unix.Getdents(dfd, r.dents)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return hits, false
		}
		buf := r.dents[:n]
		// struct linux_dirent64 { u64 ino; s64 off; u16 reclen; u8 type; char name[]; }
		for len(buf) >= 19 {
			reclen := int(binary.NativeEndian.Uint16(buf[16:]))
			if reclen < 19 || reclen > len(buf) {
				break
			}
			name := buf[19:reclen] // NUL-terminated, padded
			buf = buf[reclen:]
			if name[0] == '.' {
				continue
			}
			ln, ok := r.readlinkat(dfd, name)
			if !ok || !bytes.HasPrefix(ln, socketPrefix) || ln[len(ln)-1] != ']' {
				continue
			}
			ino, err := strconv.ParseUint(string(ln[len(socketPrefix):len(ln)-1]), 10, 64)
			if err != nil {
				continue
			}
			if i, ok := sc.want[ino]; ok {
				hits = append(hits, ownerHit{sock: i, pid: pid})
				if sc.owned[i].CompareAndSwap(false, true) {
					sc.found.Add(1)
				}
			}
		}
	}
}

// readlinkat reads the link named by the NUL-terminated name relative to
// dirfd, without turning the name into a Go string: it is called once per
// open file of every process on the machine.
func (r *fdReader) readlinkat(dirfd int, name []byte) ([]byte, bool) {
	if bytes.IndexByte(name, 0) < 0 {
		return nil, false
	}
	n, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd),
		uintptr(unsafe.Pointer(&name[0])), uintptr(unsafe.Pointer(&r.link[0])), uintptr(len(r.link)), 0, 0)
	if errno != 0 || int(n) <= 0 || int(n) > len(r.link) {
		return nil, false
	}
	return r.link[:n], true
}

// relatives completes an early-stopped scan: the sockets' owners' parents
// and descendants may hold the same sockets (a master and its workers, a
// shell's children), so scan those, and the relatives of each new owner.
// Processes in scanned were read already, whole, and are not read again:
// an owner's parent is often older than it, so the workers that take the
// oldest pids first have usually been through it (a supervisor holding a
// pipe to each of its hundred children is hundreds of readlinks).
func (sc *fdScan) relatives(hits []ownerHit, scanned map[int]bool) []ownerHit {
	seen := map[int]bool{}
	var queue []int
	for _, h := range hits {
		if !seen[h.pid] {
			seen[h.pid] = true
			queue = append(queue, h.pid)
		}
	}
	r := newFDReader()
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, rel := range sc.family(pid) {
			if seen[rel] || rel <= 1 {
				continue
			}
			seen[rel] = true
			if scanned[rel] {
				// Read whole already: an owner among those is in hits,
				// and was queued from the start.
				continue
			}
			before := len(hits)
			hits, _ = r.scan(sc, rel, hits)
			if len(hits) > before {
				queue = append(queue, rel)
			}
		}
	}
	return hits
}

// family returns pid's parent and children.
func (sc *fdScan) family(pid int) []int {
	var out []int
	base := sc.root + "/" + strconv.Itoa(pid)
	if b, err := os.ReadFile(base + "/stat"); err == nil {
		if st, err := procs.ParseStat(b); err == nil && st.PPID > 1 {
			out = append(out, st.PPID)
		}
	}
	tasks, err := os.ReadDir(base + "/task")
	if err != nil {
		return out
	}
	for _, t := range tasks {
		b, err := os.ReadFile(base + "/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range bytes.Fields(b) {
			if c, err := strconv.Atoi(string(f)); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// listPIDs returns the numeric entries of /proc.
func (l *linuxImpl) listPIDs() ([]int, error) {
	d, err := os.Open(l.procRoot)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		if pid, err := strconv.Atoi(n); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// fillOwners turns hits into Owners, reading each process's facts once.
// Sockets with the same owners share one Owners slice: a process with
// thousands of listeners costs one Process, not thousands.
func fillOwners(socks []Socket, hits []ownerHit) {
	slices.SortFunc(hits, func(a, b ownerHit) int {
		if a.sock != b.sock {
			return int(a.sock - b.sock)
		}
		return a.pid - b.pid
	})
	hits = slices.Compact(hits)
	facts := map[int]procs.Process{}
	fact := func(pid int) procs.Process {
		p, ok := facts[pid]
		if !ok {
			got, err := procs.Get(pid)
			if err != nil {
				// It exited after the scan, or its facts are unreadable:
				// it held the socket a moment ago, so keep what we know.
				got = &procs.Process{PID: pid, UID: -1}
			}
			p = *got
			facts[pid] = p
		}
		return p
	}
	shared := map[string][]procs.Process{}
	var key []byte
	for i := 0; i < len(hits); {
		j := i
		key = key[:0]
		for j < len(hits) && hits[j].sock == hits[i].sock {
			key = strconv.AppendInt(key, int64(hits[j].pid), 10)
			key = append(key, ',')
			j++
		}
		owners, ok := shared[string(key)]
		if !ok {
			owners = make([]procs.Process, 0, j-i)
			for _, h := range hits[i:j] {
				owners = append(owners, fact(h.pid))
			}
			shared[string(key)] = owners
		}
		socks[hits[i].sock].Owners = owners[:len(owners):len(owners)]
		i = j
	}
}

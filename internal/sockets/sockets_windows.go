package sockets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/windows"

	"homeport/internal/procs"
)

// The tables come from iphlpapi's GetExtendedTcpTable and GetExtendedUdpTable,
// what netstat -ano and TCPView use. x/sys/windows has no wrapper for them.
var (
	modiphlpapi             = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTcpTable = modiphlpapi.NewProc("GetExtendedTcpTable")
	procGetExtendedUdpTable = modiphlpapi.NewProc("GetExtendedUdpTable")
)

// Table classes (TCP_TABLE_CLASS, UDP_TABLE_CLASS in iprtrmib.h).
const (
	tcpTableOwnerPIDAll = 5 // TCP_TABLE_OWNER_PID_ALL
	udpTableOwnerPID    = 1 // UDP_TABLE_OWNER_PID
)

// winFirstBuf is the size of the first buffer offered to the API: enough
// for a developer machine's listeners, small enough to be cheap. A bigger
// table makes the API say how much it needs, and the buffer grows.
const winFirstBuf = 16 << 10

// windowsImpl reads the four tables. Each row names its owning PID, so
// there is no scan to find owners: inventory keeps the PIDs beside the
// sockets it returns and owners reads the processes they name. Take calls
// newImpl for each inventory, so the state is never shared.
//
// The tables say nothing about IPV6_V6ONLY. Windows' own default is a
// v6-only socket, but the servers developers run (Go, Node.js, .NET
// Kestrel, Java) all turn it off for [::], so V6Only stays false: a [::]
// listener is shown as dual-stack.
type windowsImpl struct {
	pids    []uint32 // pids[i] owns the i-th socket inventory returned
	bufSize int      // first buffer size; tests make it tiny
	hints   bool     // start from the size the last inventory needed
	grows   int      // how often a buffer had to grow; tests read it
	buf     []byte
}

// winSizeHint remembers how big the biggest table was, so that the next
// inventory (`ports --watch`, the dashboard) calls the API once per table
// instead of twice. Under Wine every call costs a scan of /proc.
var winSizeHint atomic.Int64

func newImpl() osImpl { return &windowsImpl{bufSize: winFirstBuf, hints: true} }

func (w *windowsImpl) inventory(ctx context.Context, f *Filter) ([]Socket, string, error, error) {
	var tables []winTable
	if f.wantTCP() {
		tables = append(tables, winTable{TCP, false}, winTable{TCP, true})
	}
	if f.wantUDP() {
		tables = append(tables, winTable{UDP, false}, winTable{UDP, true})
	}
	var rows []winRow
	for _, t := range tables {
		if err := ctx.Err(); err != nil {
			return nil, "", nil, err
		}
		buf, err := w.table(t)
		if err != nil {
			return nil, "", nil, err
		}
		rows, err = parseWinTable(rows, buf, t, f)
		if err != nil {
			return nil, "", nil, fmt.Errorf("reading the %s table: %w", t, err)
		}
	}
	socks := make([]Socket, len(rows))
	w.pids = make([]uint32, len(rows))
	for i, r := range rows {
		socks[i] = r.Socket
		w.pids[i] = r.PID
	}
	return socks, "GetExtendedTcpTable/GetExtendedUdpTable", nil, nil
}

// table fills w.buf with one table, growing it until the table fits. The
// table can grow between the call that says how big it is and the next one,
// so the loop asks again, with some room to spare, a few times.
func (w *windowsImpl) table(t winTable) ([]byte, error) {
	family := uint32(windows.AF_INET)
	if t.v6 {
		family = windows.AF_INET6
	}
	proc, class, name := procGetExtendedTcpTable, uintptr(tcpTableOwnerPIDAll), "GetExtendedTcpTable"
	if t.proto == UDP {
		proc, class, name = procGetExtendedUdpTable, udpTableOwnerPID, "GetExtendedUdpTable"
	}
	if err := proc.Find(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	want := w.bufSize
	if w.hints {
		want = max(want, int(winSizeHint.Load()))
	}
	if len(w.buf) < want {
		w.buf = make([]byte, max(want, 4))
	}
	for range 8 {
		size := uint32(len(w.buf))
		r, _, _ := proc.Call(
			uintptr(unsafe.Pointer(&w.buf[0])),
			uintptr(unsafe.Pointer(&size)),
			0, // bOrder: unsorted; Take sorts
			uintptr(family),
			class,
			0,
		)
		switch err := windows.Errno(r); {
		case r == 0:
			if w.hints && int64(len(w.buf)) > winSizeHint.Load() {
				winSizeHint.Store(int64(len(w.buf)))
			}
			return w.buf, nil
		case errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER):
			w.grows++
			w.buf = make([]byte, int(size)+int(size)/4+1024)
		default:
			return nil, fmt.Errorf("%s (%s): %w", name, t, err)
		}
	}
	return nil, fmt.Errorf("%s (%s): the table kept outgrowing a buffer of %d bytes", name, t, len(w.buf))
}

func (w *windowsImpl) owners(ctx context.Context, socks []Socket, pids []int, early bool) (int, error) {
	if len(socks) != len(w.pids) {
		return 0, fmt.Errorf("owners of %d sockets asked, but the inventory listed %d", len(socks), len(w.pids))
	}
	seen := make(map[uint32]*procs.Process)
	for i := range socks {
		pid := w.pids[i]
		// PID 0 is the System Idle Process: Windows names it for
		// TIME_WAIT sockets that no process holds any more. Wine names it
		// for every socket, since it cannot tell.
		if pid == 0 || len(pids) > 0 && !slices.Contains(pids, int(pid)) {
			continue
		}
		p, ok := seen[pid]
		if !ok {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			got, err := procs.Get(int(pid))
			switch {
			case err == nil:
				p = got
			case errors.Is(err, procs.ErrGone):
				// The PID that created the socket has exited, but the
				// socket lives on in a child that inherited its handle.
				// Keep the PID: `who` says so and looks for the children.
				p = &procs.Process{PID: int(pid), UID: -1}
			default:
				return 0, err
			}
			seen[pid] = p
		}
		socks[i].Owners = []procs.Process{*p}
	}
	return 0, nil
}

package sockets

// The parsers of the tables Windows' GetExtendedTcpTable and
// GetExtendedUdpTable fill. They take the raw bytes so that they build and
// are tested (and fuzzed) on every OS; sockets_windows.go only calls the API
// and hands the buffer over.
//
// The layouts, all little-endian DWORDs, from iphlpapi's tcpmib.h/udpmib.h:
//
//	MIB_TCPTABLE_OWNER_PID   dwNumEntries, then rows of
//	MIB_TCPROW_OWNER_PID     dwState dwLocalAddr dwLocalPort dwRemoteAddr dwRemotePort dwOwningPid  (24 bytes)
//	MIB_TCP6ROW_OWNER_PID    ucLocalAddr[16] dwLocalScopeId dwLocalPort ucRemoteAddr[16] dwRemoteScopeId
//	                         dwRemotePort dwState dwOwningPid                                       (56 bytes)
//	MIB_UDPROW_OWNER_PID     dwLocalAddr dwLocalPort dwOwningPid                                     (12 bytes)
//	MIB_UDP6ROW_OWNER_PID    ucLocalAddr[16] dwLocalScopeId dwLocalPort dwOwningPid                  (28 bytes)
//
// Addresses are stored in network byte order: the DWORD's bytes in memory
// are the address's bytes in order. Ports are in network byte order in the
// low 16 bits of their DWORD, and Microsoft documents the upper 16 bits as
// possibly uninitialised, so only the first two bytes are read.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// Row sizes of the tables (see above).
const (
	winTCP4RowSize = 24
	winTCP6RowSize = 56
	winUDP4RowSize = 12
	winUDP6RowSize = 28
)

// errWinTable is wrapped by every error parseWinTable returns.
var errWinTable = errors.New("malformed socket table")

// winRow is one parsed row: the socket, and the PID Windows says owns it.
type winRow struct {
	Socket
	PID uint32
}

// winTable says which of the four tables a buffer holds.
type winTable struct {
	proto Proto
	v6    bool
}

func (t winTable) rowSize() int {
	switch {
	case t.proto == TCP && !t.v6:
		return winTCP4RowSize
	case t.proto == TCP:
		return winTCP6RowSize
	case !t.v6:
		return winUDP4RowSize
	default:
		return winUDP6RowSize
	}
}

func (t winTable) String() string {
	s := string(t.proto)
	if t.v6 {
		s += "6"
	}
	return s
}

// winTCPState maps MIB_TCP_STATE (1 CLOSED … 12 DELETE_TCB) to the Linux
// numbering the model uses.
var winTCPState = [...]State{
	1:  Close,       // MIB_TCP_STATE_CLOSED
	2:  Listen,      // MIB_TCP_STATE_LISTEN
	3:  SynSent,     // MIB_TCP_STATE_SYN_SENT
	4:  SynRecv,     // MIB_TCP_STATE_SYN_RCVD
	5:  Established, // MIB_TCP_STATE_ESTAB
	6:  FinWait1,    // MIB_TCP_STATE_FIN_WAIT1
	7:  FinWait2,    // MIB_TCP_STATE_FIN_WAIT2
	8:  CloseWait,   // MIB_TCP_STATE_CLOSE_WAIT
	9:  Closing,     // MIB_TCP_STATE_CLOSING
	10: LastAck,     // MIB_TCP_STATE_LAST_ACK
	11: TimeWait,    // MIB_TCP_STATE_TIME_WAIT
	12: Close,       // MIB_TCP_STATE_DELETE_TCB: being torn down
}

func mapWinTCPState(s uint32) (State, error) {
	if s < uint32(len(winTCPState)) && winTCPState[s] != 0 {
		return winTCPState[s], nil
	}
	return 0, fmt.Errorf("%w: unknown TCP state %d", errWinTable, s)
}

// winPort reads a port stored in network byte order in the low 16 bits of
// a DWORD.
func winPort(b []byte) uint16 { return binary.BigEndian.Uint16(b[:2]) }

// winAddr6 turns an IPv6 address and its scope id into an address, with the
// zone the way Windows prints it ("fe80::1%12") for scoped addresses.
func winAddr6(b []byte, scope uint32) netip.Addr {
	a := netip.AddrFrom16([16]byte(b[:16]))
	if scope != 0 && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast()) {
		a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
	}
	return a
}

// parseWinTable parses one table in buf and appends to rows the sockets
// that f asks for (its state and port parts; nil keeps all). For UDP, whose
// table has no state, every socket is Close (bound, the `ss` UNCONN);
// Windows' UDP table lists no remote address. buf may be longer than the
// table (the API's buffer is reused and grown); it must not be shorter.
func parseWinTable(rows []winRow, buf []byte, t winTable, f *Filter) ([]winRow, error) {
	if len(buf) < 4 {
		return rows, fmt.Errorf("%w: %s table of %d bytes has no row count", errWinTable, t, len(buf))
	}
	n := binary.LittleEndian.Uint32(buf)
	size := t.rowSize()
	if uint64(n)*uint64(size) > uint64(len(buf)-4) {
		return rows, fmt.Errorf("%w: %s table claims %d rows but holds %d bytes", errWinTable, t, n, len(buf))
	}
	le := binary.LittleEndian
	for i := range int(n) {
		r := buf[4+i*size : 4+(i+1)*size]
		row := winRow{Socket: Socket{Proto: t.proto, UID: -1}}
		s := &row.Socket
		switch {
		case t.proto == TCP && !t.v6:
			st, err := mapWinTCPState(le.Uint32(r[0:]))
			if err != nil {
				return rows, err
			}
			s.State = st
			s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[4:8])), winPort(r[8:]))
			s.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[12:16])), winPort(r[16:]))
			row.PID = le.Uint32(r[20:])
		case t.proto == TCP:
			st, err := mapWinTCPState(le.Uint32(r[48:]))
			if err != nil {
				return rows, err
			}
			s.State = st
			s.Local = netip.AddrPortFrom(winAddr6(r[0:], le.Uint32(r[16:])), winPort(r[20:]))
			s.Remote = netip.AddrPortFrom(winAddr6(r[24:], le.Uint32(r[40:])), winPort(r[44:]))
			row.PID = le.Uint32(r[52:])
		case !t.v6:
			s.State = Close
			s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[0:4])), winPort(r[4:]))
			s.Remote = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
			row.PID = le.Uint32(r[8:])
		default:
			s.State = Close
			s.Local = netip.AddrPortFrom(winAddr6(r[0:], le.Uint32(r[16:])), winPort(r[20:]))
			s.Remote = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
			row.PID = le.Uint32(r[24:])
		}
		if f == nil || winKeep(f, s) {
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// winKeep is the filter parseWinTable applies: the states and port of f.
// Without f.All a TCP socket must be listening; every UDP socket is kept,
// since the table cannot tell a connected one from a bound one. (A plain
// function, not a closure: a *Socket passed to a func value escapes, and
// costs an allocation per row.)
func winKeep(f *Filter, s *Socket) bool {
	if f.Port != 0 && s.Local.Port() != f.Port {
		return false
	}
	return f.All || s.Proto == UDP || s.State == Listen
}

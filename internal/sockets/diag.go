package sockets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// This file decodes the Linux sock_diag (inet_diag) netlink protocol,
// linux/inet_diag.h. It has no build tag so that its tests and fuzz target run
// everywhere; only sockets_linux.go talks to the kernel.

// Netlink and inet_diag constants (linux/netlink.h, linux/inet_diag.h).
const (
	nlmsgHdrLen   = 16
	nlmsgError    = 2
	nlmsgDone     = 3
	sockDiagByFam = 20 // SOCK_DIAG_BY_FAMILY

	diagMsgLen    = 72 // struct inet_diag_msg
	diagReqLen    = 56 // struct inet_diag_req_v2
	attrBytecode  = 1  // INET_DIAG_REQ_BYTECODE
	attrSKV6Only  = 11 // INET_DIAG_SKV6ONLY
	bcSourceGE    = 2  // INET_DIAG_BC_S_GE
	bcSourceLE    = 3  // INET_DIAG_BC_S_LE
	afINET        = 2
	afINET6       = 10
	ipprotoTCP    = 6
	ipprotoUDP    = 17
	nlmFRequest   = 0x1
	nlmFDump      = 0x300 // NLM_F_ROOT | NLM_F_MATCH
	rtaAlignBytes = 4
)

// statesListening is what `ss -l` asks for: TCP LISTEN, and CLOSE, which is
// how the kernel reports a bound, unconnected UDP socket.
const statesListening = 1<<Listen | 1<<Close

// statesAll is every state but the SYN-RECV request minisockets, as `ss -a`.
const statesAll = 0xfff &^ (1 << NewSynRecv) &^ 1

// diagRequest builds one SOCK_DIAG_BY_FAMILY dump request. When port is not
// zero, a bytecode filter makes the kernel return only sockets whose local
// port is port (sport >= port && sport <= port: the S_EQ op needs Linux 4.16,
// GE/LE work everywhere).
func diagRequest(family, proto uint8, states uint32, port uint16, seq uint32) []byte {
	var bc []byte
	if port != 0 {
		// Each op is {code u8, yes u8, no u16}; a port comparison is followed
		// by a second word whose "no" field holds the port. "yes" jumps to the
		// next op; "no" jumps past the end (len+4), which rejects.
		bc = make([]byte, 16)
		bc[0], bc[1] = bcSourceGE, 8
		binary.NativeEndian.PutUint16(bc[2:], 20)
		binary.NativeEndian.PutUint16(bc[6:], port)
		bc[8], bc[9] = bcSourceLE, 8
		binary.NativeEndian.PutUint16(bc[10:], 12)
		binary.NativeEndian.PutUint16(bc[14:], port)
	}
	attrLen := 0
	if bc != nil {
		attrLen = 4 + len(bc)
	}
	total := nlmsgHdrLen + diagReqLen + attrLen
	b := make([]byte, total)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(total))
	ne.PutUint16(b[4:], sockDiagByFam)
	ne.PutUint16(b[6:], nlmFRequest|nlmFDump)
	ne.PutUint32(b[8:], seq)
	r := b[nlmsgHdrLen:]
	r[0] = family
	r[1] = proto
	// r[2] idiag_ext = 0: no extensions. INET_DIAG_SKV6ONLY comes anyway for
	// IPv6 sockets in LISTEN or CLOSE state.
	ne.PutUint32(r[4:], states)
	// r[8:56] inet_diag_sockid: zero, except the cookie, which must be
	// INET_DIAG_NOCOOKIE (all ones) for a dump.
	ne.PutUint32(r[48:], 0xffffffff)
	ne.PutUint32(r[52:], 0xffffffff)
	if bc != nil {
		a := b[nlmsgHdrLen+diagReqLen:]
		ne.PutUint16(a[0:], uint16(attrLen))
		ne.PutUint16(a[2:], attrBytecode)
		copy(a[4:], bc)
	}
	return b
}

// errDumpDone marks the end of a multi-part dump.
var errDumpDone = errors.New("dump done")

// parseDiagMessages decodes the netlink messages in b (one recvfrom's worth)
// and appends a Socket for each inet_diag_msg. It returns errDumpDone after
// NLMSG_DONE, and the kernel's error for NLMSG_ERROR.
func parseDiagMessages(b []byte, proto Proto, out []Socket) ([]Socket, error) {
	ne := binary.NativeEndian
	for len(b) >= nlmsgHdrLen {
		l := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		if l < nlmsgHdrLen || l > len(b) {
			return out, fmt.Errorf("netlink message length %d out of range (%d bytes left)", l, len(b))
		}
		body := b[nlmsgHdrLen:l]
		switch typ {
		case nlmsgDone:
			return out, errDumpDone
		case nlmsgError:
			if len(body) < 4 {
				return out, errors.New("short netlink error message")
			}
			errno := -int32(ne.Uint32(body))
			if errno == 0 {
				break
			}
			return out, errnoError(errno)
		case sockDiagByFam:
			s, err := parseDiagMsg(body, proto)
			if err != nil {
				return out, err
			}
			out = append(out, s)
		}
		next := (l + rtaAlignBytes - 1) &^ (rtaAlignBytes - 1)
		if next > len(b) {
			next = len(b)
		}
		b = b[next:]
	}
	return out, nil
}

// parseDiagMsg decodes one struct inet_diag_msg and its attributes.
func parseDiagMsg(b []byte, proto Proto) (Socket, error) {
	if len(b) < diagMsgLen {
		return Socket{}, fmt.Errorf("inet_diag_msg of %d bytes, want %d", len(b), diagMsgLen)
	}
	ne := binary.NativeEndian
	family := b[0]
	s := Socket{
		Proto: proto,
		State: State(b[1]),
		RecvQ: ne.Uint32(b[56:]),
		SendQ: ne.Uint32(b[60:]),
		UID:   int(ne.Uint32(b[64:])),
		Inode: uint64(ne.Uint32(b[68:])),
	}
	sport := binary.BigEndian.Uint16(b[4:])
	dport := binary.BigEndian.Uint16(b[6:])
	switch family {
	case afINET:
		s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[24:28])), dport)
	case afINET6:
		s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), dport)
	default:
		return Socket{}, fmt.Errorf("inet_diag_msg with address family %d", family)
	}
	// Attributes: {len u16, type u16, payload}, 4-byte aligned.
	for a := b[diagMsgLen:]; len(a) >= 4; {
		l := int(ne.Uint16(a[0:]))
		typ := ne.Uint16(a[2:])
		if l < 4 || l > len(a) {
			break
		}
		if typ == attrSKV6Only && l >= 5 {
			s.V6Only = a[4] != 0
		}
		next := (l + rtaAlignBytes - 1) &^ (rtaAlignBytes - 1)
		if next > len(a) {
			break
		}
		a = a[next:]
	}
	return s, nil
}

func errnoError(e int32) error { return syscall.Errno(e) }

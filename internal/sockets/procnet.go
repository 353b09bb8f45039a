package sockets

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strconv"
)

// parseProcNet reads a Linux /proc/net/{tcp,tcp6,udp,udp6} table and appends
// the sockets whose state is in the states bit set and, when port is not zero,
// whose local port is port. It is the fallback when netlink is refused.
//
// The format (proc(5), net/ipv4/tcp_ipv4.c get_tcp4_sock):
//
//	sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//	0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 ...
//
// Addresses are the kernel's in-memory words printed in hex, so each 32-bit
// group is in host byte order; ports are plain hex numbers.
func parseProcNet(r io.Reader, proto Proto, states uint32, port uint16, out []Socket) ([]Socket, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	// Header line.
	if _, err := br.ReadSlice('\n'); err != nil {
		if err == io.EOF {
			return out, nil
		}
		return out, fmt.Errorf("reading header: %w", err)
	}
	line := 1
	for {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return out, fmt.Errorf("line %d: longer than %d bytes", line+1, br.Size())
		}
		if len(b) > 0 {
			line++
			s, ok, perr := parseProcNetLine(b, proto, states, port)
			if perr != nil {
				return out, fmt.Errorf("line %d: %w", line, perr)
			}
			if ok {
				out = append(out, s)
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// parseProcNetLine parses one table row. It checks the state and port before
// decoding anything else: most rows of a busy machine are not wanted.
func parseProcNetLine(b []byte, proto Proto, states uint32, port uint16) (Socket, bool, error) {
	var f [10][]byte
	n := 0
	for i := 0; i < len(b) && n < len(f); {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n') {
			i++
		}
		if i == len(b) {
			break
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\n' {
			j++
		}
		f[n] = b[i:j]
		n++
		i = j
	}
	if n == 0 {
		return Socket{}, false, nil // blank line
	}
	if n < 10 {
		return Socket{}, false, fmt.Errorf("%d fields, want at least 10", n)
	}
	st, err := strconv.ParseUint(string(f[3]), 16, 8)
	if err != nil {
		return Socket{}, false, fmt.Errorf("state %q is not a hex byte", f[3])
	}
	if st >= 32 || states&(1<<st) == 0 {
		return Socket{}, false, nil
	}
	local, err := parseHexAddrPort(f[1])
	if err != nil {
		return Socket{}, false, fmt.Errorf("local address: %w", err)
	}
	if port != 0 && local.Port() != port {
		return Socket{}, false, nil
	}
	remote, err := parseHexAddrPort(f[2])
	if err != nil {
		return Socket{}, false, fmt.Errorf("remote address: %w", err)
	}
	txq, rxq, ok := bytes.Cut(f[4], []byte{':'})
	if !ok {
		return Socket{}, false, fmt.Errorf("queues %q are not tx:rx", f[4])
	}
	tx, err1 := strconv.ParseUint(string(txq), 16, 32)
	rx, err2 := strconv.ParseUint(string(rxq), 16, 32)
	if err1 != nil || err2 != nil {
		return Socket{}, false, fmt.Errorf("queues %q are not hex numbers", f[4])
	}
	uid, err := strconv.ParseUint(string(f[7]), 10, 32)
	if err != nil {
		return Socket{}, false, fmt.Errorf("uid %q is not a number", f[7])
	}
	inode, err := strconv.ParseUint(string(f[9]), 10, 64)
	if err != nil {
		return Socket{}, false, fmt.Errorf("inode %q is not a number", f[9])
	}
	return Socket{
		Proto:  proto,
		State:  State(st),
		Local:  local,
		Remote: remote,
		RecvQ:  uint32(rx),
		SendQ:  uint32(tx),
		UID:    int(uid),
		Inode:  inode,
	}, true, nil
}

// parseHexAddrPort decodes "0100007F:1F90" (IPv4) or a 32-hex-digit IPv6
// address and port.
func parseHexAddrPort(b []byte) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := bytes.Cut(b, []byte{':'})
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q is not addr:port", b)
	}
	if len(hexPort) != 4 {
		return netip.AddrPort{}, fmt.Errorf("port %q is not 4 hex digits", hexPort)
	}
	p, err := strconv.ParseUint(string(hexPort), 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q is not hex", hexPort)
	}
	var raw [16]byte
	switch len(hexAddr) {
	case 8, 32:
	default:
		return netip.AddrPort{}, fmt.Errorf("address %q is not 8 or 32 hex digits", hexAddr)
	}
	for i := 0; i < len(hexAddr)/8; i++ {
		w, err := strconv.ParseUint(string(hexAddr[i*8:i*8+8]), 16, 32)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q is not hex", hexAddr)
		}
		// The kernel printed a native-endian 32-bit word: put its bytes back
		// in memory order.
		binary.NativeEndian.PutUint32(raw[i*4:], uint32(w))
	}
	if len(hexAddr) == 8 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[:4])), uint16(p)), nil
	}
	return netip.AddrPortFrom(netip.AddrFrom16(raw), uint16(p)), nil
}

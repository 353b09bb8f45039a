package sockets

// The parser of `lsof -F` output, the macOS backend's source (see
// sockets_darwin.go). It is OS-neutral so that it is tested and fuzzed on
// every OS.
//
// lsof's field output (lsof(8), OUTPUT FOR OTHER PROGRAMS) is one field per
// line, the first character naming the field. A 'p' line starts a process
// set, followed by the process fields; an 'f' line starts a file set in it,
// followed by that file's fields:
//
//	p4242        PID                  f7            file descriptor
//	cnode        command name         tIPv6         type: IPv4 or IPv6
//	u501         user id              PTCP          protocol: TCP or UDP
//	Ldev         login name           d0x5c1e...    device: the socket's kernel address
//	R1           parent PID           n[::1]:3000   name: local[->remote]
//	                                  TST=LISTEN    TCP/TPI info, one per line
//
// Names use "*" for a wildcard address or port, brackets around IPv6
// addresses, and "->" between the local and the remote end.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"homeport/internal/procs"
)

// lsofArgs returns lsof's arguments for f: numbers only (-n -P, no DNS),
// no warnings, full command names, TCP state.
func lsofArgs(f *Filter) []string {
	args := []string{"-n", "-P", "-w", "+c0", "-Ts", "-FpcuLRfdtPnT"}
	port := ""
	if f.Port != 0 {
		port = ":" + strconv.Itoa(int(f.Port))
	}
	if f.wantTCP() {
		args = append(args, "-iTCP"+port)
		// -s filters in lsof, which is cheaper than after it; it is left
		// out when UDP is asked too, so that it cannot hide UDP files.
		if !f.All && !f.wantUDP() {
			args = append(args, "-sTCP:LISTEN")
		}
	}
	if f.wantUDP() {
		args = append(args, "-iUDP"+port)
	}
	if len(f.PIDs) > 0 {
		ps := make([]string, len(f.PIDs))
		for i, p := range f.PIDs {
			ps[i] = strconv.Itoa(p)
		}
		args = append(args, "-a", "-p", strings.Join(ps, ","))
	}
	return args
}

// lsofKeep returns the filter parseLsof applies: the states and port of f
// (lsof's own selection is coarser).
func lsofKeep(f *Filter) func(*Socket) bool {
	return func(s *Socket) bool {
		if f.Port != 0 && s.Local.Port() != f.Port {
			return false
		}
		if s.Proto == TCP && !f.wantTCP() || s.Proto == UDP && !f.wantUDP() {
			return false
		}
		// A TCP socket in CLOSED state (bound, never listened) is no
		// listener, though its state reads like an unconnected UDP one.
		return f.All || s.Proto == TCP && s.State == Listen || s.Proto == UDP && s.State == Close
	}
}

// lsofTCPState maps the TCP state names lsof prints (the BSD kernel's
// tcpstates[]) to the model's.
var lsofTCPState = map[string]State{
	"CLOSED":       Close,
	"LISTEN":       Listen,
	"SYN_SENT":     SynSent,
	"SYN_RCVD":     SynRecv,
	"SYN_RECEIVED": SynRecv,
	"ESTABLISHED":  Established,
	"CLOSE_WAIT":   CloseWait,
	"FIN_WAIT_1":   FinWait1,
	"CLOSING":      Closing,
	"LAST_ACK":     LastAck,
	"FIN_WAIT_2":   FinWait2,
	"TIME_WAIT":    TimeWait,
}

// errLsof is wrapped by every error parseLsof returns.
var errLsof = errors.New("malformed lsof output")

// lsofSocket is one socket of lsof's output with every process that holds
// it: lsof lists a socket once per process (and per descriptor), and the
// device field, its kernel address, tells the copies apart.
type lsofSocket struct {
	Socket
	owners []procs.Process
}

// parseLsof reads lsof -F output and returns the sockets that keep passes
// (nil keeps all), each once, with their owners in the order lsof listed
// them. Files that are not IPv4/IPv6 TCP/UDP sockets, sockets without a
// local port, and TCP states it does not know are skipped.
func parseLsof(r io.Reader, keep func(*Socket) bool) ([]lsofSocket, error) {
	var (
		out   []lsofSocket
		index = make(map[string]int) // socket key → index in out
		proc  procs.Process
		file  lsofFile
		line  int
	)
	flush := func() error {
		defer func() { file = lsofFile{} }()
		if !file.open {
			return nil
		}
		s, ok, err := file.socket()
		if err != nil || !ok || keep != nil && !keep(&s) {
			return err
		}
		s.UID = proc.UID
		// The device (kernel address) tells sockets apart; where lsof
		// prints none, sockets with the same name are taken as one.
		key := file.dev + "|" + string(file.proto) + "|" + file.name
		i, seen := index[key]
		if !seen {
			i = len(out)
			index[key] = i
			out = append(out, lsofSocket{Socket: s})
		}
		o := &out[i]
		for _, p := range o.owners {
			if p.PID == proc.PID {
				return nil // another descriptor of the same process
			}
		}
		o.owners = append(o.owners, proc)
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line++
		b := bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})
		if len(b) == 0 {
			continue
		}
		v := b[1:]
		// Only the name, the device and the process's names become
		// strings; the rest is read from the bytes (no allocation).
		switch b[0] {
		case 'p':
			if err := flush(); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			pid, ok := atoi(v)
			if !ok {
				return nil, fmt.Errorf("%w: line %d: bad pid %q", errLsof, line, v)
			}
			proc = procs.Process{PID: pid, UID: -1}
		case 'f':
			if err := flush(); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			if proc.PID == 0 {
				return nil, fmt.Errorf("%w: line %d: file before any process", errLsof, line)
			}
			file.open = true
		case 'c':
			proc.Name = string(v)
		case 'u':
			if uid, ok := atoi(v); ok {
				proc.UID = uid
			}
		case 'L':
			proc.User = string(v)
		case 'R':
			if ppid, ok := atoi(v); ok {
				proc.PPID = ppid
			}
		case 't':
			switch string(v) {
			case "IPv4":
				file.v4 = true
			case "IPv6":
				file.v6 = true
			}
		case 'P':
			switch string(v) {
			case "TCP":
				file.proto = TCP
			case "UDP":
				file.proto = UDP
			}
		case 'n':
			file.name = string(v)
		case 'd':
			file.dev = string(v)
		case 'T':
			if st, ok := bytes.CutPrefix(v, []byte("ST=")); ok {
				file.state, file.known = lsofTCPState[string(st)]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading lsof output: %w", err)
	}
	if err := flush(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line, err)
	}
	return out, nil
}

// lsofFile collects one file set's fields.
type lsofFile struct {
	open, v4, v6 bool
	proto        Proto // "" for protocols other than TCP and UDP
	name, dev    string
	state        State // the TCP state, when known is true
	known        bool
}

// atoi parses a non-negative decimal number of at most 9 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// socket turns the file into a socket; ok is false for files that are not
// inventory material (pipes, unix sockets, unbound sockets, unknown states).
func (f *lsofFile) socket() (s Socket, ok bool, err error) {
	v6 := f.v6
	if !f.v4 && !f.v6 || f.proto == "" {
		return s, false, nil
	}
	s.Proto = f.proto
	local, remote, hasRemote := strings.Cut(f.name, "->")
	if s.Local, err = parseLsofAddr(local, v6); err != nil {
		return s, false, err
	}
	if s.Local.Port() == 0 {
		return s, false, nil // "*:*": created, not bound
	}
	if hasRemote {
		if s.Remote, err = parseLsofAddr(remote, v6); err != nil {
			return s, false, err
		}
	} else if v6 {
		s.Remote = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
	} else {
		s.Remote = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	if s.Proto == UDP {
		// lsof has no state for UDP; a connected one shows its peer.
		s.State = Close
		if hasRemote {
			s.State = Established
		}
		return s, true, nil
	}
	if !f.known {
		return s, false, nil
	}
	s.State = f.state
	return s, true, nil
}

// parseLsofAddr parses one end of an lsof name: "127.0.0.1:3000",
// "[::1]:3000", "*:3000", "*:*". An IPv4 address in an IPv6 file is a
// v4-mapped socket and stays as lsof shows it.
func parseLsofAddr(s string, v6 bool) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: address %q has no port", errLsof, s)
	}
	host, port := s[:i], s[i+1:]
	var p uint16
	if port != "*" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: bad port in %q", errLsof, s)
		}
		p = uint16(n)
	}
	var a netip.Addr
	switch {
	case host == "*" && v6:
		a = netip.IPv6Unspecified()
	case host == "*":
		a = netip.IPv4Unspecified()
	default:
		var err error
		a, err = netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: bad address in %q", errLsof, s)
		}
	}
	return netip.AddrPortFrom(a, p), nil
}

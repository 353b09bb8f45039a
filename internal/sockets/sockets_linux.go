package sockets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// linuxImpl reads sockets from netlink sock_diag, the interface `ss` uses,
// and falls back to /proc/net when netlink is refused (some sandboxes and
// seccomp profiles forbid NETLINK_SOCK_DIAG). Owners come from /proc/*/fd.
type linuxImpl struct {
	procRoot  string // "/proc"; tests point it elsewhere
	forceProc bool   // skip netlink: tests of the fallback
}

func newImpl() osImpl { return &linuxImpl{procRoot: "/proc"} }

func (l *linuxImpl) inventory(ctx context.Context, f *Filter) ([]Socket, string, error, error) {
	if !l.forceProc {
		socks, err := diagDump(ctx, f)
		if err == nil {
			return socks, "netlink sock_diag", nil, nil
		}
		if ctx.Err() != nil {
			return nil, "", nil, ctx.Err()
		}
		fallback := fmt.Errorf("netlink sock_diag refused: %w", err)
		socks, err = l.procNet(f)
		if err != nil {
			return nil, "", nil, fmt.Errorf("%w; and %w", fallback, err)
		}
		return socks, "/proc/net", fallback, nil
	}
	socks, err := l.procNet(f)
	return socks, "/proc/net", nil, err
}

// wantedStates is the state filter of one dump. Listening TCP is LISTEN
// alone: CLOSE is only there for UDP (a bound TCP socket that neither
// listens nor connects is in no table the kernel dumps), and asking for any
// state besides LISTEN makes the kernel walk every bucket of the
// established-connections hash, which is sized by the machine's memory, not
// by its sockets: 0.3-0.5 ms per TCP dump here, most of `ss -tln`'s time.
func wantedStates(f *Filter, p Proto) uint32 {
	switch {
	case f.All:
		return statesAll
	case p == TCP:
		return 1 << Listen
	}
	return statesListening
}

type dumpKind struct {
	family uint8
	proto  uint8
	p      Proto
	file   string // the /proc/net table with the same sockets
}

func dumpKinds(f *Filter) []dumpKind {
	var ks []dumpKind
	if f.wantTCP() {
		ks = append(ks, dumpKind{afINET, ipprotoTCP, TCP, "tcp"}, dumpKind{afINET6, ipprotoTCP, TCP, "tcp6"})
	}
	if f.wantUDP() {
		ks = append(ks, dumpKind{afINET, ipprotoUDP, UDP, "udp"}, dumpKind{afINET6, ipprotoUDP, UDP, "udp6"})
	}
	return ks
}

// diagEach asks the kernel for every wanted socket over one netlink socket,
// one dump per family and protocol, and hands each answer (up to len(buf)
// bytes of messages) to add, which parses it and returns errDumpDone at the
// end of a dump. The state and port filters run in the kernel, so a question
// about one port costs one small answer.
func diagEach(ctx context.Context, f *Filter, buf []byte, add func(msgs []byte, p Proto) error) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("opening netlink socket: %w", err)
	}
	defer unix.Close(fd)
	// A dump that stalls (it should not) must not hang the command.
	if d, ok := ctx.Deadline(); ok {
		tv := unix.NsecToTimeval(time.Until(d).Nanoseconds())
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	}
	dst := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	for i, k := range dumpKinds(f) {
		if err := ctx.Err(); err != nil {
			return err
		}
		req := diagRequest(k.family, k.proto, wantedStates(f, k.p), f.Port, uint32(i+1))
		if err := unix.Sendto(fd, req, 0, dst); err != nil {
			return fmt.Errorf("sending sock_diag request: %w", err)
		}
		for {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("reading sock_diag answer: %w", err)
			}
			err = add(buf[:n], k.p)
			if errors.Is(err, errDumpDone) {
				break
			}
			if err != nil {
				// Protocols may be missing: a kernel without IPv6 answers
				// ENOENT for AF_INET6 dumps. That is an empty table.
				if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EAFNOSUPPORT) {
					break
				}
				return fmt.Errorf("sock_diag %s dump: %w", k.file, err)
			}
		}
	}
	return nil
}

// diagDump returns every wanted socket (diagEach).
func diagDump(ctx context.Context, f *Filter) ([]Socket, error) {
	buf := make([]byte, 256<<10)
	// Sockets are gathered in fixed-size chunks and copied once into a slice
	// of the exact size: appending to one slice would leave twice its final
	// size behind as garbage on a machine with 10,000 listeners.
	var chunks [][]Socket
	cur := make([]Socket, 0, 512)
	err := diagEach(ctx, f, buf, func(msgs []byte, p Proto) error {
		if cap(cur)-len(cur) < len(msgs)/diagMsgLen {
			chunks = append(chunks, cur)
			cur = make([]Socket, 0, max(512, len(msgs)/diagMsgLen))
		}
		var err error
		cur, err = parseDiagMessages(msgs, p, cur)
		return err
	})
	if err != nil {
		return nil, err
	}
	chunks = append(chunks, cur)
	total := 0
	for _, c := range chunks {
		total += len(c)
	}
	socks := make([]Socket, 0, total)
	for _, c := range chunks {
		socks = append(socks, c...)
	}
	return socks, nil
}

// procNet reads /proc/net/{tcp,tcp6,udp,udp6}. It knows nothing of
// IPV6_V6ONLY: there the flag is always false.
func (l *linuxImpl) procNet(f *Filter) ([]Socket, error) {
	var socks []Socket
	for _, k := range dumpKinds(f) {
		name := l.procRoot + "/net/" + k.file
		fh, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		socks, err = parseProcNet(fh, k.p, wantedStates(f, k.p), f.Port, socks)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
	}
	return socks, nil
}

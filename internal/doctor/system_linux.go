//go:build linux

package doctor

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// backlog asks sock_diag for the TCP listeners on port and returns their
// accept queues: for a listener, the kernel reports the queue's length as
// idiag_rqueue and the listen(2) backlog as idiag_wqueue (net/ipv4/
// tcp_diag.c). sockets.Socket does not carry these, so doctor asks itself.
func backlog(port uint16) ([]Queue, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("opening sock_diag: %w", err)
	}
	defer unix.Close(fd)
	var out []Queue
	for i, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		req := queueRequest(fam, uint32(i+1))
		if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return nil, fmt.Errorf("sock_diag request: %w", err)
		}
		buf := make([]byte, 32*1024)
	recv:
		for {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return nil, fmt.Errorf("sock_diag reply: %w", err)
			}
			done, qs, err := parseQueues(buf[:n], port)
			if err != nil {
				return nil, err
			}
			out = append(out, qs...)
			if done {
				break recv
			}
		}
	}
	return out, nil
}

// queueRequest is an inet_diag_req_v2 dump of TCP listeners of one family.
func queueRequest(family uint8, seq uint32) []byte {
	const total = 16 + 56
	b := make([]byte, total)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], total)
	ne.PutUint16(b[4:], 20)        // SOCK_DIAG_BY_FAMILY
	ne.PutUint16(b[6:], 0x1|0x300) // NLM_F_REQUEST | NLM_F_DUMP
	ne.PutUint32(b[8:], seq)
	r := b[16:]
	r[0], r[1] = family, syscall.IPPROTO_TCP
	ne.PutUint32(r[4:], 1<<10) // TCP_LISTEN
	ne.PutUint32(r[48:], 0xffffffff)
	ne.PutUint32(r[52:], 0xffffffff) // INET_DIAG_NOCOOKIE
	return b
}

// parseQueues decodes netlink messages holding inet_diag_msg records and
// keeps the listeners on port. done is true at NLMSG_DONE.
func parseQueues(b []byte, port uint16) (done bool, out []Queue, err error) {
	ne := binary.NativeEndian
	for len(b) >= 16 {
		l := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		if l < 16 || l > len(b) {
			return false, out, fmt.Errorf("sock_diag: bad message length %d", l)
		}
		msg := b[16:l]
		switch typ {
		case 3: // NLMSG_DONE
			return true, out, nil
		case 2: // NLMSG_ERROR
			if len(msg) >= 4 {
				if e := int32(ne.Uint32(msg)); e != 0 {
					return true, out, fmt.Errorf("sock_diag: %w", syscall.Errno(-e))
				}
			}
			return true, out, nil
		case 20:
			if len(msg) >= 72 {
				sport := binary.BigEndian.Uint16(msg[4:6])
				if port == 0 || sport == port {
					var a netip.Addr
					if msg[0] == unix.AF_INET {
						a = netip.AddrFrom4([4]byte(msg[8:12]))
					} else {
						a = netip.AddrFrom16([16]byte(msg[8:24]))
					}
					out = append(out, Queue{Local: netip.AddrPortFrom(a, sport),
						Queued: ne.Uint32(msg[56:]), Backlog: ne.Uint32(msg[60:])})
				}
			}
		}
		al := (l + 3) &^ 3
		if al > len(b) {
			break
		}
		b = b[al:]
	}
	return false, out, nil
}

func sysctl(name string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + strings.TrimPrefix(name, "/"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// canBindPrivileged: root, or CAP_NET_BIND_SERVICE (bit 10) in the
// effective set.
func canBindPrivileged() bool {
	if os.Geteuid() == 0 {
		return true
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<unix.CAP_NET_BIND_SERVICE) != 0
		}
	}
	return false
}

package doctor

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// System returns the Env over the real machine.
func System() *Env {
	d := &net.Dialer{}
	return &Env{
		Resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
			addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			for i := range addrs {
				addrs[i] = addrs[i].Unmap()
			}
			return addrs, err
		},
		Inventory: func(ctx context.Context, port uint16) ([]sockets.Socket, error) {
			return sockets.List(ctx, sockets.Filter{Port: port})
		},
		Dial:     d.DialContext,
		Firewall: ReadFirewall,
		ProcState: func(pid int) (string, error) {
			p, err := procs.Get(pid)
			if err != nil {
				return "", err
			}
			return p.State, nil
		},
		Backlog:           backlog,
		LocalAddrs:        localAddrs,
		Sysctl:            sysctl,
		CanBindPrivileged: canBindPrivileged,
		Listen:            net.Listen,
		Reserved:          ports.SystemReserved(),
	}
}

func localAddrs() ([]netip.Addr, error) {
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, ifa := range ifas {
		if p, err := netip.ParsePrefix(ifa.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}

// ReadFirewall reads the packet filter's rules, read-only: `nft -j list
// ruleset` where nft is installed, else `iptables-save` and
// `ip6tables-save`. Rules iptables-nft wrote in compat form are re-read from
// iptables-save. It returns nil, nil when no tool is installed, and an
// error naming the command when reading needs privileges doctor lacks.
func ReadFirewall(ctx context.Context) (*Ruleset, error) {
	var rs *Ruleset
	fromNFT := false
	if path, err := exec.LookPath("nft"); err == nil {
		out, err := run(ctx, path, "-j", "list", "ruleset")
		if err != nil {
			return nil, err
		}
		rs, err = ParseNFT(bytes.NewReader(out))
		if err != nil {
			return nil, err
		}
		fromNFT = true
	}
	for _, t := range []struct{ cmd, family string }{{"iptables-save", "ip"}, {"ip6tables-save", "ip6"}} {
		path, err := exec.LookPath(t.cmd)
		if err != nil {
			continue
		}
		out, err := run(ctx, path)
		if err != nil {
			if rs != nil {
				continue
			}
			return nil, err
		}
		ip, err := ParseIPTables(bytes.NewReader(out), t.family)
		if err != nil {
			continue // nft's view stands
		}
		switch {
		case rs == nil:
			rs = ip
		case !fromNFT:
			rs.Chains = append(rs.Chains, ip.Chains...)
			rs.Source += ", " + ip.Source
		default:
			rs.merge(ip)
		}
	}
	return rs, nil
}

func run(ctx context.Context, path string, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		low := strings.ToLower(msg)
		if strings.Contains(low, "permission denied") || strings.Contains(low, "operation not permitted") {
			return nil, fmt.Errorf("%s %s: %s (needs root)", path, strings.Join(args, " "), msg)
		}
		return nil, fmt.Errorf("%s %s: %s", path, strings.Join(args, " "), msg)
	}
	return out, nil
}

// backlog returns the accept queues of the TCP listeners on port: for a
// listener, the inventory's RecvQ is the number of connections waiting to be
// accepted and SendQ the listen(2) backlog, as ss shows them.
func backlog(port uint16) ([]Queue, error) {
	socks, err := sockets.List(context.Background(), sockets.Filter{Port: port, TCP: true, NoOwners: true})
	if err != nil {
		return nil, err
	}
	var out []Queue
	for _, s := range socks {
		if s.State == sockets.Listen {
			out = append(out, Queue{Local: s.Local, Queued: s.RecvQ, Backlog: s.SendQ})
		}
	}
	return out, nil
}

package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// DiagnoseBind answers `homeport doctor --bind N`: could a server start on
// port N here? It tries to bind for real (on all interfaces, then
// released) and explains a failure: a privileged port for a user who may
// not bind it, a port already held (by whom), a port inside a range Windows
// excludes (Hyper-V, WinNAT, Docker: binding fails with "access forbidden"
// while nobody holds it, issue 6), and warns about a port inside the
// kernel's ephemeral (Windows: dynamic) range, which outgoing connections
// may take at any moment (cause 9).
func DiagnoseBind(ctx context.Context, env *Env, port uint16, proto string) *Report {
	if proto == "" {
		proto = "tcp"
	}
	r := &Report{Target: fmt.Sprintf("bind %s port %d", proto, port), Listeners: []Listener{}, Attempts: []Attempt{}}
	findings := []Finding{}

	unpriv := 1024
	if env.Sysctl != nil {
		if v, err := env.Sysctl("net/ipv4/ip_unprivileged_port_start"); err == nil {
			if n, err := strconv.Atoi(v); err == nil {
				unpriv = n
			}
		}
	}
	privileged := int(port) < unpriv && (env.CanBindPrivileged == nil || !env.CanBindPrivileged())

	var bindErr error
	if env.Listen != nil {
		addr := net.JoinHostPort("", strconv.Itoa(int(port)))
		if proto == "udp" {
			var pc net.PacketConn
			pc, bindErr = net.ListenPacket("udp", addr)
			if bindErr == nil {
				pc.Close()
			}
		} else {
			var ln net.Listener
			ln, bindErr = env.Listen("tcp", addr)
			if bindErr == nil {
				ln.Close()
			}
		}
	}
	var holders []string
	var pids []int
	if env.Inventory != nil {
		socks, _ := env.Inventory(ctx, port)
		for i := range socks {
			s := &socks[i]
			if !s.State.Listening() || string(s.Proto) != proto {
				continue
			}
			holders = append(holders, fmt.Sprintf("%s on %s", describeProcs(s), sockets.FormatAddr(s.Local)))
			pids = append(pids, ownerPIDs(s)...)
			r.Listeners = append(r.Listeners, Listener{Addr: s.Local, Proto: string(s.Proto), Process: describeProcs(s), PIDs: ownerPIDs(s)})
		}
	}

	excluded := false
	if env.Reserved != nil {
		if ex, err := env.Reserved.Excluded(ctx, proto); err == nil {
			if e, ok := ports.ExcludedAt(ex, port); ok {
				excluded = true
				findings = append(findings, excludedFinding(e, port, proto, bindErr))
			}
		}
	}

	switch {
	case excluded:
		// The reservation is the cause; a bind error only repeats it.
	case privileged && (bindErr == nil || errors.Is(bindErr, syscall.EACCES) || errors.Is(bindErr, syscall.EPERM)):
		findings = append(findings, Finding{ID: IDPrivilegedPort, Severity: High, Addr: fmt.Sprintf(":%d", port),
			Title: fmt.Sprintf("port %d is privileged: only root may bind it", port),
			Evidence: []string{
				fmt.Sprintf("net.ipv4.ip_unprivileged_port_start is %d, and this user (uid %d) has no CAP_NET_BIND_SERVICE", unpriv, uid()),
			},
			Fix: fmt.Sprintf("use a port from %d up (e.g. `homeport free`), or grant the binary the capability: `sudo setcap cap_net_bind_service=+ep /path/to/server`, or lower the limit: `sudo sysctl net.ipv4.ip_unprivileged_port_start=%d`", unpriv, port),
		})
		if bindErr != nil {
			findings[len(findings)-1].Evidence = append(findings[len(findings)-1].Evidence, "bind(:"+strconv.Itoa(int(port))+"): "+bindErr.Error())
		}
	case errors.Is(bindErr, syscall.EADDRINUSE) || bindErr == nil && len(holders) > 0:
		fd := Finding{ID: IDPortInUse, Severity: High, Addr: fmt.Sprintf(":%d", port), PIDs: pids,
			Title: fmt.Sprintf("port %d is in use", port),
			Fix:   fmt.Sprintf("free it with `homeport kill %d`, or pick another with `homeport free`", port),
		}
		if len(holders) > 0 {
			fd.Title = fmt.Sprintf("port %d is in use by %s", port, holders[0])
			fd.Evidence = append(fd.Evidence, "listening: "+strings.Join(holders, "; "))
			if bindErr == nil {
				fd.Severity = Medium
				fd.Title = fmt.Sprintf("port %d is already used on some addresses by %s", port, holders[0])
				fd.Evidence = append(fd.Evidence, "binding all interfaces worked here, but a server that binds the same address as the holder will fail with \"address already in use\"")
			}
		} else {
			fd.Evidence = append(fd.Evidence, "bind: "+bindErr.Error()+" (the holder is not visible: another user's process or another network namespace; run as root to see it)")
		}
		findings = append(findings, fd)
	case bindErr != nil:
		findings = append(findings, Finding{ID: IDBindFailed, Severity: High, Addr: fmt.Sprintf(":%d", port),
			Title:    fmt.Sprintf("cannot bind port %d: %v", port, bindErr),
			Evidence: []string{bindErr.Error()},
			Fix:      "pick another port with `homeport free`",
		})
	}

	linuxRange := false
	if env.Sysctl != nil {
		if v, err := env.Sysctl("net/ipv4/ip_local_port_range"); err == nil {
			lo, hi, ok := parseRange(v)
			linuxRange = ok
			if ok && int(port) >= lo && int(port) <= hi {
				findings = append(findings, Finding{ID: IDEphemeralPort, Severity: Low, Addr: fmt.Sprintf(":%d", port),
					Title: fmt.Sprintf("port %d is inside the ephemeral range %d-%d", port, lo, hi),
					Evidence: []string{
						fmt.Sprintf("net.ipv4.ip_local_port_range is %d %d: the kernel gives these ports to outgoing connections, so one may hold %d when the server starts", lo, hi, port),
					},
					Fix: fmt.Sprintf("pick a port below %d (`homeport free` does), or reserve it: `sudo sysctl net.ipv4.ip_local_reserved_ports=%d`", lo, port),
				})
			}
		}
	}
	if !linuxRange && env.Reserved != nil {
		// Windows (netsh) and macOS, which have no ip_local_port_range.
		if dyn, err := env.Reserved.Dynamic(ctx, proto); err == nil {
			if why := ports.ExplainDynamic(port, dyn); why != "" {
				findings = append(findings, Finding{ID: IDEphemeralPort, Severity: Low, Addr: fmt.Sprintf(":%d", port),
					Title:    fmt.Sprintf("port %d is inside the dynamic range %s", port, dyn),
					Evidence: []string{why},
					Fix:      fmt.Sprintf("pick a port below %d (`homeport free` does), or start the server before the programs that make many outgoing connections", dyn.Lo),
				})
			}
		}
	}
	r.Findings = findings
	r.OK = true
	for _, f := range findings {
		if f.Severity > Info {
			r.OK = false
		}
	}
	if r.OK {
		r.Verdict = fmt.Sprintf("a server can bind %s port %d", proto, port)
	} else {
		r.Verdict = findings[0].Title
	}
	return r
}

func parseRange(s string) (lo, hi int, ok bool) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(f[0])
	b, err2 := strconv.Atoi(f[1])
	return a, b, err1 == nil && err2 == nil && a <= b
}

// excludedFinding explains a port inside a range Windows keeps from every
// program, and how to get out of it.
func excludedFinding(e ports.Exclusion, port uint16, proto string, bindErr error) Finding {
	fd := Finding{ID: IDExcludedPort, Severity: High, Addr: fmt.Sprintf(":%d", port),
		Title:    fmt.Sprintf("port %d is reserved by Windows (excluded range %s)", port, e.Range),
		Evidence: []string{e.Explain(port)},
	}
	if bindErr != nil {
		fd.Evidence = append(fd.Evidence, "bind(:"+strconv.Itoa(int(port))+"): "+bindErr.Error())
	}
	if e.Administered {
		fd.Fix = fmt.Sprintf("pick another port with `homeport free` (it skips excluded ranges), or remove the reservation from an elevated prompt: "+
			"`netsh int ipv4 delete excludedportrange protocol=%s startport=%d numberofports=%d`", proto, e.Lo, e.Len())
	} else {
		fd.Fix = "pick another port with `homeport free` (it skips excluded ranges), or release the reservations from an elevated prompt: " +
			"`net stop winnat` then `net start winnat` (Hyper-V, WSL 2 and Docker reserve ranges again when they start, maybe elsewhere)"
	}
	return fd
}

package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// attemptsWith returns the attempts whose result is one of rs.
func (f *facts) attemptsWith(rs ...Result) []Attempt {
	var out []Attempt
	for _, a := range f.attempts {
		if slices.Contains(rs, a.Result) {
			out = append(out, a)
		}
	}
	return out
}

// coveringListener returns the listener that accepts connections to a.
func (f *facts) coveringListener(a netip.Addr) *sockets.Socket {
	for i := range f.listeners {
		if f.listeners[i].Takes(a) {
			return &f.listeners[i]
		}
	}
	return nil
}

// checkUnresolvable: cause 3, the name does not resolve. *.localhost is the
// common case: browsers resolve it themselves (RFC 6761), while curl, Node,
// Python and Go ask the system resolver, which often does not know it.
func checkUnresolvable(f *facts) []Finding {
	if f.resolveErr == nil {
		return nil
	}
	h := f.target.Host
	fd := Finding{ID: IDUnresolvable, Severity: High, Addr: h,
		Title:    fmt.Sprintf("%s does not resolve with the system resolver", h),
		Evidence: []string{fmt.Sprintf("looking up %s: %v", h, f.resolveErr)},
	}
	if ports.IsLocalhost(h) {
		fd.Evidence = append(fd.Evidence,
			"browsers resolve *.localhost to 127.0.0.1 and ::1 themselves; curl (before 7.78), Node, Python, Go and other command-line tools ask the system resolver, which does not know the name")
		if c := f.firstConnected(); c != nil {
			fd.Evidence = append(fd.Evidence, fmt.Sprintf("%s answers on %s", f.ownerOf(c.Addr.Addr()), sockets.FormatAddr(c.Addr)))
		}
		fd.Fix = fmt.Sprintf("add \"127.0.0.1 %s\" and \"::1 %s\" to /etc/hosts, or use http://127.0.0.1:%d from tools other than the browser", h, h, f.target.Port)
	} else {
		fd.Fix = fmt.Sprintf("check the name: `getent hosts %s`; or connect to an IP address", h)
	}
	return []Finding{fd}
}

func (f *facts) firstConnected() *Attempt {
	for i := range f.attempts {
		if f.attempts[i].Result == Connected {
			return &f.attempts[i]
		}
	}
	return nil
}

func (f *facts) ownerOf(a netip.Addr) string {
	if s := f.coveringListener(a); s != nil {
		return describeProcs(s)
	}
	return "a server"
}

// checkNothingListens: cause 1. Nothing listens on the port on this
// machine; says what listens nearby.
func checkNothingListens(f *facts) []Finding {
	if len(f.listeners) > 0 || len(f.attemptsWith(Connected)) > 0 {
		return nil
	}
	var tried []string
	for _, a := range f.attempts {
		if !a.Local {
			return nil // a remote host: checkRemote speaks for it
		}
		tried = append(tried, fmt.Sprintf("connection to %s %s", sockets.FormatAddr(a.Addr), resultWords(a)))
	}
	where := fmt.Sprintf("port %d", f.target.Port)
	if f.target.Host != "" && len(f.attempts) == 1 {
		where = sockets.FormatAddr(f.attempts[0].Addr)
	}
	fd := Finding{ID: IDNothingListens, Severity: High, Addr: where,
		Title:    fmt.Sprintf("nothing listens on %s", where),
		Evidence: append(tried, fmt.Sprintf("no process on this machine listens on %s port %d", f.target.Proto, f.target.Port)),
		Fix:      fmt.Sprintf("start the server on port %d", f.target.Port),
	}
	if near := nearby(f.all, f.target.Port, f.target.Proto); len(near) > 0 {
		s := near[0]
		fd.Evidence = append(fd.Evidence, fmt.Sprintf("did you mean %d? %s listens on %s", s.Port(), describeProcs(&s), sockets.FormatAddr(s.Local)))
		for _, o := range near[1:] {
			fd.Evidence = append(fd.Evidence, fmt.Sprintf("also nearby: %d, %s on %s", o.Port(), describeProcs(&o), sockets.FormatAddr(o.Local)))
		}
		fd.PIDs = ownerPIDs(&s)
		fd.Fix = fmt.Sprintf("start the server on port %d, or connect to %s where %s listens (`homeport who %d`)",
			f.target.Port, connectAddr(s.Local), describeProcs(&s), s.Port())
	}
	return []Finding{fd}
}

// nearby returns listeners on ports a typo or an off-by-one away from port
// (within 10, or a digit more or less), nearest first, one per port.
func nearby(all []sockets.Socket, port uint16, proto string) []sockets.Socket {
	var out []sockets.Socket
	dist := func(p uint16) int {
		d := int(p) - int(port)
		if d < 0 {
			d = -d
		}
		if d <= 10 {
			return d
		}
		if int(p) == int(port)*10 || int(p)*10 == int(port) {
			return 11
		}
		return -1
	}
	for _, s := range all {
		if string(s.Proto) != proto || s.Port() == port || dist(s.Port()) < 0 {
			continue
		}
		if slices.ContainsFunc(out, func(o sockets.Socket) bool { return o.Port() == s.Port() }) {
			continue
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b sockets.Socket) int { return dist(a.Port()) - dist(b.Port()) })
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}

// connectAddr is where a client reaches a listener: its address, or the
// loopback of its family for a wildcard.
func connectAddr(ap netip.AddrPort) string {
	a := ap.Addr().Unmap()
	if a.IsUnspecified() {
		if a.Is4() {
			a = netip.MustParseAddr("127.0.0.1")
		} else {
			a = netip.IPv6Loopback()
		}
	}
	return sockets.FormatAddr(netip.AddrPortFrom(a, ap.Port()))
}

func resultWords(a Attempt) string {
	switch a.Result {
	case Connected:
		return "works"
	case Refused:
		return "refused"
	case TimedOut:
		return "timed out after " + fmtDuration(a.Duration)
	case Unreachable:
		return "failed: unreachable (" + a.Error + ")"
	}
	return "failed: " + a.Error
}

// checkAddress: causes 2 and 4, and a listener on another address. Some
// listener holds the port, but not on the address that was refused.
func checkAddress(f *facts) []Finding {
	if len(f.listeners) == 0 {
		return nil
	}
	var out []Finding
	refused := f.attemptsWith(Refused)
	works := f.attemptsWith(Connected)
	for _, a := range refused {
		if !a.Local || f.coveringListener(a.Addr.Addr()) != nil {
			continue
		}
		addr := a.Addr.Addr()
		l := &f.listeners[0]
		// Prefer a listener of the other family for the family story.
		for i := range f.listeners {
			if f.listeners[i].Local.Addr().Unmap().Is4() != addr.Is4() {
				l = &f.listeners[i]
				break
			}
		}
		who := describeProcs(l)
		lAddr := sockets.FormatAddr(l.Local)
		switch {
		case !addr.IsLoopback() && allLoopback(f.listeners):
			out = append(out, Finding{ID: IDLoopbackOnly, Severity: High, Addr: sockets.FormatAddr(a.Addr), PIDs: ownerPIDs(l),
				Title: fmt.Sprintf("connection refused on %s: %s listens on loopback only", sockets.FormatAddr(a.Addr), who),
				Evidence: []string{
					fmt.Sprintf("%s listens on %s, which only this machine can reach; other devices connect to %s and are refused", who, lAddr, addr),
				},
				Fix: fmt.Sprintf("make the server listen on all interfaces: host 0.0.0.0 (or %s), e.g. `--host 0.0.0.0` for Vite and Next.js, `-b 0.0.0.0` for Rails, `--bind 0.0.0.0` for python -m http.server", addr),
			})
		case addr.IsLoopback() && (l.Local.Addr().Unmap().IsLoopback() || l.Local.Addr().IsUnspecified()) && l.Local.Addr().Unmap().Is4() != addr.Is4():
			fd := Finding{ID: IDFamilyMismatch, Severity: High, Addr: sockets.FormatAddr(a.Addr), PIDs: ownerPIDs(l),
				Fix: familyFix(l, addr, f.bindV6Only),
			}
			host := f.target.Host
			if f.fallback && len(works) > 0 {
				continue // a browser tries both and gets there; the name is the problem
			}
			only := "only"
			if l.Local.Addr().IsUnspecified() && l.V6Only {
				only = "only, IPv6-only (IPV6_V6ONLY)"
			}
			if len(works) > 0 {
				fd.Title = fmt.Sprintf("connection refused on %s, works on %s", addr, works[0].Addr.Addr())
				order := "first"
				if f.resolved[0] != addr {
					order = "too"
				}
				fd.Evidence = []string{fmt.Sprintf("%s resolves to %s %s; %s listens on %s %s", host, addr, order, who, lAddr, only)}
				if order == "too" {
					// Clients that try addresses in order reach the server
					// first; still worth knowing, not a failure.
					fd.Severity = Low
					fd.Evidence = append(fd.Evidence, fmt.Sprintf("clients that take the first address reach %s; clients that pick %s fail", works[0].Addr.Addr(), addr))
				}
			} else {
				fd.Title = fmt.Sprintf("connection refused on %s: %s listens on %s %s", addr, who, lAddr, only)
				switch {
				case host == "" || f.literal:
					// The target named the address itself: there is no
					// name resolution to speak of.
					fd.Evidence = []string{fmt.Sprintf("%s listens on %s %s; nothing takes connections to %s", who, lAddr, only, sockets.FormatAddr(a.Addr))}
				default:
					fd.Evidence = []string{fmt.Sprintf("%s resolves to %s only; %s listens on %s %s", host, familyList(f.resolved), who, lAddr, only)}
				}
			}
			out = append(out, fd)
		default:
			out = append(out, Finding{ID: IDWrongAddress, Severity: High, Addr: sockets.FormatAddr(a.Addr), PIDs: ownerPIDs(l),
				Title:    fmt.Sprintf("connection refused on %s: %s listens on %s instead", sockets.FormatAddr(a.Addr), who, lAddr),
				Evidence: []string{fmt.Sprintf("%s listens on port %d only at %s", who, f.target.Port, addrList(f.listeners))},
				Fix:      fmt.Sprintf("connect to %s, or make the server listen on all interfaces (host 0.0.0.0)", connectAddr(l.Local)),
			})
		}
	}
	return out
}

// familyFix says how to make listener l take connections to the loopback
// address a of the other family. Naming "localhost" as the host is no fix:
// Node's server.listen(port, "localhost") and Vite bind the first address
// the name resolves to, one family only, which is the failure itself.
// bindV6Only is net.ipv6.bindv6only, when known.
func familyFix(l *sockets.Socket, a netip.Addr, bindV6Only string) string {
	la := l.Local.Addr().Unmap()
	there := connectAddr(l.Local)
	switch {
	case la.IsUnspecified() && la.Is6():
		// [::] refuses IPv4 only when the socket is IPv6-only.
		why := "the server sets IPV6_V6ONLY on its [::] socket"
		if bindV6Only == "1" {
			why = "net.ipv6.bindv6only is 1, so every [::] socket is IPv6-only unless the server turns IPV6_V6ONLY off"
		}
		fix := fmt.Sprintf("%s: turn IPV6_V6ONLY off in the server (nginx `listen [::]:%d ipv6only=off`, socat `ipv6only=0`), or listen on 0.0.0.0:%d as well", why, l.Port(), l.Port())
		if bindV6Only == "1" {
			fix += ", or make dual-stack the default: `sudo sysctl net.ipv6.bindv6only=0`"
		}
		return fix + fmt.Sprintf("; or connect to %s", there)
	case la.IsUnspecified():
		return fmt.Sprintf("listen on \"::\" with IPv6-only off (dual-stack: IPv4 and IPv6 on every interface; Node's `server.listen(%d, \"::\")` and Vite's `--host` do this), or on both 0.0.0.0 and ::; or connect to %s", l.Port(), there)
	}
	other := "::1"
	if a.Is4() {
		other = "127.0.0.1"
	}
	return fmt.Sprintf("connect to %s, or make the server listen on %s too: two listeners, one per address (the host \"localhost\" is not enough: Node and Vite bind the one address it resolves to first); \"::\" with IPv6-only off takes both families, but on every interface", there, other)
}

func familyList(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

func addrList(ls []sockets.Socket) string {
	var s []string
	for i := range ls {
		if a := sockets.FormatAddr(ls[i].Local); !slices.Contains(s, a) {
			s = append(s, a)
		}
	}
	return strings.Join(s, ", ")
}

func allLoopback(ls []sockets.Socket) bool {
	for i := range ls {
		if !ls[i].Local.Addr().Unmap().IsLoopback() {
			return false
		}
	}
	return true
}

// checkFirewall: cause 5. A connection that a listener should have taken
// timed out or was refused: find the rule that drops or rejects it. A
// timeout with no rule to blame is reported as filtered.
func checkFirewall(f *facts) []Finding {
	var out []Finding
	for _, a := range f.attemptsWith(TimedOut, Refused) {
		l := (*sockets.Socket)(nil)
		if a.Local {
			l = f.coveringListener(a.Addr.Addr())
			if l == nil && a.Result == Refused {
				continue // nothing listens there: checkNothingListens / checkAddress
			}
		}
		if l != nil && a.Result == TimedOut && f.backlogFull(l) {
			continue // the process, not the firewall: checkBacklog / checkStopped
		}
		where := sockets.FormatAddr(a.Addr)
		who := "the server"
		var pids []int
		if l != nil {
			who = describeProcs(l)
			pids = ownerPIDs(l)
		}
		iif := ""
		if a.Local {
			iif = "lo" // traffic to this machine's own address runs over lo
		}
		d := f.ruleset.Evaluate(Packet{Proto: f.target.Proto, Src: srcFor(a.Addr.Addr()), Dst: a.Addr.Addr(), DPort: a.Addr.Port(), Iif: iif})
		if a.Local && d.Rule != nil && (d.Verdict == "drop" || d.Verdict == "reject") {
			verb := "drops"
			if d.Verdict == "reject" {
				verb = "rejects"
			}
			fd := Finding{ID: IDFirewall, Severity: High, Addr: where, PIDs: pids, Rule: d.Rule,
				Title: fmt.Sprintf("connection to %s %s: the firewall %s it (%s)", where, resultWords(a), verb, d.Rule.Name()),
				Evidence: []string{
					fmt.Sprintf("rule %s: %s", d.Rule.Name(), d.Rule.Text),
				},
				Fix: firewallFix(d.Rule, f.target.Port, f.target.Proto),
			}
			if l != nil {
				fd.Evidence = append([]string{fmt.Sprintf("%s listens on %s", who, sockets.FormatAddr(l.Local))}, fd.Evidence...)
			}
			if d.Uncertain {
				fd.Severity = Medium
				fd.Title = fmt.Sprintf("connection to %s %s: the firewall may %s it (%s)", where, resultWords(a), strings.TrimSuffix(verb, "s"), d.Rule.Name())
				fd.Evidence = append(fd.Evidence, "this rule has conditions homeport cannot check; it may or may not be the one")
			}
			out = append(out, fd)
			continue
		}
		if a.Result != TimedOut {
			if !a.Local {
				out = append(out, Finding{ID: IDRemoteRefused, Severity: High, Addr: where,
					Title:    fmt.Sprintf("connection to %s refused", where),
					Evidence: []string{fmt.Sprintf("%s is not an address of this machine; nothing listens on port %d there, or its firewall rejects the connection", a.Addr.Addr(), a.Addr.Port())},
					Fix:      fmt.Sprintf("on that machine, check the server runs and listens on all interfaces: `homeport doctor %d` there", a.Addr.Port()),
				})
			}
			continue
		}
		fd := Finding{ID: IDFiltered, Severity: High, Addr: where, PIDs: pids,
			Title: fmt.Sprintf("connection to %s timed out after %s: filtered", where, fmtDuration(a.Duration)),
			Evidence: []string{
				"a closed port answers at once with a refusal; silence means a firewall dropped the packets, on this machine or on the way",
			},
		}
		if l != nil {
			fd.Evidence = append([]string{fmt.Sprintf("%s listens on %s", who, sockets.FormatAddr(l.Local))}, fd.Evidence...)
		}
		switch {
		case !a.Local:
			fd.Fix = fmt.Sprintf("check that %s is up and its firewall allows %s port %d (e.g. `sudo ufw allow %d/%s` there)", a.Addr.Addr(), f.target.Proto, a.Addr.Port(), a.Addr.Port(), f.target.Proto)
		case f.ruleErr != nil:
			fd.Evidence = append(fd.Evidence, "could not read the firewall rules: "+f.ruleErr.Error())
			fd.Fix = "read the rules as root: `sudo nft list ruleset` (or `sudo iptables-save`), and allow the port"
		default:
			fd.Evidence = append(fd.Evidence, "no rule on this machine's input path matches")
			fd.Fix = fmt.Sprintf("check the firewall of the network or host in between, and `sudo nft list ruleset` here for port %d", a.Addr.Port())
		}
		out = append(out, fd)
	}
	return out
}

func srcFor(dst netip.Addr) netip.Addr {
	if dst.Is4() {
		return netip.MustParseAddr("127.0.0.1")
	}
	return netip.IPv6Loopback()
}

func firewallFix(r *Rule, port uint16, proto string) string {
	if r.Handle == 0 {
		return fmt.Sprintf("allow the port before the policy applies: `sudo nft add rule %s %s %s %s dport %d accept` (or `sudo ufw allow %d/%s`)",
			r.Family, r.Table, r.Chain, proto, port, port, proto)
	}
	if r.Family == "ip" || r.Family == "ip6" {
		if r.Table == "filter" && strings.ToUpper(r.Chain) == r.Chain {
			cmd := "iptables"
			if r.Family == "ip6" {
				cmd = "ip6tables"
			}
			return fmt.Sprintf("remove the rule (`sudo nft delete rule %s %s %s handle %d`, or `sudo %s -D %s %d` for iptables) or allow the port before it (`sudo ufw allow %d/%s`)",
				r.Family, r.Table, r.Chain, r.Handle, cmd, r.Chain, r.Handle, port, proto)
		}
	}
	return fmt.Sprintf("remove the rule (`sudo nft delete rule %s %s %s handle %d`) or insert an accept rule before it (`sudo nft insert rule %s %s %s %s dport %d accept`)",
		r.Family, r.Table, r.Chain, r.Handle, r.Family, r.Table, r.Chain, proto, port)
}

func (f *facts) stopped(l *sockets.Socket) bool {
	for _, p := range l.Owners {
		if st := f.states[p.PID]; st == "T" || st == "t" {
			return true
		}
	}
	return false
}

func (f *facts) backlogFull(l *sockets.Socket) bool {
	for _, q := range f.queues {
		if q.Local == l.Local && q.Full() {
			return true
		}
	}
	return false
}

// checkStopped: cause 6, the owner is stopped (SIGSTOP, Ctrl-Z): the kernel
// completes handshakes into the accept queue, but nobody accepts.
func checkStopped(f *facts) []Finding {
	var out []Finding
	for i := range f.listeners {
		l := &f.listeners[i]
		for _, p := range l.Owners {
			st := f.states[p.PID]
			if st != "T" && st != "t" {
				continue
			}
			what := "stopped"
			if st == "t" {
				what = "stopped by a debugger"
			}
			out = append(out, Finding{ID: IDProcessStopped, Severity: High, Addr: sockets.FormatAddr(l.Local), PIDs: []int{p.PID},
				Title: fmt.Sprintf("%s (pid %d) is %s: it listens on %s but does not accept connections", p.Name, p.PID, what, sockets.FormatAddr(l.Local)),
				Evidence: []string{
					fmt.Sprintf("process %d is in state %s (/proc/%d/stat)", p.PID, st, p.PID),
					"the kernel still completes connections into the accept queue, so clients connect and then wait forever",
				},
				Fix: fmt.Sprintf("resume it: `kill -CONT %d` (or `fg` in the shell that pressed Ctrl-Z); or stop it for good: `homeport kill %d`", p.PID, l.Port()),
			})
			return out
		}
	}
	return out
}

// checkBacklog: cause 6, the accept queue is full: the process does not
// call accept(2) fast enough, and new connections are dropped.
func checkBacklog(f *facts) []Finding {
	var out []Finding
	for i := range f.listeners {
		l := &f.listeners[i]
		for _, q := range f.queues {
			if q.Local != l.Local || !q.Full() {
				continue
			}
			who := describeProcs(l)
			if f.stopped(l) {
				continue // checkStopped says why
			}
			out = append(out, Finding{ID: IDBacklogFull, Severity: High, Addr: sockets.FormatAddr(l.Local), PIDs: ownerPIDs(l),
				Title: fmt.Sprintf("%s listens on %s but its accept queue is full (%d waiting, backlog %d)", who, sockets.FormatAddr(l.Local), q.Queued, q.Backlog),
				Evidence: []string{
					fmt.Sprintf("sock_diag: %d connections wait to be accepted, the listen backlog is %d", q.Queued, q.Backlog),
					"the kernel drops new connection attempts while the queue is full: clients time out",
				},
				Fix: fmt.Sprintf("%s is not calling accept(): look for a hang or busy loop (`homeport who %d`), restart it, or give listen() a larger backlog", who, l.Port()),
			})
		}
	}
	return out
}

package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// facts is everything a diagnosis looked at. Checks read it and never touch
// the system themselves.
type facts struct {
	target ports.Target
	name   string // the target as the report shows it
	// resolved are the addresses the host resolved to (or the literal), in
	// the order a client tries them; for a bare port, the listeners' own.
	resolved   []netip.Addr
	resolveErr error
	// fallback is true when resolved was made up after resolution failed
	// (loopback for *.localhost, as browsers do).
	fallback bool
	// literal is true when the target named an IP address itself.
	literal bool
	// bindV6Only is net.ipv6.bindv6only ("0", "1", or "" when unknown).
	bindV6Only string

	listeners []sockets.Socket // listening sockets on the target's port
	invErr    error            // why the inventory could not be read
	all       []sockets.Socket // every listener, read only when something failed
	local     func(netip.Addr) bool
	attempts  []Attempt
	states    map[int]string // owner pid -> process state
	queues    []Queue
	ruleset   *Ruleset
	ruleErr   error
	http      *HTTPResult
	timeout   time.Duration
}

// Diagnose finds out whether target can be reached and, if not, why.
// It never takes much longer than opts.Timeout: every connection attempt
// is bounded by it, and the attempts run side by side. The error is
// non-nil when the socket inventory could not be read; the report then
// rests on the connection attempts alone.
func Diagnose(ctx context.Context, env *Env, t ports.Target, opts *Options) (*Report, error) {
	f := gather(ctx, env, t, opts)
	if f.invErr != nil {
		return report(f), fmt.Errorf("reading the socket inventory: %w", f.invErr)
	}
	return report(f), nil
}

// gather collects the facts about t through env.
func gather(ctx context.Context, env *Env, t ports.Target, opts *Options) *facts {
	timeout := opts.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Leave a quarter of the time for what follows a timed-out attempt
	// (reading the firewall, the protocol probe), counted from the start:
	// the inventory read before connecting comes out of the attempts'
	// share, not the firewall's.
	dialTimeout := timeout * 3 / 4
	dialDeadline := time.Now().Add(dialTimeout)

	f := &facts{target: t, name: t.String(), timeout: dialTimeout, states: map[int]string{}}
	f.local = localAddrSet(env)

	// The inventory is read before any connection is made: a server that
	// forks per connection (PostgreSQL's backends) hands its listening
	// socket to the child for a moment, and doctor's own probe would show
	// up as a listener owner.
	// The name is resolved meanwhile.
	inventory := make(chan struct{})
	go func() {
		defer close(inventory)
		// An unreadable inventory leaves listeners empty; attempts still tell.
		socks, err := env.Inventory(ctx, t.Port)
		f.invErr = err
		for _, s := range socks {
			if s.State.Listening() && string(s.Proto) == t.Proto {
				f.listeners = append(f.listeners, s)
			}
		}
	}()

	switch {
	case t.Host == "":
		<-inventory // a bare port: connect where the listeners are
		f.resolved = listenerAddrs(f.listeners)
	default:
		if a, err := netip.ParseAddr(strings.SplitN(t.Host, "%", 2)[0]); err == nil {
			f.resolved = []netip.Addr{a.Unmap()}
			f.literal = true
		} else {
			addrs, err := env.Resolve(ctx, t.Host)
			f.resolved, f.resolveErr = addrs, err
			if len(addrs) == 0 && f.resolveErr == nil {
				f.resolveErr = errors.New("no addresses")
			}
			if f.resolveErr != nil && ports.IsLocalhost(t.Host) {
				// Browsers resolve *.localhost to loopback themselves
				// (RFC 6761 section 6.3): look at what they would reach.
				f.resolved = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
				f.fallback = true
			}
		}
	}

	<-inventory
	if env.Sysctl != nil {
		if v, err := env.Sysctl("net/ipv6/bindv6only"); err == nil {
			f.bindV6Only = strings.TrimSpace(v)
		}
	}

	var wg sync.WaitGroup
	if t.Proto == "tcp" {
		f.attempts = make([]Attempt, len(f.resolved))
		for i, a := range f.resolved {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.attempts[i] = dial(ctx, env, netip.AddrPortFrom(a, t.Port), time.Until(dialDeadline))
				f.attempts[i].Local = f.local(a)
			}()
		}
	}
	wg.Wait()

	for _, s := range f.listeners {
		for _, p := range s.Owners {
			if _, seen := f.states[p.PID]; seen || env.ProcState == nil {
				continue
			}
			if st, err := env.ProcState(p.PID); err == nil {
				f.states[p.PID] = st
			}
		}
	}
	if t.Proto == "tcp" && len(f.listeners) > 0 && env.Backlog != nil {
		f.queues, _ = env.Backlog(t.Port)
	}

	failed := len(f.attempts) == 0
	for _, a := range f.attempts {
		if a.Result != Connected {
			failed = true
		}
	}
	if failed && env.Inventory != nil {
		// Look around: nearby ports, the same program elsewhere.
		all, err := env.Inventory(ctx, 0)
		if err == nil {
			for _, s := range all {
				if s.State.Listening() {
					f.all = append(f.all, s)
				}
			}
		}
	}
	if failed && env.Firewall != nil {
		f.ruleset, f.ruleErr = env.Firewall(ctx)
	}
	if t.URL != nil {
		for _, a := range f.attempts {
			if a.Result == Connected {
				f.http = probeHTTP(ctx, env, t, a.Addr, f.coveringListener(a.Addr.Addr()))
				break
			}
		}
	}
	return f
}

func localAddrSet(env *Env) func(netip.Addr) bool {
	var addrs []netip.Addr
	if env.LocalAddrs != nil {
		addrs, _ = env.LocalAddrs()
	}
	return func(a netip.Addr) bool {
		a = a.Unmap()
		return a.IsLoopback() || slices.Contains(addrs, a)
	}
}

// listenerAddrs returns where to connect to reach the listeners: their own
// addresses, with a wildcard replaced by the loopback of its family.
func listenerAddrs(ls []sockets.Socket) []netip.Addr {
	var out []netip.Addr
	add := func(a netip.Addr) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, s := range ls {
		a := s.Local.Addr().Unmap()
		switch {
		case a.IsUnspecified() && a.Is4():
			add(netip.MustParseAddr("127.0.0.1"))
		case a.IsUnspecified():
			add(netip.IPv6Loopback())
		default:
			add(a)
		}
	}
	if len(out) == 0 {
		out = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	}
	return out
}

func dial(ctx context.Context, env *Env, ap netip.AddrPort, timeout time.Duration) Attempt {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	c, err := env.Dial(ctx, "tcp", ap.String())
	a := Attempt{Addr: ap, Duration: time.Since(start)}
	if err == nil {
		c.Close()
		a.Result = Connected
		return a
	}
	a.Error = err.Error()
	a.Result = classifyDialError(err)
	return a
}

func classifyDialError(err error) Result {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, syscall.ETIMEDOUT), errors.As(err, &ne) && ne.Timeout():
		return TimedOut
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.EADDRNOTAVAIL):
		return Unreachable
	}
	return Failed
}

// report runs the checks over f and sums them up.
func report(f *facts) *Report {
	// Empty lists, not null, in JSON: scripts index them without checks.
	r := &Report{Target: f.name, Resolved: f.resolved, Attempts: f.attempts, HTTP: f.http,
		Listeners: []Listener{}, Findings: []Finding{}}
	if r.Attempts == nil {
		r.Attempts = []Attempt{}
	}
	if f.fallback {
		r.Resolved = nil
	}
	if f.resolveErr != nil {
		r.ResolveError = f.resolveErr.Error()
	}
	for i := range f.listeners {
		s := &f.listeners[i]
		l := Listener{Addr: s.Local, Proto: string(s.Proto), Process: describeProcs(s), PIDs: ownerPIDs(s)}
		for _, p := range l.PIDs {
			if st := f.states[p]; st != "" {
				l.State = st
				break
			}
		}
		for _, q := range f.queues {
			if q.Local == s.Local {
				l.Queued, l.Backlog = q.Queued, q.Backlog
			}
		}
		r.Listeners = append(r.Listeners, l)
	}
	for _, check := range checks {
		r.Findings = append(r.Findings, check(f)...)
	}
	r.OK = true
	for _, fd := range r.Findings {
		if fd.Severity > Info {
			r.OK = false
		}
	}
	if r.OK && len(f.attempts) > 0 && f.firstConnected() == nil {
		// No check explained the failure: say what happened rather than
		// call a target healthy that nothing could connect to.
		a := f.attempts[0]
		r.Findings = append(r.Findings, Finding{ID: IDUnreachable, Severity: High, Addr: sockets.FormatAddr(a.Addr),
			Title:    fmt.Sprintf("cannot connect to %s: %s", sockets.FormatAddr(a.Addr), a.Error),
			Evidence: attemptLines(f.attempts),
			Fix:      fmt.Sprintf("check the route and the address: `ip route get %s`", a.Addr.Addr()),
		})
		r.OK = false
	}
	r.Verdict = verdict(f, r)
	return r
}

// checks run in order; each recognises one cause.
var checks = []func(*facts) []Finding{
	checkUnresolvable,
	checkNothingListens,
	checkAddress,
	checkFirewall,
	checkStopped,
	checkBacklog,
	checkProtocol,
	checkHostHeader,
}

func verdict(f *facts, r *Report) string {
	if r.OK {
		for _, a := range f.attempts {
			if a.Result == Connected {
				return fmt.Sprintf("connected to %s in %s", sockets.FormatAddr(a.Addr), fmtDuration(a.Duration))
			}
		}
		if len(f.listeners) > 0 {
			return fmt.Sprintf("%s listens on port %d/%s", describeProcs(&f.listeners[0]), f.target.Port, f.target.Proto)
		}
		return "no problem found"
	}
	for _, fd := range r.Findings {
		if fd.Severity > Info {
			return fd.Title
		}
	}
	return ""
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func attemptLines(as []Attempt) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("connection to %s %s", sockets.FormatAddr(a.Addr), resultWords(a)))
	}
	return out
}

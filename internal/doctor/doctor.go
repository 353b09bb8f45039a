// Package doctor explains why a connection to a local port fails, and audits
// what this machine exposes to the network.
//
// Diagnosis has two halves. Facts are gathered through Env, a set of small
// functions over the system (resolver, socket inventory, dialer, firewall
// ruleset, process state, backlog), so tests can inject any of them. Checks
// are small pure functions over those facts; each recognises one cause and
// returns findings that name the process, the address and the fix
// (issue 5).
package doctor

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// Severity orders findings. Doctor fails (exit 1) on any finding above Info;
// audit fails on findings at or above its --fail-on level.
type Severity int

// The severities, from least to most serious.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s >= 0 && int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText writes the severity's name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity parses "info", "low", "medium", "high" or "critical".
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not a severity (one of %s)", s, strings.Join(severityNames[:], ", "))
}

// Finding IDs: stable, for scripts reading --json.
const (
	IDNothingListens   = "nothing-listens"
	IDWrongAddress     = "wrong-address"
	IDFamilyMismatch   = "family-mismatch"
	IDUnresolvable     = "name-unresolvable"
	IDLoopbackOnly     = "loopback-only"
	IDFirewall         = "firewall"
	IDFiltered         = "filtered"
	IDRemoteRefused    = "remote-refused"
	IDUnreachable      = "unreachable"
	IDProcessStopped   = "process-stopped"
	IDBacklogFull      = "backlog-full"
	IDNoResponse       = "no-response"
	IDTLSMismatch      = "tls-mismatch"
	IDPlainMismatch    = "plain-http-mismatch"
	IDNotHTTP          = "not-http"
	IDHostRejected     = "host-rejected"
	IDPrivilegedPort   = "privileged-port"
	IDEphemeralPort    = "ephemeral-port"
	IDExcludedPort     = "excluded-port"
	IDPortInUse        = "port-in-use"
	IDBindFailed       = "bind-failed"
	IDExposed          = "exposed"
	IDDangerousService = "dangerous-service"
	IDDNSRebinding     = "dns-rebinding"
)

// Finding is one thing doctor or audit found wrong (or worth knowing).
type Finding struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Title is the one-line verdict, e.g. "connection refused on ::1,
	// works on 127.0.0.1".
	Title string `json:"title"`
	// Evidence is what the finding rests on, one fact a line.
	Evidence []string `json:"evidence,omitempty"`
	// Fix is what to do about it.
	Fix string `json:"fix,omitempty"`
	// Addr is the address the finding is about, when there is one.
	Addr string `json:"addr,omitempty"`
	// PIDs are the processes the finding names.
	PIDs []int `json:"pids,omitempty"`
	// Rule names the firewall rule behind a firewall finding.
	Rule *Rule `json:"rule,omitempty"`
}

// Attempt is one connection doctor made.
type Attempt struct {
	Addr     netip.AddrPort `json:"addr"`
	Result   Result         `json:"result"`
	Error    string         `json:"error,omitempty"`
	Duration time.Duration  `json:"duration_ns"`
	// Local is true when Addr belongs to this machine.
	Local bool `json:"local"`
}

// Result is how a connection attempt ended.
type Result string

// The results of a connection attempt.
const (
	Connected   Result = "connected"
	Refused     Result = "refused"
	TimedOut    Result = "timeout"
	Unreachable Result = "unreachable"
	Failed      Result = "error"
)

// Listener is a listening socket on the target's port, as doctor shows it.
type Listener struct {
	Addr    netip.AddrPort `json:"addr"`
	Proto   string         `json:"proto"`
	Process string         `json:"process,omitempty"` // "node (pid 4242)"
	PIDs    []int          `json:"pids,omitempty"`
	State   string         `json:"state,omitempty"` // owner's one-letter process state
	// Queued and Backlog are the accept queue's length and limit, when known.
	Queued  uint32 `json:"queued,omitempty"`
	Backlog uint32 `json:"backlog,omitempty"`
}

// Report is the result of one diagnosis.
type Report struct {
	Target string `json:"target"`
	// Resolved lists the addresses the host name resolved to, in order.
	Resolved []netip.Addr `json:"resolved,omitempty"`
	// ResolveError is why resolution failed, if it did.
	ResolveError string     `json:"resolve_error,omitempty"`
	Listeners    []Listener `json:"listeners"`
	Attempts     []Attempt  `json:"attempts"`
	// HTTP is what the protocol probe saw, for http(s) targets.
	HTTP     *HTTPResult `json:"http,omitempty"`
	Findings []Finding   `json:"findings"`
	// OK is true when the target works: no finding above Info.
	OK bool `json:"ok"`
	// Verdict is the one-line summary.
	Verdict string `json:"verdict"`
}

// Env holds the functions through which doctor and audit see the system.
// System returns the real one; tests replace fields.
type Env struct {
	// Resolve is the system resolver: a host name to addresses, in the order
	// a client would try them.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Inventory lists TCP and UDP listeners with their owners; port 0 means
	// every port.
	Inventory func(ctx context.Context, port uint16) ([]sockets.Socket, error)
	// Dial opens a connection, as net.Dialer.DialContext does.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Firewall reads the packet filter's rules; nil rules and nil error when
	// no firewall tool is installed.
	Firewall func(ctx context.Context) (*Ruleset, error)
	// ProcState returns a process's one-letter state (R, S, T, Z ...).
	ProcState func(pid int) (string, error)
	// Backlog returns the accept queues of TCP listeners on port.
	Backlog func(port uint16) ([]Queue, error)
	// LocalAddrs lists this machine's own addresses.
	LocalAddrs func() ([]netip.Addr, error)
	// Sysctl reads a kernel setting by its /proc/sys path below
	// /proc/sys, e.g. "net/ipv4/ip_unprivileged_port_start".
	Sysctl func(name string) (string, error)
	// CanBindPrivileged reports whether this process may bind ports below
	// ip_unprivileged_port_start (root or CAP_NET_BIND_SERVICE).
	CanBindPrivileged func() bool
	// Listen opens a listener, as net.Listen does; used by --bind.
	Listen func(network, addr string) (net.Listener, error)
	// Reserved tells which ports the OS keeps from programs (Windows'
	// excluded ranges) and its dynamic range; used by --bind.
	Reserved ports.ReservedRanges
}

// Queue is the accept queue of one TCP listener.
type Queue struct {
	Local   netip.AddrPort
	Queued  uint32 // connections completed but not yet accepted
	Backlog uint32 // the limit passed to listen(2), capped by somaxconn
}

// Full reports whether the queue takes no more connections: Linux drops a
// SYN once the queue holds more than backlog entries (sk_acceptq_is_full).
func (q Queue) Full() bool { return q.Queued > q.Backlog }

// Options tune a diagnosis.
type Options struct {
	// Timeout bounds the whole diagnosis (default 3s).
	Timeout time.Duration
}

func (o *Options) timeout() time.Duration {
	if o == nil || o.Timeout <= 0 {
		return 3 * time.Second
	}
	return o.Timeout
}

// describeProcs names the owners of a socket: "node (pid 4242)",
// "nginx (pids 10, 11)", or "an unknown process" when the owner is hidden.
func describeProcs(s *sockets.Socket) string {
	if len(s.Owners) == 0 {
		switch {
		case s.UID >= 0 && uid() != 0:
			return fmt.Sprintf("a process of uid %d (hidden; run as root to see it)", s.UID)
		case s.UID >= 0:
			// Root sees every process of its PID namespace: the owner is
			// outside it (a container's host, a sandbox) or the kernel.
			return fmt.Sprintf("a process of uid %d outside this PID namespace", s.UID)
		}
		return "an unknown process"
	}
	name := s.Owners[0].Name
	if len(s.Owners) == 1 {
		return fmt.Sprintf("%s (pid %d)", name, s.Owners[0].PID)
	}
	pids := make([]string, 0, len(s.Owners))
	for _, p := range s.Owners {
		pids = append(pids, fmt.Sprint(p.PID))
	}
	return fmt.Sprintf("%s (pids %s)", name, strings.Join(pids, ", "))
}

func ownerPIDs(s *sockets.Socket) []int {
	var pids []int
	for _, p := range s.Owners {
		pids = append(pids, p.PID)
	}
	return pids
}

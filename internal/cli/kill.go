package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// KillOptions are the flags of `homeport kill`.
type KillOptions struct {
	IO      *IO
	Factory *Factory
	Targets []ports.Target
	Yes     bool
	DryRun  bool
	Signal  syscall.Signal
	Timeout time.Duration

	// Guard applies the refusal rules and signals; tests give it a fake
	// signaller.
	Guard *procs.Guard
	// Poll is the longest pause between two checks of whether the port is
	// free (the first checks come sooner).
	Poll time.Duration
	// KillWait is how long to wait for the processes to go after SIGKILL.
	KillWait time.Duration
	Resolver ports.Resolver // nil: the system's
	// Notes explains owners that are not ordinary processes, which are
	// not signalled; nil: this system's (SystemOwnerNotes).
	Notes *OwnerNotes
}

// NewCmdKill builds `homeport kill TARGET...`.
func NewCmdKill(f *Factory, runF func(*KillOptions) error) *cobra.Command {
	opts := &KillOptions{IO: f.IO, Factory: f, Timeout: 5 * time.Second, Poll: 5 * time.Millisecond,
		KillWait: 2 * time.Second}
	var sig string
	cmd := &cobra.Command{
		Use:   "kill TARGET...",
		Short: "Stop the processes that listen on a port",
		Long: `Stop the processes that listen on a port, so that it is free again.

Only the listeners are stopped, never the programs connected to the port
(` + "`lsof -ti :3000 | xargs kill`" + ` kills your browser too). homeport shows who
they are and asks first; without a terminal it asks nothing and refuses
unless --yes is given.

It sends SIGTERM (or --signal), waits up to --timeout for the port to be free,
then sends SIGKILL to what still runs, and tells what happened to each
process. Signals go through a pidfd, and the process's start time is checked
first, so a pid that was meanwhile reused by another process is never hit.
homeport never signals pid 1, itself or its parent, nor another user's
process unless run as root (sudo). A port held by docker-proxy belongs to a
container: stop the container instead.

On Windows a program's windows are asked to close first, and it is
terminated otherwise (like taskkill); another user's or an elevated process
needs an elevated prompt. System (pid 4), which holds ports 80 and 443 for
http.sys, is never killed: homeport says which service to stop instead.

Exit status: 0 the ports are free, 1 nothing was listening, 2 bad input,
3 a port could not be freed.`,
		Example: `  homeport kill 3000
  homeport kill 3000 8080 --yes
  homeport kill localhost:5173 --dry-run
  homeport kill 8000 --signal INT --timeout 10s`,
		Args: minArgs(1, "a port, like 3000"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Targets = opts.Targets[:0]
			for _, a := range args {
				t, err := ports.ParseTarget(a)
				if err != nil {
					return &ExitError{Code: exitUsage, Msg: err.Error(),
						Hint: "homeport kill takes ports (1-65535), like 'homeport kill 3000'; to stop a process by pid, use kill PID"}
				}
				opts.Targets = append(opts.Targets, t)
			}
			s, err := procs.ParseSignal(sig)
			if err != nil {
				return usageErrorf("--signal: %v", err)
			}
			opts.Signal = s
			if opts.Guard == nil {
				opts.Guard = procs.NewGuard()
			}
			if runF != nil {
				return runF(opts)
			}
			return killRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVarP(&opts.DryRun, "dry-run", "n", false, "only show what would be stopped")
	cmd.Flags().StringVarP(&sig, "signal", "s", "TERM", "first signal to send (TERM, INT, HUP, QUIT, KILL or a number)")
	cmd.Flags().Var(durationFlag{&opts.Timeout}, "timeout", "how long to wait for the port to be free before SIGKILL")
	return cmd
}

// durationFlag is a --timeout style flag parsed by ports.ParseDuration: Go
// durations or bare seconds, never negative.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := ports.ParseDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

func (durationFlag) Type() string { return "duration" }

// victim is one process that holds a target, with what it holds.
type victim struct {
	proc    procs.Process
	port    uint16      // the first port it holds
	holds   []string    // "3000/tcp on 127.0.0.1"
	note    *procs.Note // it is not an ordinary process: not signalled
	denied  bool        // the OS refused for lack of rights
	outcome string
	failed  bool // the process could not be stopped, or was not even tried
	sent    bool // the first signal was delivered
	killed  bool // SIGKILL was delivered
	gone    time.Duration
}

// killTarget is one target with the sockets that hold it.
type killTarget struct {
	t      ports.Target
	addrs  []netip.Addr // the addresses the target names; nil: any
	socks  []sockets.Socket
	hidden int // sockets without a visible owner
}

func killRun(ctx context.Context, opts *KillOptions) error {
	shortLived()
	out, errw := opts.IO.Out, opts.IO.Err
	notes := ownerNotes(opts.Notes)
	var targets []*killTarget
	for _, t := range opts.Targets {
		kt := &killTarget{t: t}
		if t.Host != "" {
			addrs, err := ports.Resolve(ctx, opts.Resolver, t.Host)
			if err != nil {
				return &ExitError{Code: exitUsage, Msg: fmt.Sprintf("cannot resolve %q: %v", t.Host, err),
					Hint: fmt.Sprintf("name the port alone: homeport kill %d", t.Port)}
			}
			kt.addrs = addrs
		}
		socks, err := kt.listeners(ctx, opts, false)
		if err != nil {
			return inventoryError(err)
		}
		kt.socks = socks
		targets = append(targets, kt)
	}

	// The processes to stop, each once, in the order they were found.
	var victims []*victim
	held := 0
	for _, kt := range targets {
		if len(kt.socks) == 0 {
			fmt.Fprintf(out, "nothing is listening on %s\n", kt.name())
			continue
		}
		held++
		for i := range kt.socks {
			s := &kt.socks[i]
			if len(s.Owners) == 0 {
				kt.hidden++
				continue
			}
			for _, p := range s.Owners {
				hold := sockets.FormatAddr(s.Local)
				if s.Proto != sockets.TCP {
					hold += "/" + string(s.Proto)
				}
				j := slices.IndexFunc(victims, func(v *victim) bool {
					return v.proc.PID == p.PID && v.proc.StartTicks == p.StartTicks
				})
				if j < 0 {
					victims = append(victims, &victim{proc: p, port: kt.t.Port})
					j = len(victims) - 1
				}
				if !slices.Contains(victims[j].holds, hold) {
					victims[j].holds = append(victims[j].holds, hold)
				}
			}
		}
	}
	if held == 0 {
		return silent(exitFailure)
	}

	// What will happen, before anything happens.
	var toSignal []*victim
	for _, v := range victims {
		if n, ok := notes.note(v.proc.PID, v.port); ok {
			v.note, v.failed = &n, true
			v.outcome = "not stopped: " + n.Reason
			if n.Hint != "" {
				v.outcome += "\n  hint: " + n.Hint
			}
			continue
		}
		switch err := opts.Guard.Check(&v.proc); {
		case err != nil:
			var re *procs.RefusedError
			errors.As(err, &re)
			v.outcome, v.failed = "not stopped: "+re.Reason, true
			if re.Hint != "" {
				v.outcome += " (" + refusalHint(re, opts, notes) + ")"
			}
		case v.proc.Name == "docker-proxy":
			v.outcome, v.failed = "not stopped: it forwards to a container; stop the container: "+dockerHint(v), true
		default:
			toSignal = append(toSignal, v)
		}
	}
	for _, kt := range targets {
		if kt.hidden > 0 {
			if notes.Windows {
				fmt.Fprintf(out, "%s is held by a process homeport cannot read (another user's, or an elevated one)\n", kt.name())
			} else {
				fmt.Fprintf(out, "%s is held by a process homeport cannot see (another user's, or outside this PID namespace)\n", kt.name())
			}
		}
	}
	for _, v := range victims {
		fmt.Fprintln(out, planText(v))
		if v.outcome != "" {
			fmt.Fprintf(out, "  %s\n", v.outcome)
		}
	}
	if opts.DryRun {
		if len(toSignal) > 0 {
			fmt.Fprintf(out, "dry run: would send %s to %s, then SIGKILL after %s\n",
				procs.SignalName(opts.Signal), plural(len(toSignal), "process", "processes"), opts.Timeout)
		}
		return nil
	}
	if len(toSignal) > 0 && !opts.Yes {
		if !opts.IO.InTTY || !opts.IO.ErrTTY {
			return &ExitError{Code: exitUsage, Msg: "not stopping anything without confirmation: there is no terminal to ask on",
				Hint: "add --yes: " + killCommand(opts) + " --yes"}
		}
		fmt.Fprintf(errw, "stop %s with %s? [y/N] ", plural(len(toSignal), "process", "processes"), procs.SignalName(opts.Signal))
		line, _ := bufio.NewReader(opts.IO.In).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(errw, "homeport: nothing stopped")
			return silent(3)
		}
	}

	start := time.Now()
	for _, v := range toSignal {
		err := opts.Guard.Signal(&v.proc, opts.Signal)
		switch {
		case err == nil:
			v.sent = true
		case errors.Is(err, procs.ErrReused):
			v.outcome = "already exited (its pid now belongs to another process, which was left alone)"
		case errors.Is(err, procs.ErrGone):
			v.outcome = "already exited"
		case errors.Is(err, procs.ErrPermission):
			v.outcome, v.failed, v.denied = "permission denied ("+notes.elevate(killCommand(opts))+")", true, true
		default:
			v.outcome, v.failed = "not stopped: "+err.Error(), true
		}
	}
	if signalled(toSignal) {
		// Wait for the processes to go, or at least for the ports to be
		// free, then SIGKILL what still holds on.
		deadline := start.Add(opts.Timeout)
		done := waitGone(ctx, opts, targets, toSignal, start, deadline, true)
		// Interrupted (Ctrl-C) while waiting: do not escalate.
		if !done && ctx.Err() == nil && opts.Signal != syscall.SIGKILL {
			for _, v := range toSignal {
				if !v.sent || v.gone > 0 || !opts.Guard.Alive(&v.proc) {
					continue
				}
				if err := opts.Guard.Signal(&v.proc, syscall.SIGKILL); err == nil {
					v.killed = true
				}
			}
			waitGone(ctx, opts, targets, toSignal, start, time.Now().Add(opts.KillWait), false)
		}
		for _, v := range toSignal {
			if !v.sent {
				continue
			}
			switch {
			case v.gone > 0 && v.killed:
				v.outcome = fmt.Sprintf("killed with SIGKILL after %s (it did not stop on %s)", roundDur(v.gone), procs.SignalName(opts.Signal))
			case v.gone > 0:
				v.outcome = fmt.Sprintf("exited on %s after %s", procs.SignalName(opts.Signal), roundDur(v.gone))
			case v.killed:
				v.outcome, v.failed = "still alive after SIGKILL (stuck in the kernel?)", true
			default:
				v.outcome = fmt.Sprintf("stopped listening on %s, still running (shutting down)", procs.SignalName(opts.Signal))
			}
		}
	}
	for _, v := range toSignal {
		fmt.Fprintf(out, "%s: %s\n", victimText(v), v.outcome)
	}

	// The inventory says whether it worked: a supervisor may have started
	// the service again, or a socket may have had an owner we could not see.
	notFreed := 0
	sent := slices.ContainsFunc(toSignal, func(v *victim) bool { return v.sent })
	for _, kt := range targets {
		if len(kt.socks) == 0 {
			continue
		}
		left, err := kt.listeners(ctx, opts, false)
		// A socket whose last holder has just exited may outlive it for a
		// moment without an owner, while the kernel finishes closing it.
		for grace := time.Now().Add(time.Second); sent && err == nil && len(left) > 0 && noOwners(left) && time.Now().Before(grace); {
			time.Sleep(opts.Poll)
			left, err = kt.listeners(ctx, opts, false)
		}
		if err != nil {
			return inventoryError(err)
		}
		if len(left) == 0 {
			fmt.Fprintf(out, "%s is free\n", kt.name())
			continue
		}
		notFreed++
		by := "a process homeport cannot see"
		if len(left[0].Owners) > 0 {
			p := left[0].Owners[0]
			by = fmt.Sprintf("pid %d", p.PID)
			if p.Name != "" {
				by = fmt.Sprintf("%s (pid %d)", p.Name, p.PID)
			}
			if !slices.ContainsFunc(victims, func(v *victim) bool { return v.proc.PID == p.PID }) {
				by += ", a new listener: something started it again"
			}
		}
		fmt.Fprintf(out, "%s is still held by %s\n", kt.name(), by)
	}
	if notFreed > 0 {
		return &ExitError{Code: 3, Msg: "could not free " + plural(notFreed, "port", "ports") + " (see above)",
			Hint: killFailHint(opts, notes, targets, victims)}
	}
	return nil
}

// noOwners reports whether no socket has a visible owner.
func noOwners(socks []sockets.Socket) bool {
	for i := range socks {
		if len(socks[i].Owners) > 0 {
			return false
		}
	}
	return true
}

// listeners lists the sockets that hold kt: listening sockets on its port
// that accept connections to its address.
func (kt *killTarget) listeners(ctx context.Context, opts *KillOptions, noOwners bool) ([]sockets.Socket, error) {
	f := sockets.Filter{Port: kt.t.Port, TCP: kt.t.Proto != "udp", UDP: kt.t.Proto == "udp", NoOwners: noOwners}
	snap, err := opts.Factory.Take(ctx, f)
	if err != nil {
		return nil, err
	}
	socks := snap.Sockets
	if kt.addrs != nil {
		socks = slices.DeleteFunc(socks, func(s sockets.Socket) bool {
			return !slices.ContainsFunc(kt.addrs, s.Takes)
		})
	}
	return socks, nil
}

func (kt *killTarget) name() string {
	s := "port " + kt.t.String()
	if kt.t.URL != nil {
		s = fmt.Sprintf("port %d (%s)", kt.t.Port, kt.t.URL)
	}
	return s
}

// waitGone polls until every signalled process is gone or, when portsCount,
// until every target's port is free; it records when each process went and
// reports whether all of that happened before deadline.
func waitGone(ctx context.Context, opts *KillOptions, targets []*killTarget, vs []*victim, start, deadline time.Time, portsCount bool) bool {
	// Most processes go within a few milliseconds of the signal: look again
	// after 250µs, then back off to opts.Poll.
	pause := min(250*time.Microsecond, opts.Poll)
	for {
		all := true
		for _, v := range vs {
			if !v.sent || v.gone > 0 {
				continue
			}
			if opts.Guard.Alive(&v.proc) {
				all = false
			} else {
				v.gone = max(time.Since(start), time.Microsecond)
			}
		}
		if all {
			return true
		}
		if portsCount && portsFree(ctx, opts, targets) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(pause):
		}
		pause = min(2*pause, opts.Poll)
	}
}

func portsFree(ctx context.Context, opts *KillOptions, targets []*killTarget) bool {
	for _, kt := range targets {
		if len(kt.socks) == 0 {
			continue
		}
		left, err := kt.listeners(ctx, opts, true)
		if err != nil || len(left) > 0 {
			return false
		}
	}
	return true
}

func signalled(vs []*victim) bool {
	return slices.ContainsFunc(vs, func(v *victim) bool { return v.sent })
}

func victimText(v *victim) string {
	name := v.proc.Name
	if name == "" {
		// Windows names the PID of an owner that has exited, and
		// nothing else of it.
		name = "(no name)"
		if v.note != nil {
			name = "(exited)"
		}
	}
	return fmt.Sprintf("pid %d %s", v.proc.PID, pipeCell.Replace(name))
}

// planText says who a process is and what it holds:
// "pid 4242 node (user dev) listening on 127.0.0.1:3000: node server.js".
func planText(v *victim) string {
	s := victimText(v)
	if v.proc.User != "" {
		s += " (user " + v.proc.User + ")"
	}
	s += " listening on " + strings.Join(v.holds, ", ")
	if c := v.proc.Command(); c != "" && c != "["+v.proc.Name+"]" && c != v.proc.Name {
		s += ": " + truncate(pipeCell.Replace(c), 80)
	}
	return s
}

// dockerHint names the container behind a docker-proxy by its published
// port.
func dockerHint(v *victim) string {
	port := ""
	if i := slices.Index(v.proc.Cmdline, "-host-port"); i >= 0 && i+1 < len(v.proc.Cmdline) {
		port = v.proc.Cmdline[i+1]
	} else if len(v.holds) > 0 {
		port, _, _ = strings.Cut(v.holds[0], "/")
	}
	return fmt.Sprintf("docker stop $(docker ps -q --filter publish=%s)", port)
}

func refusalHint(re *procs.RefusedError, opts *KillOptions, notes *OwnerNotes) string {
	if strings.Contains(re.Hint, "sudo") {
		return "to stop it: " + notes.elevate(killCommand(opts))
	}
	return re.Hint
}

func killFailHint(opts *KillOptions, notes *OwnerNotes, targets []*killTarget, vs []*victim) string {
	for _, kt := range targets {
		if kt.hidden > 0 && notes.Windows {
			return "the holder could not be read; " + notes.elevate(killCommand(opts))
		}
		if kt.hidden > 0 && opts.Guard.UID != 0 {
			return "the holder belongs to another user; run: sudo " + killCommand(opts)
		}
	}
	for _, v := range vs {
		if v.note != nil && v.note.Hint != "" {
			return v.note.Hint
		}
		if v.failed && (v.denied || strings.Contains(v.outcome, "sudo")) {
			return notes.elevate(killCommand(opts))
		}
		if v.failed && strings.Contains(v.outcome, "docker") {
			return dockerHint(v)
		}
	}
	return "see who holds it now: homeport who " + opts.Targets[0].String()
}

func killCommand(opts *KillOptions) string {
	args := make([]string, len(opts.Targets))
	for i, t := range opts.Targets {
		args[i] = t.String()
	}
	return "homeport kill " + strings.Join(args, " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// roundDur rounds d for people: 12ms, 1.2s.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < time.Second:
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

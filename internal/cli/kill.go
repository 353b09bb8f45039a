package cli

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
	"homeport/internal/stop"
)

// KillOptions are the flags of `homeport kill`.
type KillOptions struct {
	IO      *IO
	Factory *Factory
	Targets []ports.Target
	Yes     bool
	DryRun  bool
	// Signal is the first signal; 0: each process's own clean one
	// (procs.StopSteps).
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
process. Servers that stop cleanly on another signal get that one first:
PostgreSQL SIGINT (fast shutdown; on SIGTERM it waits for every client),
uWSGI SIGINT (old versions reload on SIGTERM); PostgreSQL then gets SIGQUIT
before SIGKILL. When a process does not stop, homeport says what it was
waiting for (the clients still connected). A stopped process (Ctrl-Z) is
resumed with SIGCONT after the signal so that it can act on it. A bare port
means TCP and UDP; 53/udp or 3000/tcp names one. Signals go through a pidfd, and the process's start time is checked
first, so a pid that was meanwhile reused by another process is never hit.
homeport never signals pid 1, itself or its parent, nor another user's
process unless run as root (sudo). A port held by docker-proxy belongs to a
container: stop the container instead.

On Windows a program's windows are asked to close first, and it is
terminated otherwise (like taskkill); another user's or an elevated process
needs an elevated prompt. System (pid 4), which holds ports 80 and 443 for
http.sys, is never killed: homeport says which service to stop instead.

Exit status: 0 the ports are free, 1 nothing was listening, 2 bad input
(or no terminal to ask on, without --yes), 3 a port could not be freed,
4 answered no at the question.`,
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
			opts.Signal = 0
			if cmd.Flags().Changed("signal") {
				s, err := procs.ParseSignal(sig)
				if err != nil {
					return usageErrorf("--signal: %v", err)
				}
				opts.Signal = s
			}
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
	cmd.Flags().StringVarP(&sig, "signal", "s", "", "first signal to send: TERM, INT, HUP, QUIT, KILL or a number (default: the server's own clean stop, SIGTERM for most)")
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

func killRun(ctx context.Context, opts *KillOptions) error {
	shortLived()
	notes := ownerNotes(opts.Notes)
	req := stop.Request{Signal: opts.Signal, Timeout: opts.Timeout, KillWait: opts.KillWait, DryRun: opts.DryRun}
	for _, t := range opts.Targets {
		st, err := stop.TargetOf(ctx, t, opts.Resolver)
		if err != nil {
			return &ExitError{Code: exitUsage, Msg: err.Error(), Err: err,
				Hint: fmt.Sprintf("name the port alone: homeport kill %d", t.Port)}
		}
		req.Targets = append(req.Targets, st)
	}
	k := &killer{opts: opts, notes: notes}
	req.Confirm = k.confirm
	eng := &stop.Engine{Take: opts.Factory.Take, Guard: opts.Guard, Note: notes.note, Poll: opts.Poll}
	r, err := eng.Free(ctx, req)
	if err != nil {
		return inventoryError(err)
	}
	return k.report(r)
}

// killer renders one run of kill: the plan (once, before any question),
// the question, and the outcome.
type killer struct {
	opts       *KillOptions
	notes      *OwnerNotes
	ports      []*stop.Port // the report's, in the order of opts.Targets
	shown      bool         // the plan was printed
	noTTY      bool         // confirmation was needed and there was no terminal
	answeredNo bool
}

// confirm shows the plan and asks, unless --yes.
func (k *killer) confirm(r *stop.Report) bool {
	k.showPlan(r)
	if k.opts.Yes {
		return true
	}
	io := k.opts.IO
	if !io.InTTY || !io.ErrTTY {
		k.noTTY = true
		return false
	}
	vs := r.ToSignal()
	fmt.Fprintf(io.Err, "stop %s%s? [y/N] ", plural(len(vs), "process", "processes"), firstSignalText(vs))
	line, _ := bufio.NewReader(io.In).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		k.answeredNo = true
		return false
	}
	return true
}

// firstSignalText is " with SIGTERM" when every process gets the same
// first signal.
func firstSignalText(vs []*stop.Victim) string {
	sig := vs[0].Steps[0].Signal
	for _, v := range vs {
		if v.Steps[0].Signal != sig {
			return " (each with its first signal, as above)"
		}
	}
	return " with " + procs.SignalName(sig)
}

// showPlan prints who holds each target and what will happen to each
// holder, before anything happens.
func (k *killer) showPlan(r *stop.Report) {
	if k.shown {
		return
	}
	k.shown, k.ports = true, r.Ports
	out := k.opts.IO.Out
	for _, p := range r.Ports {
		if !p.Held() {
			fmt.Fprintf(out, "nothing is listening on %s\n", k.portName(p))
		}
	}
	for _, p := range r.Ports {
		if len(p.Unseen) > 0 {
			fmt.Fprintf(out, "%s is held by %s\n", k.portName(p), k.unseenText(p.Unseen[0]))
		}
	}
	for _, v := range r.Victims {
		if v.Outcome.Kind == stop.Changed {
			continue // told with the outcomes
		}
		fmt.Fprintln(out, planText(v))
		for _, line := range k.planNotes(v) {
			fmt.Fprintf(out, "  %s\n", line)
		}
	}
}

// planNotes are the lines under a process in the plan: why it will not be
// stopped, what else goes with it, what its signal does.
func (k *killer) planNotes(v *stop.Victim) []string {
	var lines []string
	switch {
	case v.Note != nil:
		lines = append(lines, "not stopped: "+v.Note.Reason)
		if v.Note.Hint != "" {
			lines = append(lines, "hint: "+v.Note.Hint)
		}
		return lines
	case v.Refused != nil:
		return append(lines, "not stopped: "+k.refusalText(v))
	}
	if len(v.Also) > 0 {
		what := "that port closes"
		if len(v.Also) > 1 {
			what = "those ports close"
		}
		lines = append(lines, "it also listens on "+holdsText(v.Also)+": "+what+" with it")
	}
	if first := v.Steps[0]; v.Server != nil && first.Does != "" {
		// Said when it matters: the server's own signal is not SIGTERM,
		// or the one chosen waits for clients or does not stop it.
		switch {
		case k.opts.Signal == 0 && first.Signal != syscall.SIGTERM:
			lines = append(lines, fmt.Sprintf("%s: %s first (%s)", v.Server.Name, procs.SignalName(first.Signal), first.Does))
		case k.opts.Signal != 0 && (first.WaitsForClients || !first.Stops || first.Unclean):
			lines = append(lines, fmt.Sprintf("%s on %s: %s", v.Server.Name, procs.SignalName(first.Signal), first.Does))
		}
		if !first.Stops {
			lines = append(lines, fmt.Sprintf("%s does not stop on %s; homeport moves on to %s after %s",
				v.Server.Name, procs.SignalName(first.Signal), procs.SignalName(v.Steps[1].Signal), roundDur(k.opts.Timeout)))
		}
	}
	if v.Process.Stopped() && v.Steps[0].Signal != syscall.SIGKILL {
		lines = append(lines, fmt.Sprintf("it is stopped (Ctrl-Z or SIGSTOP): homeport sends SIGCONT after %s so that it can act on it",
			procs.SignalName(v.Steps[0].Signal)))
	}
	return lines
}

func (k *killer) refusalText(v *stop.Victim) string {
	re := v.Refused
	switch re.Kind {
	case procs.RefuseContainer:
		return "it forwards to a container; stop the container: " + dockerHint(v)
	case procs.RefuseOtherUser, procs.RefuseUnknownOwner:
		return re.Reason + " (to stop it: " + k.notes.elevate(killCommand(k.opts)) + ")"
	}
	if re.Hint != "" {
		return re.Reason + " (" + re.Hint + ")"
	}
	return re.Reason
}

// unseenText says who holds a listener whose owner is not visible.
func (k *killer) unseenText(u stop.Unseen) string {
	switch u.Kind {
	case stop.UnseenOtherUser:
		// The socket's uid is its creator's: a daemon that dropped to
		// another user after binding still shows root.
		return fmt.Sprintf("a process homeport cannot see (its socket is %s's, uid %d)", procs.UserName(u.UID), u.UID)
	case stop.UnseenOwnUser:
		return fmt.Sprintf("a process homeport cannot read, though its socket is yours (%s): it changed its credentials "+
			"(started by root, like memcached -u), so the kernel hides its open files from you, or it runs outside this PID namespace",
			procs.UserName(u.UID))
	case stop.UnseenNamespace:
		return "a process outside this PID namespace, or the kernel (no visible owner)"
	}
	if k.notes.Windows {
		return "a process homeport cannot read (another user's, or an elevated one)"
	}
	return "a process homeport cannot see (another user's, or outside this PID namespace)"
}

// report prints the outcome and returns the exit status.
func (k *killer) report(r *stop.Report) error {
	out := k.opts.IO.Out
	k.showPlan(r)
	if !r.Held() {
		return silent(exitFailure)
	}
	vs := r.ToSignal()
	if r.DryRun {
		if len(vs) > 0 {
			fmt.Fprintf(out, "dry run: would send %s\n", k.dryRunText(vs))
		}
		return nil
	}
	if k.noTTY {
		return &ExitError{Code: exitUsage, Msg: "not stopping anything without confirmation: there is no terminal to ask on",
			Hint: "add --yes: " + killCommand(k.opts) + " --yes"}
	}
	if k.answeredNo {
		fmt.Fprintln(k.opts.IO.Err, "homeport: nothing stopped")
		return silent(exitKillDeclined)
	}
	for _, v := range r.Victims {
		if v.Refused != nil || v.Note != nil {
			continue // said in the plan
		}
		fmt.Fprintf(out, "%s: %s\n", victimText(v), k.outcomeText(v))
		for _, rs := range v.Outcome.Resisted {
			if len(rs.Clients) == 0 && rs.Step.Does == "" && rs.Next.Signal == syscall.SIGKILL {
				continue // "killed with SIGKILL (it did not stop on SIGTERM)" says it all
			}
			fmt.Fprintf(out, "  %s\n", k.resistedText(v, rs))
		}
	}
	for _, p := range r.Ports {
		if !p.Held() {
			continue
		}
		if p.Free() {
			fmt.Fprintf(out, "%s is free\n", k.portName(p))
			continue
		}
		fmt.Fprintf(out, "%s is still held by %s\n", k.portName(p), k.leftText(p))
	}
	if n := len(r.NotFreed()); n > 0 {
		return &ExitError{Code: exitKillNotFreed, Msg: "could not free " + plural(n, "port", "ports") + " (see above)",
			Hint: k.failHint(r)}
	}
	return nil
}

func (k *killer) leftText(p *stop.Port) string {
	if len(p.Left[0].Owners) == 0 {
		return "a process homeport cannot see"
	}
	o := p.Left[0].Owners[0]
	by := fmt.Sprintf("pid %d", o.PID)
	if o.Name != "" {
		by = fmt.Sprintf("%s (pid %d)", pipeCell.Replace(o.Name), o.PID)
	}
	if p.Restarted {
		by += ", a new listener: something started it again"
	}
	return by
}

// outcomeText says what happened to one process.
func (k *killer) outcomeText(v *stop.Victim) string {
	o := &v.Outcome
	var s string
	switch o.Kind {
	case stop.ExitedOnSignal:
		s = fmt.Sprintf("exited on %s after %s", procs.SignalName(o.Signal), roundDur(o.After))
	case stop.Killed:
		s = fmt.Sprintf("killed with SIGKILL after %s (it did not stop on %s)", roundDur(o.After), resistedSignals(o))
		if v.Server != nil && v.Server.KillHarm != "" {
			s += "; " + v.Server.Name + ": " + v.Server.KillHarm
		}
	case stop.StoppedListening:
		s = fmt.Sprintf("stopped listening on %s, still running (shutting down)", procs.SignalName(o.Signal))
	case stop.StillRunning:
		s = fmt.Sprintf("still running after %s", procs.SignalName(o.Signal))
		if o.Signal == syscall.SIGKILL {
			s = "still alive after SIGKILL (stuck in the kernel?)"
		}
	case stop.Gone:
		s = "already exited"
	case stop.Changed:
		s = "already exited (its pid now belongs to another process, which was left alone)"
		if o.Now != nil && o.Now.StartTicks == v.Process.StartTicks && v.Process.StartTicks != 0 {
			s = "no longer holds the socket that was shown; left alone"
		}
	case stop.PermissionDenied:
		s = "permission denied (" + k.notes.elevate(killCommand(k.opts)) + ")"
	case stop.Failed:
		s = "not stopped: " + o.Err.Error()
	default:
		s = o.Kind.String()
	}
	if o.WasStopped {
		s += fmt.Sprintf("; it was stopped (Ctrl-Z or SIGSTOP), so homeport resumed it with SIGCONT to let it act on %s",
			procs.SignalName(o.Sent[0]))
	}
	return s
}

// resistedSignals names the signals a process did not stop on:
// "SIGTERM", "SIGINT or SIGQUIT".
func resistedSignals(o *stop.Outcome) string {
	var names []string
	for _, sig := range o.Sent[:len(o.Sent)-1] {
		names = append(names, procs.SignalName(sig))
	}
	return strings.Join(names, " or ")
}

// resistedText says what a process that did not stop was waiting for, and
// what homeport sent next.
func (k *killer) resistedText(v *stop.Victim, rs stop.Resisted) string {
	s := fmt.Sprintf("it did not stop on %s within %s", procs.SignalName(rs.Step.Signal), roundDur(k.opts.Timeout))
	if rs.Step.Does != "" && v.Server != nil {
		s += fmt.Sprintf(" (%s %s)", v.Server.Name, rs.Step.Does)
	}
	if n := len(rs.Clients); n > 0 {
		s += "; " + plural(n, "client was", "clients were") + " connected: " + clientsText(rs.Clients)
	}
	if rs.Next.Signal != 0 {
		s += "; sent " + procs.SignalName(rs.Next.Signal)
		if rs.Next.Does != "" {
			s += " (" + rs.Next.Does + ")"
		}
	}
	return s
}

// clientsText names up to three clients: "psql (pid 77) from
// 127.0.0.1:51234, 192.0.2.7:40100".
func clientsText(cs []stop.Client) string {
	var parts []string
	for i, c := range cs {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-3))
			break
		}
		from := c.Remote.String()
		if c.Process != nil {
			from = fmt.Sprintf("%s (pid %d) from %s", pipeCell.Replace(c.Process.Name), c.Process.PID, from)
		}
		parts = append(parts, from)
	}
	return strings.Join(parts, ", ")
}

// dryRunText says which signals go to whom: "SIGTERM to 1 process, then
// SIGKILL after 5s".
func (k *killer) dryRunText(vs []*stop.Victim) string {
	var groups [][]*stop.Victim
	for _, v := range vs {
		j := slices.IndexFunc(groups, func(g []*stop.Victim) bool { return sameSignals(g[0].Steps, v.Steps) })
		if j < 0 {
			groups = append(groups, nil)
			j = len(groups) - 1
		}
		groups[j] = append(groups[j], v)
	}
	var parts []string
	for _, g := range groups {
		who := plural(len(g), "process", "processes")
		if len(groups) > 1 && len(g) == 1 {
			who = fmt.Sprintf("%s (pid %d)", pipeCell.Replace(g[0].Process.Name), g[0].Process.PID)
		}
		s := procs.SignalName(g[0].Steps[0].Signal) + " to " + who
		for _, st := range g[0].Steps[1:] {
			s += fmt.Sprintf(", then %s after %s", procs.SignalName(st.Signal), k.opts.Timeout)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func sameSignals(a, b []procs.Step) bool {
	return slices.EqualFunc(a, b, func(x, y procs.Step) bool { return x.Signal == y.Signal })
}

// portName names a target as the user typed it: "port 3000", "port
// 53/udp", "port 3000 (http://localhost:3000/)".
func (k *killer) portName(p *stop.Port) string {
	i := slices.Index(k.ports, p)
	if i < 0 || i >= len(k.opts.Targets) {
		return fmt.Sprintf("port %d", p.Target.Port)
	}
	t := k.opts.Targets[i]
	if t.URL != nil {
		return fmt.Sprintf("port %d (%s)", t.Port, t.URL)
	}
	return "port " + t.String()
}

func victimText(v *stop.Victim) string {
	name := v.Process.Name
	if name == "" {
		// Windows names the PID of an owner that has exited, and
		// nothing else of it.
		name = "(no name)"
		if v.Note != nil {
			name = "(exited)"
		}
	}
	return fmt.Sprintf("pid %d %s", v.Process.PID, pipeCell.Replace(name))
}

// holdsText lists listeners: "127.0.0.1:3000, [::1]:5353/udp".
func holdsText(socks []sockets.Socket) string {
	var parts []string
	for i := range socks {
		h := sockets.FormatAddr(socks[i].Local)
		if socks[i].Proto != sockets.TCP {
			h += "/" + string(socks[i].Proto)
		}
		if !slices.Contains(parts, h) {
			parts = append(parts, h)
		}
	}
	return strings.Join(parts, ", ")
}

// planText says who a process is and what it holds:
// "pid 4242 node (user dev) listening on 127.0.0.1:3000: node server.js".
func planText(v *stop.Victim) string {
	s := victimText(v)
	if v.Process.User != "" {
		s += " (user " + v.Process.User + ")"
	}
	s += " listening on " + holdsText(v.Holds)
	if c := v.Process.Command(); c != "" && c != "["+v.Process.Name+"]" && c != v.Process.Name {
		s += ": " + truncate(pipeCell.Replace(c), 80)
	}
	return s
}

// dockerHint names the container behind a docker-proxy by its published
// port.
func dockerHint(v *stop.Victim) string {
	port := strconv.Itoa(int(v.Port))
	if i := slices.Index(v.Process.Cmdline, "-host-port"); i >= 0 && i+1 < len(v.Process.Cmdline) {
		port = v.Process.Cmdline[i+1]
	}
	return fmt.Sprintf("docker stop $(docker ps -q --filter publish=%s)", port)
}

// failHint says what to do about the ports that are still held.
func (k *killer) failHint(r *stop.Report) string {
	cmd := killCommand(k.opts)
	for _, p := range r.Ports {
		for _, u := range p.Unseen {
			switch {
			case k.notes.Windows:
				return "the holder could not be read; " + k.notes.elevate(cmd)
			case u.Kind == stop.UnseenOtherUser:
				return fmt.Sprintf("its socket is user %s's; root sees and stops the process: sudo %s", procs.UserName(u.UID), cmd)
			case u.Kind == stop.UnseenOwnUser:
				return "root sees and stops the process: sudo " + cmd
			}
		}
	}
	for _, v := range r.Victims {
		if v.Note != nil && v.Note.Hint != "" {
			return v.Note.Hint
		}
		if v.Refused != nil {
			switch v.Refused.Kind {
			case procs.RefuseOtherUser, procs.RefuseUnknownOwner:
				return k.notes.elevate(cmd)
			case procs.RefuseContainer:
				return dockerHint(v)
			}
		}
		if v.Outcome.Kind == stop.PermissionDenied {
			return k.notes.elevate(cmd)
		}
	}
	return "see who holds it now: homeport who " + k.opts.Targets[0].String()
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

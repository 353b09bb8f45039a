package cli

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/doctor"
	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// DoctorOptions are the flags of `homeport doctor`.
type DoctorOptions struct {
	IO      *IO
	Factory *Factory
	Target  ports.Target
	JSON    bool
	Timeout time.Duration
	// Bind, when not zero, asks "could a server bind this port?" instead of
	// diagnosing a connection.
	Bind uint16
	// Env is how the doctor sees the system; nil means the real one.
	Env *doctor.Env
}

// NewCmdDoctor builds `homeport doctor TARGET`.
func NewCmdDoctor(f *Factory, runF func(*DoctorOptions) error) *cobra.Command {
	opts := &DoctorOptions{IO: f.IO, Factory: f}
	var bind string
	cmd := &cobra.Command{
		Use:   "doctor TARGET",
		Short: "Explain why a connection to a port fails",
		Long: `Find out why a connection fails, and say how to fix it: nothing listening
(and what listens nearby), localhost resolving to ::1 while the server listens
on 127.0.0.1 only (or the reverse), *.localhost names the system resolver does
not know, a server on loopback only while you use the LAN address, a firewall
rule that drops or rejects the port (named by table, chain and handle), a
stopped process or a full accept queue, TLS vs plain HTTP, a server that
rejects the Host header.

TARGET is a port (3000), an address (localhost:3000, [::1]:3000,
192.168.1.20:3000, myapp.localhost:3000) or a URL (http://localhost:3000/health,
https://...); URLs also get an HTTP request.

--bind N asks instead whether a server could start on port N: privileged
ports, ports in use (and by whom), ports in the kernel's ephemeral range.

Connections are bounded by --timeout; doctor never waits longer on a
black-holed address. The firewall is only read, never changed.

Exit status: 0 when the target works, 1 when something is wrong with it, 2 on
bad input or when homeport itself failed (the socket inventory could not be
read): a script can tell a finding from a broken check.`,
		Example: `  homeport doctor localhost:3000
  homeport doctor 3000
  homeport doctor http://myapp.localhost:5173/
  homeport doctor 192.168.1.20:8080 --json
  homeport doctor --bind 80`,
		Args: func(cmd *cobra.Command, args []string) error {
			if bind != "" {
				if len(args) > 0 {
					return usageErrorf("doctor --bind takes no TARGET, got %q", args[0])
				}
				return nil
			}
			if len(args) > 1 {
				return &ExitError{Code: exitUsage, Msg: fmt.Sprintf("doctor takes one TARGET, got %d", len(args)),
					Hint: fmt.Sprintf("run it once per target: homeport doctor %s", args[0])}
			}
			return minArgs(1, "a TARGET, like 3000, localhost:3000 or http://localhost:3000/")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Timeout <= 0 {
				return usageErrorf("--timeout must be positive, got %s", opts.Timeout)
			}
			if bind != "" {
				p, err := ports.ParsePort(bind)
				if err != nil {
					return usageErrorf("--bind: %v", err)
				}
				opts.Bind = p
			} else {
				t, err := ports.ParseTarget(args[0])
				if err != nil {
					return &ExitError{Code: exitUsage, Msg: err.Error(), Hint: "for example: homeport doctor localhost:3000"}
				}
				opts.Target = t
			}
			if runF != nil {
				return runF(opts)
			}
			return doctorRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the report as JSON")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 3*time.Second, "give up on the target after this long")
	cmd.Flags().StringVar(&bind, "bind", "", "check whether a server could bind port `N` instead")
	return cmd
}

// doctorEnv is the real system, seen through the factory's inventory.
func doctorEnv(f *Factory) *doctor.Env {
	env := doctor.System()
	if f.Take != nil {
		env.Inventory = func(ctx context.Context, port uint16) ([]sockets.Socket, error) {
			snap, err := f.Take(ctx, sockets.Filter{Port: port})
			if err != nil {
				return nil, err
			}
			return snap.Sockets, nil
		}
	}
	return env
}

func doctorRun(ctx context.Context, opts *DoctorOptions) error {
	env := opts.Env
	if env == nil {
		env = doctorEnv(opts.Factory)
	}
	var rep *doctor.Report
	var diagErr error
	if opts.Bind != 0 {
		rep = doctor.DiagnoseBind(ctx, env, opts.Bind, "tcp")
	} else {
		rep, diagErr = doctor.Diagnose(ctx, env, opts.Target, &doctor.Options{Timeout: opts.Timeout})
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, rep); err != nil {
			return internalError("writing the report", err)
		}
	} else {
		writeDoctorReport(opts.IO, rep)
	}
	switch {
	case diagErr != nil:
		// What doctor could not see may be the cause: not a verdict a
		// script should read as "findings" (1) or "healthy" (0).
		return inventoryError(diagErr)
	case !rep.OK:
		return silent(exitFailure)
	}
	return nil
}

// internalError ends doctor or audit with exit 2: something went wrong in
// homeport or the system, not in what it looked at.
func internalError(what string, err error) error {
	return &ExitError{Code: exitInternal, Msg: what + ": " + err.Error(), Err: err,
		Hint: "this is not a finding; run the command again, and report it if it persists"}
}

// writeDoctorReport prints what doctor looked at, then the verdict and each
// finding with its evidence and fix:
//
//	✗ localhost:3000 — connection refused on ::1, works on 127.0.0.1
//	  localhost resolves to ::1 first; node (pid 4242) listens on 127.0.0.1:3000 only
//	  fix: connect to 127.0.0.1:3000, or make the server listen on ::1 too: two listeners, one per address (the host "localhost" is not enough: Node and Vite bind the one address it resolves to first); "::" with IPv6-only off takes both families, but on every interface
func writeDoctorReport(o *IO, rep *doctor.Report) {
	var b strings.Builder
	fact := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %s %s\n", o.paint(styleDim, fmt.Sprintf("%-8s", label)), fmt.Sprintf(format, args...))
	}
	if len(rep.Resolved) > 0 && !isLiteral(rep.Resolved, rep.Target) {
		var as []string
		for _, a := range rep.Resolved {
			as = append(as, a.String())
		}
		fact("resolve", "%s", strings.Join(as, ", "))
	}
	if rep.ResolveError != "" {
		fact("resolve", "%s", rep.ResolveError)
	}
	for _, l := range rep.Listeners {
		extra := ""
		if l.State != "" {
			extra = ", state " + l.State
		}
		if l.Backlog > 0 || l.Queued > 0 {
			extra += fmt.Sprintf(", accept queue %d/%d", l.Queued, l.Backlog)
		}
		fact("listen", "%s on %s/%s%s", l.Process, sockets.FormatAddr(l.Addr), l.Proto, extra)
	}
	for _, a := range rep.Attempts {
		res := string(a.Result)
		switch a.Result {
		case doctor.Connected:
			res = o.paint(styleGreen, "connected") + " in " + doctorMS(a.Duration)
		case doctor.TimedOut:
			res = o.paint(styleRed, "timed out") + " after " + doctorMS(a.Duration)
		default:
			res = o.paint(styleRed, res)
		}
		fact("connect", "%s %s", sockets.FormatAddr(a.Addr), res)
	}
	if h := rep.HTTP; h != nil {
		switch {
		case h.Status > 0 && h.Error == "":
			fact("http", "GET %s → %d", h.URL, h.Status)
		case h.Error != "":
			fact("http", "GET %s → %s", h.URL, h.Error)
		}
	}
	if rep.OK {
		fmt.Fprintf(&b, "%s %s — %s\n", o.paint(styleGreen, "✓"), rep.Target, rep.Verdict)
	}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		mark := o.paint(styleRed, "✗")
		if f.Severity <= doctor.Low {
			mark = o.paint(styleAmber, "!")
		}
		writeFinding(&b, o, mark, rep.Target+" — ", f)
	}
	fmt.Fprint(o.Out, b.String())
}

// writeFinding prints one finding of doctor or audit: the mark, the head
// and the title on one line, then the evidence and the fix, indented.
func writeFinding(b *strings.Builder, o *IO, mark, head string, f *doctor.Finding) {
	fmt.Fprintf(b, "%s %s%s\n", mark, head, o.paint(styleBold, f.Title))
	for _, e := range f.Evidence {
		fmt.Fprintf(b, "  %s\n", e)
	}
	if f.Fix != "" {
		fmt.Fprintf(b, "  %s %s\n", o.paint(styleBold, "fix:"), f.Fix)
	}
}

// isLiteral reports whether the target named its one address itself (an IP
// literal, or a bare port whose listeners gave the addresses).
func isLiteral(as []netip.Addr, target string) bool {
	if !strings.ContainsAny(target, ".:[") {
		return true // a bare port
	}
	return len(as) == 1 && strings.Contains(target, as[0].String())
}

func doctorMS(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	if d < time.Second {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

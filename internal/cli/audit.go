package cli

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/doctor"
	"homeport/internal/sockets"
)

// AuditOptions are the flags of `homeport audit`.
type AuditOptions struct {
	IO      *IO
	Factory *Factory
	JSON    bool
	FailOn  doctor.Severity
	NoProbe bool
	Timeout time.Duration
	// Env is how the audit sees the system; nil means the real one.
	Env *doctor.Env
}

// NewCmdAudit builds `homeport audit`.
func NewCmdAudit(f *Factory, runF func(*AuditOptions) error) *cobra.Command {
	opts := &AuditOptions{IO: f.IO, Factory: f}
	var failOn string
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List what this machine exposes to the network, and its risks",
		Long: `List every listener that other machines can reach (bound to all interfaces or
to a non-loopback address), with the process that owns it and a risk note for
services that are dangerous to expose: the Docker API, Redis, Memcached,
Elasticsearch, MongoDB, databases, the Node inspector, JDWP, Jupyter ...

Web servers on loopback are probed once each with a foreign Host header; those
that answer normally are open to DNS rebinding (a web page can make its own
name resolve to 127.0.0.1 and read them). Probes go to this machine's own
loopback addresses only; --no-probe skips them.

Known non-web services on loopback (Redis, PostgreSQL, MySQL, Memcached,
MongoDB, SSH ... by process and by port) are not contacted at all, so that
their logs stay clean; a server that speaks first (SSH, SMTP, FTP, MySQL) is
known by its banner and sent nothing. All probes run side by side, each
bounded by --timeout.

Exit status: 0 when no finding reaches --fail-on (default high), 1 when one
does, 2 on bad input or when homeport itself failed (the socket inventory
could not be read). Severities: info, low, medium, high, critical.`,
		Example: `  homeport audit
  homeport audit --json
  homeport audit --fail-on medium   # in CI: fail on medium or worse`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sev, err := doctor.ParseSeverity(failOn)
			if err != nil {
				return &ExitError{Code: exitUsage, Msg: "--fail-on: " + err.Error(), Hint: "for example: homeport audit --fail-on medium"}
			}
			if opts.Timeout <= 0 {
				return usageErrorf("--timeout must be positive, got %s", opts.Timeout)
			}
			opts.FailOn = sev
			if runF != nil {
				return runF(opts)
			}
			return auditRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&failOn, "fail-on", "high", "exit 1 when a finding is at least this `severity`")
	cmd.Flags().BoolVar(&opts.NoProbe, "no-probe", false, "do not probe loopback web servers for DNS rebinding")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", time.Second, "give up on each probe after this long")
	return cmd
}

func auditRun(ctx context.Context, opts *AuditOptions) error {
	env := opts.Env
	if env == nil {
		env = doctorEnv(opts.Factory)
	}
	aopts := &doctor.AuditOptions{ProbeTimeout: opts.Timeout, NoProbe: opts.NoProbe}
	bar := newProgressBar(opts.IO, "probing loopback web servers")
	if bar != nil {
		aopts.Progress = bar.update
	}
	rep, err := doctor.Audit(ctx, env, aopts)
	if bar != nil {
		bar.done()
	}
	if err != nil {
		return inventoryError(err)
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, rep); err != nil {
			return internalError("writing the report", err)
		}
	} else {
		writeAuditReport(opts.IO, rep, opts.FailOn)
	}
	if m, ok := rep.Max(); ok && m >= opts.FailOn {
		return silent(exitFailure)
	}
	return nil
}

// writeAuditReport prints the exposed listeners as a table, then each
// finding the table does not already say (every one but the low "reachable"
// notes), and a summary that counts what it printed.
func writeAuditReport(o *IO, rep *doctor.AuditReport, failOn doctor.Severity) {
	if len(rep.Exposed) == 0 {
		fmt.Fprintln(o.Out, "no listener is reachable from other machines: everything listens on loopback")
	} else {
		t := newTable(o, "PROTO", "ADDRESS", "EXPOSURE", "PROCESS", "SERVICE")
		for _, l := range rep.Exposed {
			// The same words and (v4)/(v6)/(v4+v6) marks as `homeport ports`.
			s := &sockets.Socket{Local: l.Addr, V6Only: l.Addr.Addr().Is6() && !l.Addr.Addr().Is4In6() && !l.DualStack}
			t.row(cell{text: l.Proto}, cell{text: sockets.FormatAddr(l.Addr)},
				cell{text: exposureText(s), style: styleAmber}, cell{text: l.Process}, cell{text: l.Service})
		}
		t.flush()
	}
	var b strings.Builder
	counts := map[doctor.Severity]int{}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Severity < doctor.Medium && f.ID == doctor.IDExposed {
			continue // the table above lists them
		}
		counts[f.Severity]++
		mark := o.paint(styleAmber, "!")
		if f.Severity >= failOn {
			mark = o.paint(styleRed, "✗")
		}
		b.WriteString("\n")
		writeFinding(&b, o, mark, f.Severity.String()+": ", f)
	}
	var parts []string
	for s := doctor.Critical; s >= doctor.Info; s-- {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	summary := "none"
	if len(parts) > 0 {
		summary = strings.Join(parts, ", ")
	}
	web := 0
	for _, p := range rep.Probed {
		if p.Result == doctor.ProbeHTTP {
			web++
		}
	}
	probed := ""
	if len(rep.Probed) > 0 {
		probed = fmt.Sprintf("%s probed for DNS rebinding (%s not HTTP); ", plural(web, "loopback web server", "loopback web servers"),
			plural(len(rep.Probed)-web, "other loopback listener", "other loopback listeners"))
	}
	fmt.Fprintf(&b, "\n%d exposed; %sfindings: %s\n", len(rep.Exposed), probed, summary)
	fmt.Fprint(o.Out, b.String())
}

// progressBar draws "probing ... [#####     ] 5/10" on stderr, on a
// terminal only.
type progressBar struct {
	mu    sync.Mutex
	io    *IO
	label string
	drawn bool
}

func newProgressBar(o *IO, label string) *progressBar {
	if !o.ErrTTY {
		return nil
	}
	return &progressBar{io: o, label: label}
}

func (p *progressBar) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	const width = 24
	fill := 0
	if total > 0 {
		fill = done * width / total
	}
	fmt.Fprintf(p.io.Err, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", fill), strings.Repeat(" ", width-fill), done, total)
	p.drawn = true
}

func (p *progressBar) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.io.Err, "\r\x1b[K")
	}
}

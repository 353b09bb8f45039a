package cli

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/doctor"
	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/stop"
	"homeport/internal/top"
)

// TopOptions are the flags of `homeport top`.
type TopOptions struct {
	IO       *IO
	Factory  *Factory
	Interval time.Duration
	Exposed  bool
}

// NewCmdTop builds `homeport top`.
func NewCmdTop(f *Factory, runF func(*TopOptions) error) *cobra.Command {
	opts := &TopOptions{IO: f.IO, Factory: f, Interval: time.Second}
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Watch the listening sockets live, full screen, and act on them",
		Long: `Show the listening sockets in a live full-screen table, like TCPView: port,
protocol, address, who can reach it, process, pid, user, uptime and command,
redrawn as sockets open and close. New listeners show green for a few
seconds, closed ones red before they go; an exposure in yellow is a listener
other machines may reach.

Keys: / filter by process, port, address or user (esc clears), s and S sort
by the next column and reverse, ↑ ↓ or j k move, enter shows the details
(command line, owners, start time, connections to the port), K stops the
selected listener's process after a y/n question, d asks the doctor about
the port, e shows exposed listeners only, ? the keys, q or ctrl+c quits.

top needs a terminal; for a stream of changes a script can read, use
'homeport ports --watch' (--json for one object a line).`,
		Example: `  homeport top
  homeport top --exposed --interval 2s`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Interval <= 0 {
				return usageErrorf("--interval must be positive, got %s", opts.Interval)
			}
			if runF != nil {
				return runF(opts)
			}
			return topRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var(durationFlag{&opts.Interval}, "interval", "how often to look at the sockets")
	cmd.Flags().BoolVarP(&opts.Exposed, "exposed", "x", false, "start with the exposed listeners only (e toggles)")
	return cmd
}

func topRun(ctx context.Context, opts *TopOptions) error {
	io := opts.IO
	if !io.InTTY || !io.OutTTY {
		return &ExitError{Code: exitUsage, Msg: "top needs a terminal",
			Hint: "for a stream of changes, use 'homeport ports --watch' (add --json for scripts)"}
	}
	f := opts.Factory
	eng := &stop.Engine{Take: f.Take, Guard: procs.NewGuard(), Note: ownerNotes(nil).note}
	env := doctorEnv(f)
	err := top.Run(ctx, top.Options{
		Interval: opts.Interval,
		Exposed:  opts.Exposed,
		Take:     f.Take,
		Kill:     eng.Free,
		Doctor: func(ctx context.Context, t ports.Target) (*doctor.Report, error) {
			return doctor.Diagnose(ctx, env, t, &doctor.Options{Timeout: 3 * time.Second})
		},
		In:  io.In,
		Out: io.Out,
		Env: os.Environ(),
	})
	if err != nil {
		return &ExitError{Code: exitInternal, Msg: err.Error(), Err: err,
			Hint: "'homeport ports --watch' shows the same changes without a full-screen view"}
	}
	return nil
}

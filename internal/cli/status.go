package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/daemon"
)

// StatusOptions are the flags of `homeport status`.
type StatusOptions struct {
	IO   *IO
	JSON bool
}

// statusJSON is `homeport status --json`.
type statusJSON struct {
	Running bool       `json:"running"`
	Address string     `json:"address,omitempty"`
	PID     int        `json:"pid,omitempty"`
	Since   *time.Time `json:"since,omitempty"`
}

// NewCmdStatus builds `homeport status`.
func NewCmdStatus(f *Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Say whether the daemon runs, where, and since when",
		Long: `Say whether this user's homeport daemon runs: its address, pid and start time.

Exit status: 0 running, 1 not running.`,
		Example: `  homeport status
  homeport status --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := daemon.Find(ctx)
	if err != nil && !errors.Is(err, daemon.ErrNotRunning) {
		return &ExitError{Code: exitFailure, Msg: err.Error()}
	}
	out := statusJSON{Running: err == nil}
	if st != nil {
		since := st.Since
		out.Address, out.PID, out.Since = st.Address, st.PID, &since
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else if out.Running {
		fmt.Fprintf(opts.IO.Out, "running at %s (pid %d) since %s\n", st.Address, st.PID, st.Since.Local().Format(time.DateTime))
	} else {
		fmt.Fprintln(opts.IO.Out, "not running")
		if errors.Is(err, daemon.ErrNotRunning) && err != daemon.ErrNotRunning {
			fmt.Fprintln(opts.IO.Err, "homeport: "+err.Error())
		}
	}
	if !out.Running {
		return silent(exitFailure)
	}
	return nil
}

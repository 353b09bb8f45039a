package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/daemon"
)

// NewCmdDown builds `homeport down`.
func NewCmdDown(f *Factory, runF func(*IO) error) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the daemon 'homeport up' started",
		Long: `Stop this user's homeport daemon and wait until it is gone.

Exit status: 0 stopped, or nothing was running; 1 it would not stop.`,
		Example: `  homeport down`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(f.IO)
			}
			return downRun(cmd.Context(), f.IO)
		},
	}
}

func downRun(ctx context.Context, io *IO) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	st, err := daemon.Stop(ctx)
	if errors.Is(err, daemon.ErrNotRunning) {
		fmt.Fprintln(io.Err, "homeport: not running")
		return nil
	}
	if err != nil {
		return &ExitError{Code: exitFailure, Msg: err.Error(), Hint: "see 'homeport status'; 'homeport kill PORT' stops it by force"}
	}
	fmt.Fprintf(io.Err, "homeport: stopped the daemon at %s (pid %d)\n", st.Address, st.PID)
	return nil
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/daemon"
	"homeport/internal/router"
)

// UpOptions are the flags of `homeport up`.
type UpOptions struct {
	IO           *IO
	Port         int
	Interval     time.Duration
	Detach       bool
	NoOpen       bool
	MetricsAddr  string
	MetricsToken string
	Timeout      time.Duration
}

// NewCmdUp builds `homeport up`.
func NewCmdUp(f *Factory, runF func(*UpOptions) error) *cobra.Command {
	opts := &UpOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the daemon: the live dashboard at http://127.0.0.1:62893",
		Long: `Start homeport's daemon: a live dashboard of this machine's listeners at
http://127.0.0.1:62893 (and [::1]:62893), its JSON API under /api/v1/, and
/metrics for Prometheus. It prints the dashboard's address with a one-time
login code, and opens it in the browser on a desktop (--no-open skips that).

One daemon runs per user: a second 'up' says where the first one is. When
something else holds the port, up names it and exits 1; it never moves to
another port. Ctrl-C or SIGTERM stops it; so does 'homeport down'.

The dashboard and the API answer on loopback only. --metrics-addr serves
/metrics alone on another address (for a Prometheus on the network), with
--metrics-token as a bearer token.`,
		Example: `  homeport up
  homeport up --detach
  homeport up --port 8893 --no-open
  homeport up --metrics-addr 0.0.0.0:9893 --metrics-token "$(cat ~/.prom-token)"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Port < 1 || opts.Port > 65535 {
				return usageErrorf("--port %d is not a port: give 1-65535", opts.Port)
			}
			if opts.Timeout <= 0 {
				return usageErrorf("--timeout must be positive")
			}
			if opts.Interval < 0 {
				return usageErrorf("--interval must be positive")
			}
			if runF != nil {
				return runF(opts)
			}
			return upRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Port, "port", daemon.DefaultPort, "listen on this port of 127.0.0.1 and [::1]")
	cmd.Flags().DurationVar(&opts.Interval, "interval", time.Second, "look at the sockets this often")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", router.DefaultTimeout, "how long an app behind NAME.localhost may take to answer before 504")
	cmd.Flags().BoolVar(&opts.Detach, "detach", false, "run in the background; return once it answers")
	cmd.Flags().BoolVar(&opts.NoOpen, "no-open", false, "do not open the browser")
	cmd.Flags().StringVar(&opts.MetricsAddr, "metrics-addr", "", "also serve /metrics alone on `host:port`")
	cmd.Flags().StringVar(&opts.MetricsToken, "metrics-token", os.Getenv("HOMEPORT_METRICS_TOKEN"), "bearer `token` for --metrics-addr")
	return cmd
}

func upRun(ctx context.Context, opts *UpOptions) error {
	if opts.Detach {
		return upDetach(ctx, opts)
	}
	err := daemon.Run(ctx, daemon.Options{
		Port:         opts.Port,
		Interval:     opts.Interval,
		RouteTimeout: opts.Timeout,
		MetricsAddr:  opts.MetricsAddr,
		MetricsToken: opts.MetricsToken,
		Version:      buildVersion(),
		Warn:         func(s string) { fmt.Fprintln(opts.IO.Err, "homeport: warning: "+s) },
		Ready: func(r daemon.Ready) {
			fmt.Fprintf(opts.IO.Err, "homeport: dashboard on %s (pid %d); Ctrl-C stops it\n", joinAddrs(r.Addrs), r.State.PID)
			if r.Metrics != "" {
				fmt.Fprintf(opts.IO.Err, "homeport: /metrics also on %s\n", r.Metrics)
			}
			fmt.Fprintln(opts.IO.Out, r.LoginURL)
			if !opts.NoOpen && os.Getenv(daemon.DetachedEnv) == "" && daemon.Desktop() {
				if err := daemon.OpenBrowser(r.LoginURL); err != nil {
					fmt.Fprintf(opts.IO.Err, "homeport: could not open a browser (%v): open the address above\n", err)
				}
			}
		},
	})
	return upError(err, opts)
}

func upError(err error, opts *UpOptions) error {
	var running *daemon.RunningError
	var held *daemon.PortHeldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &running):
		if running.State.PID == 0 {
			fmt.Fprintln(opts.IO.Err, "homeport: a daemon of this user is starting or stopping; try again in a moment")
			return nil
		}
		fmt.Fprintf(opts.IO.Err, "homeport: already running at %s (pid %d, since %s)\n", running.State.Address,
			running.State.PID, running.State.Since.Local().Format(time.DateTime))
		fmt.Fprintln(opts.IO.Err, "homeport: 'homeport ui' opens it; 'homeport down' stops it")
		return nil
	case errors.As(err, &held):
		hint := fmt.Sprintf("free it with 'homeport kill %d', or start the daemon elsewhere: homeport up --port %d", held.Port, held.Port+1)
		return &ExitError{Code: exitFailure, Msg: held.Error(), Hint: hint}
	}
	return &ExitError{Code: exitFailure, Msg: err.Error()}
}

// upDetach starts the daemon in the background with the same flags.
func upDetach(ctx context.Context, opts *UpOptions) error {
	if st, err := daemon.Find(ctx); err == nil {
		return upError(&daemon.RunningError{State: *st}, opts)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding homeport's own binary: %w", err)
	}
	args := []string{"up", "--no-open", "--port", strconv.Itoa(opts.Port), "--interval", opts.Interval.String(), "--timeout", opts.Timeout.String()}
	if opts.MetricsAddr != "" {
		args = append(args, "--metrics-addr", opts.MetricsAddr)
	}
	env := os.Getenv("HOMEPORT_METRICS_TOKEN")
	if opts.MetricsToken != "" && opts.MetricsToken != env {
		// Through the environment, not argv: other users can read argv.
		os.Setenv("HOMEPORT_METRICS_TOKEN", opts.MetricsToken)
		defer os.Setenv("HOMEPORT_METRICS_TOKEN", env)
	}
	st, err := daemon.Detach(ctx, exe, args)
	if err != nil {
		var running *daemon.RunningError
		if errors.As(err, &running) {
			return upError(err, opts)
		}
		return &ExitError{Code: exitFailure, Msg: err.Error(), Hint: "run 'homeport up' in the foreground to see what goes wrong"}
	}
	fmt.Fprintf(opts.IO.Err, "homeport: daemon started in the background at %s (pid %d); 'homeport down' stops it\n", st.Address, st.PID)
	return openLogin(ctx, opts.IO, opts.NoOpen)
}

// openLogin prints a fresh login URL and opens it on a desktop.
func openLogin(ctx context.Context, io *IO, noOpen bool) error {
	c, _, err := daemon.Connect()
	if err != nil {
		return notRunning(err)
	}
	url, err := c.Login(ctx)
	if err != nil {
		return &ExitError{Code: exitFailure, Msg: "asking the daemon for a login: " + err.Error(), Hint: "check it with 'homeport status'"}
	}
	fmt.Fprintln(io.Out, url)
	if !noOpen && daemon.Desktop() {
		if err := daemon.OpenBrowser(url); err != nil {
			fmt.Fprintf(io.Err, "homeport: could not open a browser (%v): open the address above\n", err)
		}
	}
	return nil
}

func notRunning(err error) error {
	if errors.Is(err, daemon.ErrNotRunning) {
		return &ExitError{Code: exitFailure, Msg: "homeport is not running", Hint: "start it with 'homeport up' (or 'homeport up --detach')"}
	}
	return &ExitError{Code: exitFailure, Msg: err.Error()}
}

func joinAddrs(as []string) string {
	out := ""
	for i, a := range as {
		if i > 0 {
			out += " and "
		}
		out += "http://" + a + "/"
	}
	return out
}

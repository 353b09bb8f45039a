package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/daemon"
	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/router"
	"homeport/internal/runner"
)

// RunOptions are the flags and arguments of `homeport run`.
type RunOptions struct {
	IO       *IO
	Factory  *Factory
	Name     string
	Command  []string
	Port     int
	NoInject bool

	// Project mode: no -- on the command line. Services are the names
	// given (none: every service of the file).
	Project  bool
	Services []string
	File     string        // --file; "" finds homeport.toml from Dir up
	Dir      string        // the working folder
	Timeout  time.Duration // SIGTERM to SIGKILL
	NoWatch  bool
}

// NewCmdRun builds `homeport run NAME -- COMMAND`.
func NewCmdRun(f *Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "run [NAME -- COMMAND [ARGS...] | SERVICE...]",
		Short: "Run a local app as http://NAME.localhost:62893, or a project's services",
		Long: `Run COMMAND as the local app NAME: it gets a port of its own in PORT (the
same one every time for the same name, as 'homeport free --name NAME' picks
it) and HOST=127.0.0.1, and the daemon's router sends http://NAME.localhost:62893
to it. Browsers and curl find *.localhost by themselves: no DNS or hosts file.

Dev servers that do not read PORT get the flag they need: Vite ('vite',
'npx vite', an npm script that runs vite) gets --port N --strictPort; Astro
('astro dev'), Angular ('ng serve') and Next.js ('next dev') get --port N.
--no-inject leaves the command as it is. When the app listens on another port
than PORT all the same, run finds the port its processes listen on and routes
there.

The daemon is started in the background when none runs. The command's output
is its own; run's lines go to stderr. SIGINT, SIGTERM and SIGHUP go to the
command's whole process group (a third one sends SIGKILL). When the command
ends, what is left of its group is stopped and the route removed.

Without --, run starts the services of the project file, homeport.toml (in
this folder or the nearest parent; --file names another; 'homeport check'
shows the plan): every service, or the SERVICEs named and those they are
after. Each runs as 'homeport run NAME' runs one app (PORT and ${port}, its
route http://NAME.localhost:62893), once the services in its after are ready,
with its output after its name. A line tells when each is ready, with its
URL. When a service exits, the others are stopped, unless it is marked
restart = "on-failure": then it is started again, after 1s, 2s, 4s... (up
to 30s). Ctrl-C stops every service, the last started first: SIGTERM (or a
server's own clean stop signal, such as PostgreSQL's SIGINT), then SIGKILL
after --timeout (a second Ctrl-C: at once); then run checks that every port
is free again.

While they run, run follows the file: a service whose port, run, env or dir
changes is restarted, with the services whose run or env refer to its port,
and no others; run checks it listens on the new port and that the old one is
free. A broken edit is reported with file:line, and nothing is changed.

Exit status: the command's own (128+N when signal N ended it); 1 when run
could not route it, 2 usage, 126 COMMAND cannot run, 127 COMMAND not found.
With a project: the status of the service whose exit stopped the others; 0
after Ctrl-C when every port is free again, else 1.`,
		Example: `  homeport run api -- go run ./cmd/api
  homeport run web -- npx vite
  homeport run docs -- sh -c 'python3 -m http.server $PORT'
  homeport run                  # every service of homeport.toml
  homeport run api web          # these, and what they are after`,
		Args: func(cmd *cobra.Command, args []string) error {
			n := cmd.ArgsLenAtDash()
			if n < 0 {
				return nil // a project's services
			}
			if n == 0 {
				return &ExitError{Code: exitUsage, Msg: "homeport run needs a name before --",
					Hint: "for example: homeport run api -- npm start"}
			}
			if n > 1 {
				return usageErrorf("homeport run takes one name before --, got %d: %s", n, strings.Join(args[:n], " "))
			}
			if len(args) == n {
				return &ExitError{Code: exitUsage, Msg: "nothing after --: give the command to run",
					Hint: fmt.Sprintf("for example: homeport run %s -- npm start", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() < 0 {
				return projectRunE(cmd, opts, args, runF)
			}
			if cmd.Flags().Changed("file") || cmd.Flags().Changed("no-watch") {
				return usageErrorf("--file and --no-watch are for a project's services: leave out -- and the command")
			}
			name, err := router.ParseName(args[0])
			if err != nil {
				return &ExitError{Code: exitUsage, Msg: err.Error(),
					Hint: "a name is a DNS label: letters, digits and '-', such as 'api' or 'web-2'"}
			}
			if opts.Port < 0 || opts.Port > 65535 {
				return usageErrorf("--port %d is not a port: give 1-65535 (0: the name's own)", opts.Port)
			}
			opts.Name, opts.Command = name, args[cmd.ArgsLenAtDash():]
			if runF != nil {
				return runF(opts)
			}
			// Signals are forwarded to the command, which decides when it
			// ends: run's own end follows the command's.
			return runRun(context.WithoutCancel(cmd.Context()), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Port, "port", 0, "give the command this port instead of the name's own")
	cmd.Flags().BoolVar(&opts.NoInject, "no-inject", false, "do not add --port to dev servers that ignore PORT")
	cmd.Flags().StringVarP(&opts.File, "file", "f", "", "the project file (default: homeport.toml here or in the nearest parent)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 10*time.Second, "how long a stopped service gets after SIGTERM before SIGKILL")
	cmd.Flags().BoolVar(&opts.NoWatch, "no-watch", false, "do not follow edits of the project file")
	return cmd
}

func runRun(ctx context.Context, opts *RunOptions) error {
	say := func(format string, args ...any) {
		fmt.Fprintf(opts.IO.Err, "homeport: "+format+"\n", args...)
	}
	st, started, err := ensureDaemon(ctx)
	if err != nil {
		return err
	}
	if started {
		say("started the daemon in the background at %s (pid %d); 'homeport down' stops it", st.Address, st.PID)
	}
	url := routeURL(st.Port, opts.Name)
	in := opts.IO.In
	if in == nil {
		in = os.Stdin
	}
	res, err := runner.Run(ctx, runner.Spec{
		Name:        opts.Name,
		Command:     opts.Command,
		Port:        opts.Port,
		NoInject:    opts.NoInject,
		Stdin:       in,
		Stdout:      opts.IO.Out,
		Stderr:      opts.IO.Err,
		Routes:      runner.Daemon{},
		StopTimeout: opts.Timeout,
		Report: func(e runner.Event) {
			switch e.Kind {
			case runner.Injected:
				say("%s does not read PORT: added %s (--no-inject leaves it out)", e.Injection.Server, strings.Join(e.Injection.Args, " "))
			case runner.Started:
				say("%s: started %s (pid %d) with PORT=%d HOST=127.0.0.1", opts.Name, opts.Command[0], e.PID, e.Port)
			case runner.Listening:
				if e.Port != e.Given {
					say("%s listens on %d, not %d: routing there", opts.Name, e.Port, e.Given)
				}
				say("%s → port %d", url, e.Port)
			case runner.Forwarded:
				say("sent %s to %s's processes", procs.SignalName(e.Signal), opts.Name)
			case runner.Leftover:
				say("%s ended but %d of its processes had not: sent them %s", opts.Name, e.Count, procs.SignalName(e.Signal))
			case runner.NotListening:
				say("%s listens on no port after %s; the route waits on %d, its PORT", opts.Name, runner.QuietAfter, e.Port)
			case runner.RouteError:
				say("warning: route %s: %v", opts.Name, e.Err)
			}
		},
	})
	if err != nil {
		return runError(err, opts)
	}
	switch {
	case res.Signal != 0:
		say("%s ended by %s; route removed", opts.Name, procs.SignalName(res.Signal))
	default:
		say("%s exited with status %d; route removed", opts.Name, res.Code)
	}
	if res.Code != 0 {
		return silent(res.Code)
	}
	return nil
}

// ensureDaemon finds this user's daemon, or starts one in the background;
// started says it did.
func ensureDaemon(ctx context.Context) (*daemon.State, bool, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, false, fmt.Errorf("finding homeport's own binary: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	st, started, err := runner.EnsureDaemon(sctx, exe)
	if err != nil {
		return nil, false, &ExitError{Code: exitFailure, Msg: "starting the daemon: " + err.Error(),
			Hint: "run 'homeport up' in the foreground to see what goes wrong"}
	}
	return st, started, nil
}

func runError(err error, opts *RunOptions) error {
	var se *runner.StartError
	var ae *daemon.APIError
	switch {
	case errors.As(err, &se):
		code, hint := 126, "check that "+se.Command+" can be run"
		if se.NotFound {
			code, hint = exitWaitNotFound, "check the command after --, or its PATH"
		}
		return &ExitError{Code: code, Msg: se.Error(), Err: err, Hint: hint}
	case errors.As(err, &ae):
		return &ExitError{Code: exitFailure, Msg: ae.Message, Hint: ae.Hint, Err: err}
	case errors.Is(err, daemon.ErrNotRunning):
		return &ExitError{Code: exitFailure, Msg: "homeport's daemon stopped: " + err.Error(), Hint: "start it with: homeport up --detach"}
	}
	hint := ""
	if errors.Is(err, ports.ErrNoFreePort) {
		hint = "see what holds the ports with 'homeport ports', or give one: homeport run " + opts.Name + " --port 3000 -- ..."
	}
	return &ExitError{Code: exitFailure, Msg: err.Error(), Hint: hint, Err: err}
}

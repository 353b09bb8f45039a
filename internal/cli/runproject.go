package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/daemon"
	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/project"
	"homeport/internal/runner"
	"homeport/internal/supervisor"
)

// projectRunE is `homeport run [SERVICE...]`: the project file's services.
func projectRunE(cmd *cobra.Command, opts *RunOptions, args []string, runF func(*RunOptions) error) error {
	if cmd.Flags().Changed("port") {
		return usageErrorf("--port is for one command (homeport run NAME --port N -- COMMAND); a project's ports are in homeport.toml")
	}
	if opts.Timeout <= 0 {
		return usageErrorf("--timeout %s is not a duration: give one such as 10s", opts.Timeout)
	}
	dir, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("finding the working folder: %w", err)
	}
	opts.Project, opts.Dir = true, dir
	if len(args) > 0 {
		opts.Services = args
	}
	if runF != nil {
		return runF(opts)
	}
	return runProject(context.WithoutCancel(cmd.Context()), opts)
}

func runProject(ctx context.Context, opts *RunOptions) error {
	take := opts.Factory.Take
	holds, err := ports.NewHolds(24*time.Hour, ports.CurrentHolder(os.Getpid()))
	if err != nil {
		holds = nil // picks still check that a port is free; only parallel pickers may meet
	}
	// URLs name the port of the daemon that runs, or of the one started
	// below (the default port) when none does.
	rport := routerPort(ctx)
	if rport == 0 {
		rport = project.RouterPort
	}
	plan, err := planProject(ctx, opts, project.PlanOptions{Take: take, Holds: holds, RouterPort: rport})
	if err != nil {
		return err
	}
	st, started, err := ensureDaemon(ctx)
	if err != nil {
		return err
	}
	if st.Port != int(rport) {
		// The daemon found went, and another took its place.
		plan, err = planProject(ctx, opts, project.PlanOptions{Take: take, Holds: holds,
			Current: plan.Picked(), RouterPort: uint16(st.Port)})
		if err != nil {
			return err
		}
	}
	file := plan.File

	names := make([]string, 0, len(file.Services))
	for _, s := range file.Services {
		names = append(names, s.Name)
	}
	width := len("homeport")
	for _, n := range names {
		width = max(width, len(n))
	}
	outMux := &lineMux{out: opts.IO.Out, width: width, color: opts.IO.Color}
	errMux := &lineMux{out: opts.IO.Err, width: width, color: opts.IO.ErrColor}
	self := errMux.source("homeport", styleBold)
	say := func(format string, args ...any) {
		fmt.Fprintf(self, format+"\n", args...)
	}
	if started {
		say("started the daemon in the background at %s (pid %d); 'homeport down' stops it", st.Address, st.PID)
	}
	var flush []*prefixed
	output := func(service string) (stdoutW, stderrW *prefixed) {
		style := ""
		for i, n := range names {
			if n == service {
				style = serviceColors[i%len(serviceColors)]
			}
		}
		o, e := outMux.source(service, style), errMux.source(service, style)
		flush = append(flush, o, e)
		return o, e
	}

	sigc := make(chan os.Signal, 4)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigc)
	rctx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	kill := make(chan struct{})
	go func() {
		n := 0
		for range sigc {
			n++
			if n == 1 {
				interrupt()
				continue
			}
			if n == 2 {
				close(kill)
			}
		}
	}()

	watch := file.Path
	if !filepath.IsAbs(watch) {
		watch = filepath.Join(opts.Dir, watch)
	}
	if opts.NoWatch {
		watch = ""
	}
	say("%s: %s; Ctrl-C stops them", file.Path, servicesLine(plan))
	res, err := supervisor.Run(rctx, supervisor.Options{
		Plan: plan, Names: opts.Services, Watch: watch,
		Reload: func(ctx context.Context, running *project.Plan, mine func(int) bool) (*project.Plan, error) {
			return project.Check(ctx, project.CheckOptions{File: file.Path, Dir: opts.Dir, Plan: project.PlanOptions{
				Take: take, Holds: holds, Mine: mine, Current: running.Picked(), RouterPort: uint16(st.Port)}})
		},
		// The dashboard groups the services' listeners under it.
		Routes: runner.Daemon{Project: projectName(file.Dir)},
		Output: func(service string) (io.Writer, io.Writer) {
			o, e := output(service)
			return o, e
		},
		Report:      func(e supervisor.Event) { reportProject(say, file.Path, opts.Timeout, e) },
		StopTimeout: opts.Timeout,
		Kill:        kill,
		NoInject:    opts.NoInject,
	})
	for _, w := range flush {
		w.Flush()
	}
	if err != nil {
		return err
	}
	if res.Code != 0 {
		return silent(res.Code)
	}
	return nil
}

// planProject checks and plans the project file, and selects the services
// asked for.
func planProject(ctx context.Context, opts *RunOptions, po project.PlanOptions) (*project.Plan, error) {
	plan, err := project.Check(ctx, project.CheckOptions{File: opts.File, Dir: opts.Dir, Plan: po})
	if err == nil && len(opts.Services) > 0 {
		plan, err = plan.Select(opts.Services...)
	}
	if err != nil {
		return nil, projectError(opts, err)
	}
	return plan, nil
}

// servicesLine lists the plan's services with their ports, in start order.
func servicesLine(plan *project.Plan) string {
	parts := make([]string, 0, len(plan.Services))
	for _, s := range plan.Services {
		parts = append(parts, fmt.Sprintf("%s on %d", s.Name, s.Port))
	}
	return "starting " + strings.Join(parts, ", ")
}

// projectError explains why the project could not start.
func projectError(opts *RunOptions, err error) error {
	var probs project.Problems
	var unknown *project.UnknownServiceError
	switch {
	case errors.Is(err, project.ErrNotFound) && len(opts.Services) > 0:
		cmdline := "COMMAND"
		if len(opts.Services) > 1 {
			cmdline = strings.Join(opts.Services[1:], " ")
		}
		return &ExitError{Code: exitUsage, Msg: "homeport run needs -- before the command, or a project file with these services: " + err.Error(),
			Hint: fmt.Sprintf("to run a command as %s: homeport run %s -- %s", opts.Services[0], opts.Services[0], cmdline)}
	case errors.Is(err, project.ErrNotFound):
		return &ExitError{Code: exitUsage, Msg: "homeport run needs a name and a command, or a project file: " + err.Error(),
			Hint: "run one command: homeport run api -- npm start; or write homeport.toml ('homeport check --help' shows one)"}
	case errors.Is(err, os.ErrNotExist) && opts.File != "":
		return &ExitError{Code: exitUsage, Msg: fmt.Sprintf("%s does not exist", opts.File),
			Hint: "name an existing file with --file, or leave --file out to use the homeport.toml of this folder or a parent"}
	case errors.As(err, &probs):
		for _, p := range probs {
			fmt.Fprintln(opts.IO.Err, p.Error())
			if p.Hint != "" {
				fmt.Fprintf(opts.IO.Err, "\thint: %s\n", p.Hint)
			}
		}
		return &ExitError{Code: exitFailure, Msg: fmt.Sprintf("%s has %s; nothing was started", probs[0].File, plural(len(probs), "problem", "problems")),
			Hint: "fix the file ('homeport check' shows the plan once it is right)"}
	case errors.As(err, &unknown):
		hint := "the file's services: " + strings.Join(unknown.Services, ", ")
		if unknown.Suggest != "" {
			hint = fmt.Sprintf("did you mean %q? %s", unknown.Suggest, hint)
		}
		hint += fmt.Sprintf("; to run a command as %s: homeport run %s -- COMMAND", unknown.Name, unknown.Name)
		return &ExitError{Code: exitUsage, Msg: err.Error(), Hint: hint}
	case errors.Is(err, ports.ErrNoFreePort):
		return &ExitError{Code: exitFailure, Msg: err.Error(), Err: err,
			Hint: "see what holds the ports with 'homeport ports', or give the service a port in homeport.toml"}
	}
	return err
}

// reportProject says what happens to the project's services, a line each.
func reportProject(say func(string, ...any), file string, timeout time.Duration, e supervisor.Event) {
	switch e.Kind {
	case supervisor.Started:
		say("%s: started \"%s\" (pid %d) with PORT=%d", e.Service, e.Command, e.PID, e.Port)
	case supervisor.Injected:
		say("%s: %s does not read PORT: added %s (--no-inject leaves it out)", e.Service, e.Injection.Server, strings.Join(e.Injection.Args, " "))
	case supervisor.ListensElsewhere:
		say("%s listens on %d, not %d (its PORT): routing there", e.Service, e.Port, e.Given)
	case supervisor.Ready:
		say("%s ready in %s: %s (port %d)", e.Service, roundDur(e.After), e.URL, e.Port)
	case supervisor.NotReady:
		if e.Detail != "" {
			say("%s is not ready after %s (its ready target: %s); still waiting", e.Service, roundDur(e.After), e.Detail)
		} else {
			say("%s is not listening after %s on port %d (its PORT); still waiting", e.Service, roundDur(e.After), e.Port)
		}
	case supervisor.Exited:
		var ae *daemon.APIError
		switch {
		case errors.As(e.Err, &ae) && ae.Status == http.StatusConflict:
			say("%s could not start: %s", e.Service, ae.Message)
			say("hint: stop that homeport run, or give this service another name in %s", file)
		case errors.As(e.Err, &ae):
			say("%s could not start: %s", e.Service, ae.Message)
		case e.Err != nil:
			say("%s could not start: %v", e.Service, e.Err)
		case e.Signal != 0:
			say("%s ended by %s", e.Service, procs.SignalName(e.Signal))
		default:
			say("%s exited with status %d", e.Service, e.Code)
		}
	case supervisor.Done:
		say("%s finished (status 0); restart = \"on-failure\" does not start it again", e.Service)
	case supervisor.Restarting:
		how := fmt.Sprintf("exited with status %d", e.Code)
		if e.Signal != 0 {
			how = "ended by " + procs.SignalName(e.Signal)
		}
		say("%s %s; restarting in %s (restart = \"on-failure\", attempt %d)", e.Service, how, roundDur(e.Delay), e.Attempt)
	case supervisor.Stopping:
		if e.Service == "" {
			say("stopping every service (a second Ctrl-C kills them at once)")
		} else {
			say("%s ended: stopping the other services", e.Service)
		}
	case supervisor.Stopped:
		switch {
		case e.Signal != 0:
			say("%s stopped (%s)", e.Service, procs.SignalName(e.Signal))
		default:
			say("%s stopped (exit status %d)", e.Service, e.Code)
		}
	case supervisor.Forwarded:
		if e.Signal != syscall.SIGTERM && e.Signal != syscall.SIGKILL {
			say("%s: sent %s, the signal it stops cleanly on", e.Service, procs.SignalName(e.Signal))
		}
		if e.Signal == syscall.SIGKILL {
			say("%s: sent SIGKILL to its processes (they had %s after SIGTERM, or Ctrl-C came twice)", e.Service, timeout)
		}
	case supervisor.Leftover:
		say("%s ended but %d of its processes had not: sent them %s", e.Service, e.Count, procs.SignalName(e.Signal))
	case supervisor.RouteError:
		say("warning: route %s: %v", e.Service, e.Err)
	case supervisor.EditRejected:
		var probs project.Problems
		if errors.As(e.Err, &probs) {
			for _, p := range probs {
				say("%s", p.Error())
				if p.Hint != "" {
					say("\thint: %s", p.Hint)
				}
			}
		} else {
			say("%s: %v", file, e.Err)
		}
		say("%s was not applied: the services run on as they were; fix it and save again", file)
	case supervisor.EditApplied:
		if len(e.Changes) == 0 {
			say("%s changed; no service needs a restart", file)
			return
		}
		for _, c := range e.Changes {
			say("%s changed: %s", file, changeLine(c))
		}
	case supervisor.Moved:
		if e.OldFree {
			say("%s listens on port %d now; port %d is free", e.Service, e.Port, e.OldPort)
		} else {
			say("%s listens on port %d now, but port %d is still held by %s", e.Service, e.Port, e.OldPort, e.Holders)
		}
	case supervisor.PortsFree:
		if len(e.Ports) == 1 {
			say("every service stopped; port %d is free", e.Ports[0])
		} else {
			say("every service stopped; ports %s are free", joinInts(e.Ports))
		}
	case supervisor.PortHeld:
		say("port %d is still held by %s: 'homeport kill %d' frees it", e.Port, e.Holders, e.Port)
	}
}

func changeLine(c project.Change) string {
	switch c.Kind {
	case project.ChangeStart:
		return fmt.Sprintf("starting %s, new in the file, on port %d", c.Service, c.NewPort)
	case project.ChangeStop:
		return fmt.Sprintf("stopping %s, gone from the file", c.Service)
	}
	var why []string
	for _, ed := range c.Edited {
		if ed == "port" {
			why = append(why, fmt.Sprintf("its port %d → %d", c.OldPort, c.NewPort))
		} else {
			why = append(why, "its "+ed)
		}
	}
	if len(c.Because) > 0 {
		why = append(why, "it refers to the port of "+strings.Join(c.Because, ", "))
	}
	if len(why) == 0 {
		why = append(why, "what it is given changed")
	}
	return fmt.Sprintf("restarting %s (%s)", c.Service, strings.Join(why, "; "))
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}

// projectName names the project in routes as owners' attribution names
// the project of a process running in dir (its package.json's name, say),
// so that the dashboard shows one group for both.
func projectName(dir string) string {
	if runtime.GOOS != "windows" {
		if p, ok := procs.FindProject(os.DirFS("/"), dir); ok && p.Dir == filepath.ToSlash(dir) {
			return p.Name
		}
	}
	return filepath.Base(dir)
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/daemon"
	"homeport/internal/router"
)

// RouteOptions are the flags and arguments of `homeport route add|rm` and
// `homeport routes`.
type RouteOptions struct {
	IO   *IO
	Name string
	Port int
	JSON bool
}

// NewCmdRoute builds `homeport route` with its subcommands add and rm.
func NewCmdRoute(f *Factory, runF func(string, *RouteOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "route",
		Short: "Give a local port a name: http://NAME.localhost:62893",
		Long: `Give a service started elsewhere (a container, a VM, a server started by hand)
a name on the daemon's router: http://NAME.localhost:62893 then reaches its port.
Such routes last until removed, across daemon restarts.

A name is a DNS label: letters, digits and '-', not at either end, at most 63
characters; case does not matter.`,
		Example: `  homeport route add api 3000
  homeport route rm api
  homeport routes`,
		Args: noArgs,
	}
	add := &RouteOptions{IO: f.IO}
	addCmd := &cobra.Command{
		Use:   "add NAME PORT",
		Short: "Route http://NAME.localhost:62893 to PORT",
		Long: `Route http://NAME.localhost:62893 to the local port PORT, on 127.0.0.1 or ::1.

Exit status: 0 added (or already there), 1 the daemon refused or is not running, 2 usage.`,
		Example: `  homeport route add api 3000`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := router.ParseName(args[0])
			if err != nil {
				return &ExitError{Code: exitUsage, Msg: err.Error()}
			}
			port, err := strconv.Atoi(args[1])
			if err != nil || port < 1 || port > 65535 {
				return usageErrorf("%q is not a port (1-65535)", args[1])
			}
			add.Name, add.Port = name, port
			if runF != nil {
				return runF("add", add)
			}
			return routeAddRun(cmd.Context(), add)
		},
	}
	rm := &RouteOptions{IO: f.IO}
	rmCmd := &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove"},
		Short:   "Remove the route NAME",
		Long: `Remove the route NAME from the daemon's router.

Exit status: 0 removed, 1 no such route or the daemon is not running, 2 usage.`,
		Example: `  homeport route rm api`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := router.ParseName(args[0])
			if err != nil {
				return &ExitError{Code: exitUsage, Msg: err.Error()}
			}
			rm.Name = name
			if runF != nil {
				return runF("rm", rm)
			}
			return routeRmRun(cmd.Context(), rm)
		},
	}
	cmd.AddCommand(addCmd, rmCmd)
	return cmd
}

// NewCmdRoutes builds `homeport routes`.
func NewCmdRoutes(f *Factory, runF func(*RouteOptions) error) *cobra.Command {
	opts := &RouteOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "List the daemon's routes: NAME.localhost → port",
		Long: `List the routes of the daemon's router: each name, its port, its kind
(persistent from 'homeport route add', run from 'homeport run'), the project
whose service it is (the services of a homeport.toml) and its URL.

Exit status: 0 listed, 1 the daemon is not running.`,
		Example: `  homeport routes
  homeport routes --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return routesRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

// routeJSON is one route of `homeport routes --json` and the answer of
// `route add --json`.
type routeJSON struct {
	router.Route
	URL string `json:"url"`
}

func routeURL(port int, name string) string {
	return "http://" + name + ".localhost:" + strconv.Itoa(port) + "/"
}

func routeErr(err error) error {
	if errors.Is(err, daemon.ErrNotRunning) {
		return &ExitError{Code: exitFailure, Msg: "homeport's daemon is not running", Hint: "start it with: homeport up --detach"}
	}
	var ae *daemon.APIError
	if errors.As(err, &ae) {
		return &ExitError{Code: exitFailure, Msg: ae.Message, Hint: ae.Hint}
	}
	return &ExitError{Code: exitFailure, Msg: err.Error()}
}

func routeAddRun(ctx context.Context, opts *RouteOptions) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rt, port, err := daemon.AddRoute(ctx, opts.Name, opts.Port)
	if err != nil {
		return routeErr(err)
	}
	fmt.Fprintf(opts.IO.Out, "%s\n", routeURL(port, rt.Name))
	fmt.Fprintf(opts.IO.Err, "homeport: %s goes to port %d\n", rt.Name, rt.Port)
	return nil
}

func routeRmRun(ctx context.Context, opts *RouteOptions) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rt, err := daemon.RemoveRoute(ctx, opts.Name)
	if err != nil {
		return routeErr(err)
	}
	fmt.Fprintf(opts.IO.Err, "homeport: removed %s (port %d)\n", rt.Name, rt.Port)
	return nil
}

func routesRun(ctx context.Context, opts *RouteOptions) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	routes, port, err := daemon.Routes(ctx)
	if err != nil {
		return routeErr(err)
	}
	if opts.JSON {
		out := make([]routeJSON, len(routes))
		for i, r := range routes {
			out[i] = routeJSON{Route: r, URL: routeURL(port, r.Name)}
		}
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	t := newTable(opts.IO, "NAME", "PORT", "KIND", "PID", "PROJECT", "URL")
	for _, r := range routes {
		pid := "-"
		if r.PID > 0 {
			pid = strconv.Itoa(r.PID)
		}
		project := "-"
		if r.Project != "" {
			project = r.Project
		}
		t.row(cell{text: r.Name, style: styleBold}, cell{text: strconv.Itoa(r.Port)}, cell{text: string(r.Kind)}, cell{text: pid}, cell{text: project}, cell{text: routeURL(port, r.Name)})
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(routes) == 0 && opts.IO.OutTTY {
		fmt.Fprintln(opts.IO.Err, "homeport: no routes; add one with: homeport route add NAME PORT")
	}
	return nil
}

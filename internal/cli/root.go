// Package cli builds homeport's command line: one file per command, each with
// an options struct, a constructor that parses flags, and a run function that
// tests call directly. Errors become exit codes in one place (exitCode).
//
// Every internal/cli/<command>.go holds flags, prompts, output and exit
// codes, and calls one named function in a package below it (who calls
// ports.Holders): no loop over processes, no signal and no address rule
// lives here. The behaviour, and its tests, are one floor down.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"homeport/internal/origin"
	"homeport/internal/sockets"
)

// version is set at build time with -ldflags "-X homeport/internal/cli.version=v1.2.3".
var version = ""

// Factory carries what commands share and what tests replace.
type Factory struct {
	IO *IO

	// Take reads the socket inventory; tests may swap it.
	Take func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error)

	// Attribute prepares where the owners shown come from (project,
	// parents, unit, container); nil leaves owners unattributed, as tests
	// over a fake inventory do.
	Attribute func(ctx context.Context) *origin.Attribution
}

// NewFactory returns a Factory over the real system.
func NewFactory(io *IO) *Factory {
	return &Factory{IO: io, Take: sockets.Take, Attribute: func(ctx context.Context) *origin.Attribution {
		return origin.Attribute(ctx, origin.Options{})
	}}
}

// attribution returns the factory's attribution, or nil.
func (f *Factory) attribution(ctx context.Context) *origin.Attribution {
	if f == nil || f.Attribute == nil {
		return nil
	}
	return f.Attribute(ctx)
}

// Main runs homeport with args and returns the process exit code.
func Main(args []string, io *IO) int {
	ctx := context.Background()
	if !quick(args) {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		go func() {
			// After the first signal, restore the default handling so
			// that a second one ends the process at once.
			<-ctx.Done()
			stop()
		}()
	}

	root := newRoot(NewFactory(io), commandName(args))
	if !completing(args) {
		// The completion command is built on every run unless disabled;
		// only `homeport completion` and the shells' __complete need it.
		root.CompletionOptions.DisableDefaultCmd = true
	}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *ExitError
	if !errors.As(err, &ee) && (strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag")) {
		err = unknownCommand(root, err)
	}
	printError(io, err)
	return exitCode(err)
}

// quick reports whether args run a command that reads and prints at once
// (version, ports, who): those keep the default signal handling, which
// ends the process at Ctrl-C, and skip installing handlers, whose thread
// costs a tenth of `homeport version`'s run.
func quick(args []string) bool {
	for _, a := range args {
		if a == "--watch" || a == "-w" {
			return false
		}
	}
	for _, a := range args {
		switch a {
		case "version", "--version", "ports", "ls", "list", "who":
			return true
		}
		if !strings.HasPrefix(a, "-") {
			return false
		}
	}
	return true // bare homeport lists ports
}

// completing reports whether args ask for shell completion.
func completing(args []string) bool {
	for _, a := range args {
		if a == "completion" || strings.HasPrefix(a, "__complete") || a == "help" {
			return true
		}
	}
	return false
}

// unknownCommand turns cobra's unknown-command error into one line and a
// "did you mean" hint.
func unknownCommand(root *cobra.Command, err error) error {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	hint := "run 'homeport --help' to see the commands"
	if _, rest, ok := strings.Cut(msg, `unknown command "`); ok {
		word, _, _ := strings.Cut(rest, `"`)
		msg = fmt.Sprintf("unknown command %q", word)
		if sug := root.SuggestionsFor(word); len(sug) > 0 {
			hint = fmt.Sprintf("did you mean 'homeport %s'?", sug[0])
		}
	}
	return &ExitError{Code: exitUsage, Msg: msg, Hint: hint}
}

// printError writes err to stderr the way every command reports problems:
// "homeport: error: ..." then, if there is one, "homeport: hint: ...".
func printError(io *IO, err error) {
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Msg == "" && ee.Err == nil {
			return // the command already said everything
		}
		fmt.Fprintf(io.Err, "homeport: error: %s\n", strings.TrimSpace(ee.Error()))
		if ee.Hint != "" {
			fmt.Fprintf(io.Err, "homeport: hint: %s\n", ee.Hint)
		}
		return
	}
	fmt.Fprintf(io.Err, "homeport: error: %s\n", strings.TrimSpace(err.Error()))
}

// NewRoot builds the command tree. Bare `homeport` lists listeners, as
// `homeport ports` does, and takes the same flags.
func NewRoot(f *Factory) *cobra.Command { return newRoot(f, "") }

// newRoot builds the root and, when only names a subcommand, that one
// alone: building every command with its flags is a tenth of a short run's
// time, and one run needs one. Help, suggestions and completion need them
// all (only "").
func newRoot(f *Factory, only string) *cobra.Command {
	ports := NewCmdPorts(f, nil)
	root := &cobra.Command{
		Use:   "homeport",
		Short: "See and manage the ports of your machine",
		Long: `homeport shows what listens on which port of this machine, which process owns
it and who can reach it, and frees, picks, waits for, serves and diagnoses
ports.

Run without a command, it lists listening sockets, like 'homeport ports'.`,
		Example: `  homeport                     # what is listening, and who owns it
  homeport who 3000            # which process holds port 3000
  homeport ports --exposed     # listeners reachable from other machines
  homeport ports --json        # the same, for scripts`,
		Version:           buildVersion(),
		SilenceErrors:     true,
		SilenceUsage:      true,
		RunE:              ports.RunE,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	root.Flags().AddFlagSet(ports.Flags())
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: exitUsage, Msg: err.Error(), Hint: fmt.Sprintf("see '%s --help'", c.CommandPath())}
	})
	root.SetVersionTemplate("homeport {{.Version}}\n")

	for _, c := range subcommands(f, ports) {
		if only == "" || slices.Contains(c.names, only) {
			root.AddCommand(c.build())
		}
	}
	return root
}

// subcommand is a command that is built when it is needed.
type subcommand struct {
	names []string // name and aliases
	build func() *cobra.Command
}

func subcommands(f *Factory, ports *cobra.Command) []subcommand {
	return []subcommand{
		{[]string{"ports", "ls", "list"}, func() *cobra.Command { return ports }},
		{[]string{"who"}, func() *cobra.Command { return NewCmdWho(f, nil) }},
		{[]string{"serve"}, func() *cobra.Command { return NewCmdServe(f, nil) }},
		{[]string{"doctor"}, func() *cobra.Command { return NewCmdDoctor(f, nil) }},
		{[]string{"audit"}, func() *cobra.Command { return NewCmdAudit(f, nil) }},
		{[]string{"kill"}, func() *cobra.Command { return NewCmdKill(f, nil) }},
		{[]string{"free"}, func() *cobra.Command { return NewCmdFree(f, nil) }},
		{[]string{"wait"}, func() *cobra.Command { return NewCmdWait(f, nil) }},
		{[]string{"check"}, func() *cobra.Command { return NewCmdCheck(f, nil) }},
		{[]string{"up"}, func() *cobra.Command { return NewCmdUp(f, nil) }},
		{[]string{"down"}, func() *cobra.Command { return NewCmdDown(f, nil) }},
		{[]string{"status"}, func() *cobra.Command { return NewCmdStatus(f, nil) }},
		{[]string{"ui"}, func() *cobra.Command { return NewCmdUI(f, nil) }},
		{[]string{"top"}, func() *cobra.Command { return NewCmdTop(f, nil) }},
		{[]string{"route"}, func() *cobra.Command { return NewCmdRoute(f, nil) }},
		{[]string{"routes"}, func() *cobra.Command { return NewCmdRoutes(f, nil) }},
		{[]string{"run"}, func() *cobra.Command { return NewCmdRun(f, nil) }},
		{[]string{"version"}, func() *cobra.Command { return newCmdVersion(f) }},
	}
}

// commandName returns the subcommand args run when it is one homeport
// knows, else "" (bare homeport, help, a mistyped command).
func commandName(args []string) string {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			if a == "--help" || a == "-h" {
				return ""
			}
			continue
		}
		for _, c := range subcommands(nil, nil) {
			if slices.Contains(c.names, a) {
				return c.names[0]
			}
		}
		return ""
	}
	return ""
}

func newCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print homeport's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(f.IO.Out, "homeport %s\n", buildVersion())
			return nil
		},
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// noArgs rejects arguments with a usage error (exit 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// minArgs requires at least n arguments, naming what is missing.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return &ExitError{Code: exitUsage, Msg: fmt.Sprintf("%s needs %s", cmd.CommandPath(), what),
				Hint: fmt.Sprintf("for example: %s", firstExample(cmd))}
		}
		return nil
	}
}

func firstExample(cmd *cobra.Command) string {
	ex := strings.TrimSpace(cmd.Example)
	if i := strings.IndexByte(ex, '\n'); i >= 0 {
		ex = ex[:i]
	}
	if i := strings.Index(ex, "  #"); i >= 0 {
		ex = strings.TrimSpace(ex[:i])
	}
	if ex == "" {
		return cmd.UseLine()
	}
	return ex
}

// shortLived tunes the collector for a command that lists sockets and exits.
// Such a command allocates a few megabytes once (10,000 sockets are 1.4 MB)
// and keeps most of it to the end, so collecting at every doubling of the
// heap buys no memory and costs time: on 10,000 listeners, two collections
// woke threads enough to make `ports --no-owner` half again as slow. Peak
// memory stays dominated by the binary's own pages.
func shortLived() { debug.SetGCPercent(400) }

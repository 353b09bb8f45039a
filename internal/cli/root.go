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
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"homeport/internal/sockets"
)

// version is set at build time with -ldflags "-X homeport/internal/cli.version=v1.2.3".
var version = ""

// Factory carries what commands share and what tests replace.
type Factory struct {
	IO *IO

	// Take reads the socket inventory; tests may swap it.
	Take func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error)
}

// NewFactory returns a Factory over the real system.
func NewFactory(io *IO) *Factory {
	return &Factory{IO: io, Take: sockets.Take}
}

// Main runs homeport with args and returns the process exit code.
func Main(args []string, io *IO) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default handling so that a
		// second one ends the process at once.
		<-ctx.Done()
		stop()
	}()

	root := NewRoot(NewFactory(io))
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
func NewRoot(f *Factory) *cobra.Command {
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

	root.AddCommand(
		ports,
		NewCmdWho(f, nil),
		NewCmdServe(f, nil),
		NewCmdDoctor(f, nil),
		NewCmdAudit(f, nil),
		NewCmdKill(f, nil),
		NewCmdFree(f, nil),
		NewCmdWait(f, nil),
		NewCmdCheck(f, nil),
		NewCmdUp(f, nil),
		NewCmdDown(f, nil),
		NewCmdStatus(f, nil),
		NewCmdUI(f, nil),
		NewCmdRoute(f, nil),
		NewCmdRoutes(f, nil),
		NewCmdRun(f, nil),
		NewCmdTop(f, nil),
		newCmdVersion(f),
	)
	return root
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

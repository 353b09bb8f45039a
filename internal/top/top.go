// Package top is `homeport top`: TCPView in the terminal. A full-screen table
// of the listening sockets, redrawn as the watcher (internal/watch) sees them
// open, close and change owner, with the keys of k9s and gh-dash to filter,
// sort, look closer, ask the doctor and stop a listener.
//
// The model (model.go) is a plain bubbletea model: tests drive its Update
// with key and poll messages and read its View. Run wires it to a terminal,
// a watch.Poller and the engines the CLI passes in (kill, doctor), so that
// this package imports nothing above it.
package top

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	tea "charm.land/bubbletea/v2"

	"homeport/internal/doctor"
	"homeport/internal/ports"
	"homeport/internal/sockets"
	"homeport/internal/stop"
	"homeport/internal/watch"
)

// Options configure a run of top.
type Options struct {
	// Interval between inventories; watch.DefaultInterval when zero.
	Interval time.Duration

	// Exposed starts with only the listeners other machines may reach (the
	// `e` key toggles it).
	Exposed bool

	// Watch takes the inventories of the live table; nil: a
	// sockets.Tracker's, which keeps the owners it found between polls.
	Watch func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error)

	// Take reads one inventory for the details panel (the connections to
	// a port); nil: sockets.Take.
	Take func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error)

	// Kill frees a port (stop.Engine.Free); nil: the K key says it cannot.
	Kill func(ctx context.Context, req stop.Request) (*stop.Report, error)

	// Doctor diagnoses a target (doctor.Diagnose: its error says the
	// inventory could not be read, and the report rests on connection
	// attempts alone); nil: the d key says it cannot.
	Doctor func(ctx context.Context, t ports.Target) (*doctor.Report, error)

	// In and Out are the terminal; Env its environment (TERM, NO_COLOR),
	// from which the colours are chosen.
	In  io.Reader
	Out io.Writer
	Env []string
}

// Run shows the table until the user quits (q, Ctrl-C) or ctx ends, and
// leaves the terminal as it found it: on quit, on a signal, and on a panic
// in the view or in the watcher.
func Run(ctx context.Context, opts Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := newModel(ctx, &opts)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(opts.In), tea.WithOutput(opts.Out),
		tea.WithEnvironment(opts.Env))

	poller := watch.New(watch.Options{Interval: opts.Interval, Take: opts.Watch})
	var crashed any
	var stack []byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			// A panic here would end the process with the terminal
			// still raw: restore it first, then panic on the main
			// goroutine.
			if r := recover(); r != nil {
				crashed, stack = r, debug.Stack()
				p.Kill()
			}
		}()
		poller.Run(ctx, func(u watch.Update) { p.Send(pollMsg(u)) },
			func(err error) { p.Send(pollErrMsg{err}) })
	}()
	_, err := p.Run()
	ended := ctx.Err() != nil // Ctrl-C reached homeport itself, or its caller gave up
	cancel()
	<-done
	if crashed != nil {
		panic(fmt.Sprintf("%v\n\n%s", crashed, stack))
	}
	switch {
	case errors.Is(err, tea.ErrProgramPanic):
		// The terminal is restored and the panic printed.
		return fmt.Errorf("the terminal view crashed: %w", err)
	case errors.Is(err, tea.ErrInterrupted), errors.Is(err, tea.ErrProgramKilled) && ended:
		return nil
	case err != nil:
		return fmt.Errorf("running the terminal view: %w", err)
	}
	return nil
}

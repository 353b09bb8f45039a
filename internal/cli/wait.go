package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/ports"
)

// WaitOptions are the flags of `homeport wait`.
type WaitOptions struct {
	IO        *IO
	Targets   []ports.Target
	Command   []string // run once ready, after --
	Timeout   time.Duration
	Status    ports.StatusSet
	UntilFree bool
	Insecure  bool
}

// NewCmdWait builds `homeport wait TARGET... [-- COMMAND ARGS]`.
func NewCmdWait(f *Factory, runF func(*WaitOptions) error) *cobra.Command {
	opts := &WaitOptions{IO: f.IO, Timeout: 30 * time.Second}
	var status string
	cmd := &cobra.Command{
		Use:   "wait TARGET... [-- COMMAND ARGS]",
		Short: "Wait until ports answer, then run a command",
		Long: `Wait until every target answers, all in parallel, then exit, or run COMMAND
in homeport's place (exec, like wait-for-it.sh host:port -- cmd), so that its
signals and exit status are the command's own.

A target is a port (5432: this machine), host:port, or an http(s):// URL,
which is ready when a GET answers with a status in --status (default 200-399;
redirects are not followed). A name with several addresses is ready when any
of them answers. localhost and *.localhost always mean both 127.0.0.1 and ::1,
whatever the hosts file says (RFC 6761), so it does not matter which one the
server bound.

Connections are tried every 5ms, so a listener is noticed within milliseconds
of appearing. On a terminal a spinner on stderr shows what is still pending.

Exit status: 0 ready (or COMMAND's status), 1 timed out (with what each
pending target last saw: refused, timed out, HTTP 503, TLS error), 2 bad input.`,
		Example: `  homeport wait 5432 -- go test ./...
  homeport wait localhost:6379 http://localhost:3000/health
  homeport wait https://app.localhost:8443 --insecure --timeout 2m
  homeport wait 3000 --until-free`,
		Args: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n == 0 || len(args) == 0 {
				return &ExitError{Code: exitUsage, Msg: "homeport wait needs a target, like 5432 or http://localhost:3000/health",
					Hint: "for example: homeport wait 5432 -- go test ./..."}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			targets := args
			opts.Command = nil
			if n := cmd.ArgsLenAtDash(); n >= 0 {
				targets, opts.Command = args[:n], args[n:]
				if len(opts.Command) == 0 {
					return usageErrorf("nothing after --: give the command to run once ready")
				}
			}
			opts.Targets = opts.Targets[:0]
			for _, a := range targets {
				t, err := ports.ParseTarget(a)
				if err != nil {
					return usageErrorf("%v", err)
				}
				if t.Proto == "udp" {
					return &ExitError{Code: exitUsage, Msg: fmt.Sprintf("cannot wait for %s: UDP has no handshake to tell that a service is up", a),
						Hint: fmt.Sprintf("wait for a TCP port instead, or check the listener with: homeport who %s", a)}
				}
				opts.Targets = append(opts.Targets, t)
			}
			opts.Status = ports.DefaultStatus
			if status != "" {
				s, err := ports.ParseStatus(status)
				if err != nil {
					return usageErrorf("--status: %v", err)
				}
				opts.Status = s
			}
			if runF != nil {
				return runF(opts)
			}
			return waitRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var(durationFlag{&opts.Timeout}, "timeout", "give up after this long (0: never)")
	cmd.Flags().StringVar(&status, "status", "200-399", "HTTP statuses that count as ready: 200, 200-299, 2xx, or a list 200,204")
	cmd.Flags().BoolVar(&opts.UntilFree, "until-free", false, "wait for the targets to stop answering instead")
	cmd.Flags().BoolVarP(&opts.Insecure, "insecure", "k", false, "accept any TLS certificate for https targets")
	return cmd
}

func waitRun(ctx context.Context, opts *WaitOptions) error {
	wctx := ctx
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	w := ports.NewWaiter(opts.Targets, ports.WaitOptions{Status: opts.Status, UntilFree: opts.UntilFree, Insecure: opts.Insecure})
	start := time.Now()
	stopSpinner := func() {}
	if opts.IO.ErrTTY {
		stopSpinner = spin(opts.IO, w, start, opts.UntilFree)
	}
	err := w.Run(wctx)
	stopSpinner()
	results := w.Results()
	if err != nil {
		for _, r := range results {
			if !r.Ready {
				fmt.Fprintf(opts.IO.Err, "homeport: %s: %s\n", r.Target, r.Summary())
			}
		}
		if ctx.Err() != nil {
			return &ExitError{Code: exitFailure, Msg: "interrupted before the targets were " + readyWord(opts.UntilFree)}
		}
		return &ExitError{Code: exitFailure, Msg: fmt.Sprintf("timed out after %s: %s not %s",
			opts.Timeout, plural(countPending(results), "target", "targets"), readyWord(opts.UntilFree)),
			Hint: waitHint(opts, results)}
	}
	if opts.IO.ErrTTY {
		for _, r := range results {
			fmt.Fprintf(opts.IO.Err, "homeport: %s is %s (%s)\n", r.Target, readyWord(opts.UntilFree), roundDur(r.After))
		}
	}
	if len(opts.Command) == 0 {
		return nil
	}
	return runAfterWait(opts)
}

func readyWord(untilFree bool) string {
	if untilFree {
		return "free"
	}
	return "ready"
}

func countPending(rs []ports.Result) int {
	n := 0
	for _, r := range rs {
		if !r.Ready {
			n++
		}
	}
	return n
}

// waitHint says what to do about the first pending target whose failure
// waiting cannot fix, with that cause's own fix (as doctor gives it); only
// when every pending target may still come up does it suggest a longer
// --timeout.
func waitHint(opts *WaitOptions, rs []ports.Result) string {
	for _, r := range rs {
		if r.Ready || r.Target.URL == nil {
			continue
		}
		u := *r.Target.URL
		switch r.Seen.Kind {
		case ports.TLSOnHTTP:
			u.Scheme = "https"
			return fmt.Sprintf("the server speaks TLS: wait for %s (add --insecure for a self-signed certificate)", u.String())
		case ports.PlainOnHTTPS:
			u.Scheme = "http"
			return fmt.Sprintf("the server speaks plain HTTP: wait for %s", u.String())
		case ports.NotHTTP:
			return fmt.Sprintf("port %d is not a web server: wait for the port itself (homeport wait %s), or see what holds it with 'homeport who %d'",
				r.Target.Port, net.JoinHostPort(r.Target.Host, strconv.Itoa(int(r.Target.Port))), r.Target.Port)
		case ports.HostRejected:
			u.Host = "localhost:" + strconv.Itoa(int(r.Target.Port))
			return fmt.Sprintf("the server rejects the Host header %q: allow it in the dev server (Vite server.allowedHosts, webpack devServer.allowedHosts, Django ALLOWED_HOSTS), or wait for %s",
				r.Target.URL.Host, u.String())
		case ports.TLSError:
			return "for a self-signed certificate, add --insecure"
		case ports.Closed:
			return fmt.Sprintf("the server takes connections and closes them without an answer: if it is no web server, wait for the port itself (homeport wait %s); 'homeport doctor %s' tells what it is",
				net.JoinHostPort(r.Target.Host, strconv.Itoa(int(r.Target.Port))), r.Target)
		case ports.Status:
			return fmt.Sprintf("the server answers %d; if that status means ready, say so with --status, e.g. --status %d", r.Seen.Status, r.Seen.Status)
		}
	}
	for _, r := range rs {
		if !r.Ready && r.Seen.Kind == ports.OtherFamily {
			return fmt.Sprintf("nothing listens on %s, but %s answers: wait for localhost:%d (both addresses), or make the server listen on both (`homeport doctor %s` says how)",
				r.Target, r.Seen.Detail, r.Target.Port, r.Target)
		}
	}
	for _, r := range rs {
		if !r.Ready && r.Seen.Kind == ports.Refused && (r.Target.Host == "" || ports.IsLocalhost(r.Target.Host)) {
			return fmt.Sprintf("nothing listens there; see what does with 'homeport ports', or wait longer with --timeout %s", opts.Timeout*2)
		}
	}
	return fmt.Sprintf("wait longer with --timeout %s", opts.Timeout*2)
}

// spin shows the pending targets on a terminal until the returned func is
// called; it then clears its line.
func spin(o *IO, w *ports.Waiter, start time.Time, untilFree bool) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				fmt.Fprint(o.Err, "\r\x1b[K")
				return
			case <-t.C:
			}
			var pending []string
			for _, r := range w.Results() {
				if !r.Ready {
					pending = append(pending, fmt.Sprintf("%s (%s)", r.Target, r.Summary()))
				}
			}
			verb := "waiting for"
			if untilFree {
				verb = "waiting for the end of"
			}
			line := fmt.Sprintf("%s %s %s  %s", frames[i%len(frames)], verb, strings.Join(pending, ", "),
				time.Since(start).Truncate(100*time.Millisecond))
			// One line that fits the terminal: a line that wraps leaves its
			// first half behind when \r redraws.
			fmt.Fprint(o.Err, "\r\x1b[K"+truncate(line, widthOf(o.Err)-1))
		}
	}()
	return func() { close(done); <-finished }
}

// runAfterWait runs the command given after --, and returns its exit status
// as homeport's. When homeport's standard streams are its own (the real
// command line), it replaces itself with the command (execve), as
// wait-for-it.sh does with exec "$@": signals, job control and the exit
// status are then the command's own, with no homeport in between. Otherwise
// (tests, or where the OS has no exec) it runs the command as a child.
func runAfterWait(opts *WaitOptions) error {
	path, err := exec.LookPath(opts.Command[0])
	if err != nil {
		code := exitWaitCannotRun
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = exitWaitNotFound
		}
		return &ExitError{Code: code, Msg: fmt.Sprintf("cannot run %s: %v", opts.Command[0], err), Err: err,
			Hint: "the targets were ready; check the command after --"}
	}
	if opts.IO.In == os.Stdin && opts.IO.Out == os.Stdout && opts.IO.Err == os.Stderr {
		// Exec returns only when it failed (always on Windows); then the
		// command runs as a child below.
		_ = syscall.Exec(path, opts.Command, os.Environ())
	}
	cmd := exec.Command(path, opts.Command[1:]...)
	cmd.Args[0] = opts.Command[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.IO.In, opts.IO.Out, opts.IO.Err
	err = cmd.Run()
	if err == nil {
		return nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code := exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return silent(code)
	}
	return &ExitError{Code: exitWaitCannotRun, Msg: fmt.Sprintf("cannot run %s: %v", opts.Command[0], err), Err: err,
		Hint: "the targets were ready; check the command after --"}
}

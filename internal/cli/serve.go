package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"

	"homeport/internal/httpguard"
	"homeport/internal/ports"
	"homeport/internal/serve"
	"homeport/internal/sockets"
)

// ServeOptions are the flags of `homeport serve`.
type ServeOptions struct {
	IO      *IO
	Factory *Factory

	Dir        string
	Port       int
	Hosts      []string
	AllowHosts []string
	LAN        bool
	StrictPort bool
	SPA        bool
	Live       bool
	Dotfiles   bool
	CORS       string
	Auth       string
	NoAuth     bool

	// LANAddr finds the LAN address for --lan; tests replace it.
	LANAddr func() (netip.Addr, string, error)
	// Ready, when set, is called with the URLs once the server listens.
	Ready func(urls []string)
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// after the first signal.
	ShutdownTimeout time.Duration
	// Reserved tells which ports the OS keeps from programs (Windows'
	// excluded ranges) and its dynamic range; nil: ports.SystemReserved().
	Reserved ports.ReservedRanges
}

// NewCmdServe builds `homeport serve [DIR]`.
func NewCmdServe(f *Factory, runF func(*ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: f.IO, Factory: f, LANAddr: serve.LANAddr, ShutdownTimeout: 30 * time.Second}
	cmd := &cobra.Command{
		Use:   "serve [DIR]",
		Short: "Serve a folder on http://127.0.0.1:62893",
		Long: `Serve a folder (the current one by default) over HTTP for development, on
127.0.0.1 and [::1] port 62893. If the port is taken, serve says by whom and
moves to the next free port; --strict-port fails instead.

Files are served with index.html for folders, a listing otherwise (JSON for
Accept: application/json), Range requests, ETag/Last-Modified revalidation,
precompressed .br/.gz siblings, gzip for text, and Cache-Control: no-cache.

Security: only files inside DIR are served (symlinks that leave it are 404),
dotfiles (.git, .env) are hidden unless --dotfiles, requests whose Host is not
localhost, *.localhost or a loopback address get 403 (DNS rebinding) unless
--allow-host names them, and nothing listens beyond loopback unless --lan,
which requires --auth (or --no-auth).

The URLs go to stdout, the request log to stderr. Ctrl+C finishes the requests
in flight and exits 0; a second Ctrl+C exits at once.`,
		Example: `  homeport serve                     # this folder on http://127.0.0.1:62893
  homeport serve dist --spa --live   # a single-page app, reloading on save
  homeport serve --port 0            # any free port
  homeport serve --allow-host myapp.test   # a name of your own in /etc/hosts
  homeport serve --lan --auth me:pw  # also on the LAN address, with a QR code`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("serve takes one folder, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = "."
			if len(args) == 1 {
				opts.Dir = args[0]
			}
			// A password on the command line shows in ps; the environment
			// does not.
			if opts.Auth == "" {
				opts.Auth = os.Getenv("HOMEPORT_AUTH")
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&opts.Port, "port", "p", serve.DefaultPort, "port to listen on (0: any free port)")
	fl.StringSliceVar(&opts.Hosts, "host", nil, "loopback address to listen on, repeatable (default 127.0.0.1 and ::1)")
	fl.StringArrayVar(&opts.AllowHosts, "allow-host", nil, "also answer requests whose Host is NAME (a name in /etc/hosts, a proxy's name), repeatable")
	fl.BoolVar(&opts.LAN, "lan", false, "also listen on this machine's LAN address, and print a QR code")
	fl.BoolVar(&opts.StrictPort, "strict-port", false, "fail if the port is taken instead of moving to the next free one")
	fl.BoolVar(&opts.SPA, "spa", false, "answer unknown paths without an extension with /index.html")
	fl.BoolVar(&opts.Live, "live", false, "reload open pages when a file changes (CSS is swapped in place)")
	fl.BoolVar(&opts.Dotfiles, "dotfiles", false, "serve files whose name starts with a dot (.env, .git)")
	fl.StringVar(&opts.CORS, "cors", "", "send Access-Control-Allow-Origin: ORIGIN (\"*\" for any)")
	fl.StringVar(&opts.Auth, "auth", "", "require HTTP basic auth as user:password (or set HOMEPORT_AUTH, which ps does not show)")
	fl.BoolVar(&opts.NoAuth, "no-auth", false, "allow --lan without --auth: anyone on the network can read the folder")
	return cmd
}

func (o *ServeOptions) validate() error {
	if o.Port < 0 || o.Port > 65535 {
		return usageErrorf("--port %d is not a port (0-65535)", o.Port)
	}
	for _, h := range o.Hosts {
		a, err := netip.ParseAddr(strings.Trim(h, "[]"))
		if h == "localhost" {
			continue
		}
		if err != nil || !a.IsLoopback() {
			return &ExitError{Code: exitUsage, Msg: fmt.Sprintf("--host %s is not a loopback address", h),
				Hint: "serve listens beyond loopback only with --lan: homeport serve --lan --auth user:password"}
		}
	}
	for _, h := range o.AllowHosts {
		if !httpguard.NewHosts(h).Allowed(h) || strings.ContainsAny(h, "*/") {
			return usageErrorf("--allow-host %q is not a host name or address", h)
		}
	}
	if o.Auth != "" {
		if u, p, ok := strings.Cut(o.Auth, ":"); !ok || u == "" || p == "" {
			return usageErrorf("--auth wants user:password, got %q", o.Auth)
		}
	}
	if o.LAN && o.Auth == "" && !o.NoAuth {
		return &ExitError{Code: exitUsage, Msg: "--lan makes the folder reachable from your network, so it needs --auth",
			Hint: "homeport serve --lan --auth user:password (or --no-auth to let anyone on the network read it)"}
	}
	if o.Auth != "" && o.NoAuth {
		return usageErrorf("--auth and --no-auth contradict each other")
	}
	fi, err := os.Stat(o.Dir)
	if err != nil {
		return &ExitError{Code: exitUsage, Msg: fmt.Sprintf("cannot serve %s: %v", o.Dir, unwrapPathError(err)),
			Hint: "give an existing folder: homeport serve ./dist"}
	}
	if !fi.IsDir() {
		return &ExitError{Code: exitUsage, Msg: fmt.Sprintf("%s is a file, not a folder", o.Dir),
			Hint: fmt.Sprintf("serve its folder: homeport serve %s", filepath.Dir(o.Dir))}
	}
	return nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	stderr := opts.IO.Err
	hosts := opts.Hosts
	if len(hosts) == 0 {
		hosts = ports.LoopbackHosts
	}
	hosts = expandLocalhost(hosts)
	allow := httpguard.NewHosts(opts.AllowHosts...)
	var lanURLHost string
	if opts.LAN {
		addr, _, err := opts.LANAddr()
		if err != nil {
			return &ExitError{Code: exitFailure, Msg: fmt.Sprintf("--lan: %v", err),
				Hint: "serve on loopback only: homeport serve"}
		}
		hosts = append(hosts, addr.String())
		allow.Add(addr.String())
		lanURLHost = addr.String()
	}

	run, err := serve.Start(ctx, serve.Options{
		Dir: opts.Dir, Dotfiles: opts.Dotfiles, SPA: opts.SPA, Live: opts.Live,
		CORS: opts.CORS, Auth: opts.Auth, Hosts: allow, Log: stderr,
	}, listenOptions(opts, hosts))
	if err != nil {
		return startError(stderr, opts, err)
	}
	printPassed(stderr, run.Passed, run.Port)
	for _, h := range run.Absent {
		fmt.Fprintf(stderr, "homeport: note: %s is not available on this machine; not listening there\n", h)
	}
	lns, port := run.Listeners, run.Port

	// The URLs are the data: stdout. localhost first, the one to click.
	urls := []string{fmt.Sprintf("http://localhost:%d/", port)}
	for _, ln := range lns {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && lanURLHost != "" && a.IP.String() == lanURLHost {
			continue // printed below, with its warning
		}
		if u := fmt.Sprintf("http://%s/", ln.Addr()); !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	abs, _ := filepath.Abs(opts.Dir)
	var modes []string
	for _, m := range []struct {
		on   bool
		name string
	}{{opts.Live, "live reload"}, {opts.SPA, "spa"}, {opts.Dotfiles, "dotfiles"}, {opts.CORS != "", "cors " + opts.CORS}, {opts.Auth != "", "basic auth"},
		{len(opts.AllowHosts) > 0, "also answering Host " + strings.Join(opts.AllowHosts, ", ")}} {
		if m.on {
			modes = append(modes, m.name)
		}
	}
	note := ""
	if len(modes) > 0 {
		note = " (" + strings.Join(modes, ", ") + ")"
	}
	fmt.Fprintf(stderr, "homeport: serving %s%s on\n", abs, note)
	for _, u := range urls {
		fmt.Fprintln(opts.IO.Out, u)
	}
	if lanURLHost != "" {
		lanURL := fmt.Sprintf("http://%s/", net.JoinHostPort(lanURLHost, strconv.Itoa(port)))
		fmt.Fprintln(opts.IO.Out, lanURL)
		printQR(stderr, lanURL)
		warn := fmt.Sprintf("homeport: warning: %s is reachable by anyone on your network at %s", abs, lanURL)
		if opts.NoAuth {
			warn += ", without a password"
		}
		if _, noColor := os.LookupEnv("NO_COLOR"); opts.IO.ErrTTY && !noColor {
			warn = styleAmber + warn + styleReset
		}
		fmt.Fprintln(stderr, warn)
	}
	fmt.Fprintln(stderr, "homeport: press Ctrl+C to stop")
	if opts.Ready != nil {
		opts.Ready(urls)
	}

	select {
	case err := <-run.Err():
		run.Close()
		return &ExitError{Code: exitFailure, Msg: fmt.Sprintf("serving: %v", err)}
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "homeport: shutting down, finishing requests in flight (Ctrl+C again to stop at once)")
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	if err := run.Shutdown(sctx); err != nil {
		return &ExitError{Code: exitFailure, Msg: fmt.Sprintf("requests still running after %v were cut off", opts.ShutdownTimeout)}
	}
	return nil
}

// expandLocalhost turns --host localhost into both loopbacks.
func expandLocalhost(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if h == "localhost" {
			for _, d := range ports.LoopbackHosts {
				if !slices.Contains(out, d) {
					out = append(out, d)
				}
			}
			continue
		}
		h = strings.Trim(h, "[]")
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// listenOptions is serve's port policy: the port asked for on every host,
// moving to the next free one unless --strict-port.
func listenOptions(opts *ServeOptions, hosts []string) ports.ListenOptions {
	lo := ports.ListenOptions{Hosts: hosts, Port: opts.Port, Move: !opts.StrictPort, Reserved: opts.Reserved}
	if opts.Factory != nil && opts.Factory.Take != nil {
		lo.Inventory = opts.Factory.Take
	} else {
		lo.Inventory = func(context.Context, sockets.Filter) (*sockets.Snapshot, error) { return nil, sockets.ErrNotSupported }
	}
	return lo
}

// startError renders what kept serve from starting.
func startError(stderr io.Writer, opts *ServeOptions, err error) error {
	var pe *ports.PortError
	var oe *net.OpError
	switch {
	case errors.As(err, &pe):
		printPassed(stderr, pe.Passed, pe.Port)
		return portExitError(pe)
	case errors.As(err, &oe):
		return &ExitError{Code: exitFailure, Msg: fmt.Sprintf("cannot listen on port %d: %v", opts.Port, err)}
	}
	return &ExitError{Code: exitFailure, Msg: fmt.Sprintf("cannot serve %s: %v", opts.Dir, err)}
}

// printPassed says why each passed port was left, and which port came next.
func printPassed(w io.Writer, passed []ports.Refusal, last int) {
	for i, r := range passed {
		next := last
		if i+1 < len(passed) {
			next = passed[i+1].Port
		}
		if r.Dynamic != (ports.Range{}) {
			fmt.Fprintf(w, "homeport: note: %s\n", ports.ExplainDynamic(uint16(r.Port), r.Dynamic))
		}
		fmt.Fprintf(w, "homeport: %s; trying %d\n", r, next)
	}
}

// portExitError renders a port serve could not have, with what to do.
func portExitError(pe *ports.PortError) *ExitError {
	switch {
	case pe.Exhausted:
		return &ExitError{Code: exitFailure, Msg: pe.Error(), Hint: "pick any free port: homeport serve --port 0"}
	case pe.Kind == ports.Excluded:
		return &ExitError{Code: exitFailure, Msg: pe.String(),
			Hint: "pick a port outside it: homeport serve --port 0, or a port from `homeport free`, which skips excluded ranges"}
	case pe.Dynamic != (ports.Range{}):
		return &ExitError{Code: exitFailure, Msg: pe.String(),
			Hint: ports.ExplainDynamic(uint16(pe.Port), pe.Dynamic) + "; try again in a moment, or pick another with --port 0"}
	}
	return &ExitError{Code: exitFailure, Msg: pe.String(),
		Hint: fmt.Sprintf("free it with `homeport kill %d` or pick another with --port 0", pe.Port)}
}

// printQR draws url as a QR code with half-block characters, for a phone.
func printQR(w io.Writer, url string) {
	q, err := qrcode.New(url, qrcode.Low)
	if err != nil {
		return
	}
	fmt.Fprint(w, q.ToSmallString(false))
}

package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/origin"
	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// PortsOptions are the flags of `homeport ports`.
type PortsOptions struct {
	IO      *IO
	Factory *Factory

	Ports    []int
	PIDs     []int
	Process  string
	User     string
	Exposed  bool
	TCP      bool
	UDP      bool
	All      bool
	NoOwners bool
	JSON     bool
	Verbose  bool
	// Watch keeps listing: the listeners now, then each change.
	Watch    bool
	Interval time.Duration

	Now func() time.Time
}

// NewCmdPorts builds `homeport ports`. runF, when not nil, replaces the run
// function (tests of flag parsing).
func NewCmdPorts(f *Factory, runF func(*PortsOptions) error) *cobra.Command {
	opts := &PortsOptions{Interval: time.Second, IO: f.IO, Factory: f, Now: time.Now}
	var portArgs []string
	cmd := &cobra.Command{
		Use:     "ports",
		Aliases: []string{"ls", "list"},
		Short:   "List listening sockets with their process and exposure",
		Long: `List the sockets listening on this machine, sorted by port: protocol, address,
who can reach it (loopback only, all interfaces, or one address; an IPv6
wildcard that also takes IPv4 is marked v4+v6), the port's class, and the
process(es) holding it.

A terminal gets an aligned table; a pipe gets tab-separated columns without a
header; --json prints an array of objects with stable field names.

--watch keeps going: it prints the listeners, then a line for each change as
it happens, "+" for a new socket, "-" for one that closed, "~" for a new
owner; with --json, one object a line: {"event":"open","socket":{...}}, the
event "listening" for the sockets there at the start, then "open", "close"
and "change" (with "previous").`,
		Example: `  homeport ports                  # every TCP and UDP listener
  homeport ports --exposed        # only those other machines may reach
  homeport ports --port 5432      # who listens on 5432
  homeport ports --process node   # what node listens on
  homeport ports --all --tcp      # every TCP socket, connections too
  homeport ports --json | jq '.[] | select(.exposure != "loopback")'
  homeport ports --watch --exposed  # say when a listener appears on the network
  homeport ports --watch --json | jq -c 'select(.event == "open")'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("port") {
				opts.Ports = opts.Ports[:0]
				for _, a := range portArgs {
					p, err := ports.ParsePort(strings.TrimSpace(a))
					if err != nil {
						return &ExitError{Code: exitUsage, Msg: "--port: " + err.Error(),
							Hint: "for example: homeport ports --port 5432, or several: --port 3000,5173"}
					}
					opts.Ports = append(opts.Ports, int(p))
				}
			}

			for _, p := range opts.PIDs {
				if p < 1 {
					return usageErrorf("--pid %d is not a process id", p)
				}
			}
			if cmd.Flags().Changed("interval") && !opts.Watch {
				return usageErrorf("--interval goes with --watch")
			}
			if runF != nil {
				return runF(opts)
			}
			if opts.Watch {
				return portsWatch(cmd.Context(), opts)
			}
			return portsRun(cmd, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&portArgs, "port", "p", nil, "only these local `port`s (repeat or comma-separate)")
	fl.IntSliceVar(&opts.PIDs, "pid", nil, "only sockets held by these process `id`s")
	fl.StringVar(&opts.Process, "process", "", "only processes whose `name` or command contains this (case-insensitive)")
	fl.StringVarP(&opts.User, "user", "u", "", "only sockets of this user (`name` or uid)")
	fl.BoolVarP(&opts.Exposed, "exposed", "x", false, "only sockets not bound to loopback")
	fl.BoolVarP(&opts.TCP, "tcp", "t", false, "TCP only")
	fl.BoolVarP(&opts.UDP, "udp", "U", false, "UDP only")
	fl.BoolVarP(&opts.All, "all", "a", false, "sockets in every state, not only listeners")
	fl.BoolVar(&opts.NoOwners, "no-owner", false, "skip finding owning processes (much faster)")
	fl.BoolVar(&opts.JSON, "json", false, "print JSON")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "say where the sockets were read from")
	fl.BoolVarP(&opts.Watch, "watch", "w", false, "keep watching: print each socket that opens, closes or changes owner")
	fl.Var(durationFlag{&opts.Interval}, "interval", "with --watch, how often to look")
	return cmd
}

// filter is the inventory filter the flags ask for.
func (opts *PortsOptions) filter() sockets.Filter {
	filter := sockets.Filter{TCP: opts.TCP, UDP: opts.UDP, All: opts.All, PIDs: opts.PIDs,
		Exposed: opts.Exposed, User: opts.User, Process: opts.Process,
		NoOwners: opts.NoOwners && opts.Process == ""}
	for _, p := range opts.Ports {
		filter.Ports = append(filter.Ports, uint16(p))
	}
	if len(filter.Ports) == 1 {
		filter.Port = filter.Ports[0] // the backend reads that one port only
	}
	return filter
}

func portsRun(cmd *cobra.Command, opts *PortsOptions) error {
	shortLived()
	filter := opts.filter()
	// Where owners come from, and the ports containers publish with no
	// listener here; not with --no-owner, which is for speed. The
	// container engines are asked while the inventory is read.
	var attr *origin.Attribution
	if !filter.NoOwners {
		attr = opts.Factory.attribution(cmd.Context())
		defer attr.Wait()
	}
	snap, err := opts.Factory.Take(cmd.Context(), filter)
	if err != nil {
		return inventoryError(err)
	}
	if opts.Verbose {
		fmt.Fprintf(opts.IO.Err, "homeport: sockets from %s\n", snap.Source)
		if snap.Fallback != nil {
			fmt.Fprintf(opts.IO.Err, "homeport: %v\n", snap.Fallback)
		}
	}
	socks := snap.Sockets
	if len(socks) == 0 && opts.User != "" {
		// Nothing of that user: say so when there is no such user.
		if err := checkUser(opts.User); err != nil {
			return err
		}
	}
	var published []origin.Published
	if attr != nil {
		published = filterPublished(attr.Unlisted(snap.Sockets, filter), opts)
	}
	if opts.JSON {
		out := toJSONSockets(socks, attr, published)
		slices.SortStableFunc(out, func(a, b jsonSocket) int { return int(a.Port) - int(b.Port) })
		if err := writeJSON(opts.IO.Out, out); err != nil {
			return err
		}
	} else {
		rows := socks
		var forwarded map[string]bool
		if len(published) > 0 {
			rows = slices.Clone(socks)
			forwarded = map[string]bool{}
			for _, p := range published {
				rows = append(rows, p.Socket)
				forwarded[string(p.Socket.Proto)+" "+p.Socket.Local.String()] = true
			}
			sockets.Sort(rows)
		}
		if err := printSocketTable(opts.IO, rows, opts.All, !filter.NoOwners, opts.Now(), attr, forwarded); err != nil {
			return err
		}
		if len(socks) == 0 && opts.IO.OutTTY {
			fmt.Fprintln(opts.IO.Err, "homeport: no sockets match")
		}
	}
	// As root, what stays hidden (another PID namespace's processes)
	// sudo would not show.
	if snap.Hidden > 0 && !filter.NoOwners && os.Geteuid() != 0 {
		fmt.Fprintln(opts.IO.Err, "homeport: some owners are hidden; run with sudo to see them")
	}
	if attr != nil {
		if n := attr.Note(); n != nil {
			fmt.Fprintf(opts.IO.Err, "homeport: %s\nhomeport: hint: %s\n", n.Reason(), n.Hint())
		}
	}
	return nil
}

// filterPublished applies ports' filters to the ports containers publish
// without a listener: they have no owner and no user, so --pid, --process
// and --user leave none.
func filterPublished(pub []origin.Published, opts *PortsOptions) []origin.Published {
	if len(opts.PIDs) > 0 || opts.Process != "" || opts.User != "" {
		return nil
	}
	return slices.DeleteFunc(pub, func(p origin.Published) bool {
		return len(opts.Ports) > 1 && !slices.Contains(opts.Ports, int(p.Socket.Port())) ||
			opts.Exposed && !p.Socket.Exposed()
	})
}

// inventoryError explains a failed inventory.
func inventoryError(err error) error {
	if errors.Is(err, sockets.ErrNotSupported) {
		return &ExitError{Code: exitInternal, Msg: err.Error(), Err: err,
			Hint: "homeport reads sockets on Linux, Windows and macOS"}
	}
	return &ExitError{Code: exitInternal, Msg: "could not list sockets: " + err.Error(), Err: err,
		Hint: "run 'homeport ports --verbose' to see which source failed"}
}

// checkUser refuses a --user that names nobody on this system, with the
// name that was probably meant: "no sockets match" would hide the typo.
func checkUser(name string) error {
	_, err := procs.LookupUID(name)
	var unknown *procs.UnknownUserError
	switch {
	case errors.As(err, &unknown) && unknown.Closest != "":
		return &ExitError{Code: exitUsage, Msg: "--user: " + err.Error(), Err: err,
			Hint: fmt.Sprintf("did you mean 'homeport ports --user %s'?", unknown.Closest)}
	case errors.As(err, &unknown):
		return &ExitError{Code: exitUsage, Msg: "--user: " + err.Error(), Err: err,
			Hint: "give a user name or a uid; 'homeport ports' shows the users of every socket"}
	}
	// Any other error is a user database that could not be read: filter
	// by the name as given rather than refuse.
	return nil
}

// fromMinWidth is the narrowest terminal that gets the FROM column.
const fromMinWidth = 100

// printSocketTable prints sockets as the `ports` table.
// attr, when not nil, fills the FROM column: the container, project or
// service each row comes from; forwarded ("tcp 127.0.0.1:8080") are the
// rows of published ports no socket holds.
func printSocketTable(o *IO, socks []sockets.Socket, all, owners bool, now time.Time, attr *origin.Attribution, forwarded map[string]bool) error {
	if o.OutTTY && o.Width > 0 && o.Width < fromMinWidth {
		// A narrow terminal keeps its room for the command line; who
		// tells where each owner comes from.
		attr = nil
	}
	header := []string{"PROTO"}
	if all {
		header = append(header, "STATE")
	}
	header = append(header, "ADDRESS", "EXPOSURE", "CLASS")
	if all {
		header = append(header, "PEER")
	}
	if owners {
		header = append(header, "PID", "PROCESS", "USER", "UP")
		if attr != nil {
			header = append(header, "FROM")
		}
		header = append(header, "COMMAND")
	} else {
		header = append(header, "USER")
	}
	t := newTable(o, header...)
	r := make([]cell, 0, len(header))
	for i := range socks {
		s := &socks[i]
		r = append(r[:0], cell{text: string(s.Proto)})
		if all {
			r = append(r, cell{text: s.State.String()})
		}
		r = append(r,
			cell{text: sockets.FormatAddr(s.Local)},
			cell{text: exposureText(s), style: exposureStyle(s)},
			cell{text: string(ports.ClassOf(s.Port()))},
		)
		if all {
			peer := "*"
			if s.Remote.Port() != 0 {
				peer = s.Remote.String()
			}
			r = append(r, cell{text: peer})
		}
		if owners {
			up := ""
			if len(s.Owners) > 0 && !s.Owners[0].Start.IsZero() {
				up = upText(now.Sub(s.Owners[0].Start))
			}
			// On a terminal, the table cuts the command to its width.
			r = append(r, cell{text: pidsText(s)}, cell{text: namesText(s), style: styleBold},
				cell{text: userOf(s)}, cell{text: up})
			if attr != nil {
				r = append(r, cell{text: fromText(attr, s)})
			}
			cmd := commandText(s)
			if len(forwarded) > 0 && forwarded[string(s.Proto)+" "+s.Local.String()] {
				// A published port without a socket: no process holds
				// it, the kernel forwards it.
				cmd = "(forwarded by the kernel)"
			}
			r = append(r, cell{text: cmd})
		} else {
			r = append(r, cell{text: userOf(s)})
		}
		t.row(r...)
	}
	return t.flush()
}

package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/ports"
)

// FreeOptions are the flags of `homeport free`.
type FreeOptions struct {
	IO     *IO
	Ranges []ports.Range // empty: the default ranges
	Name   string
	Count  int
	Hold   time.Duration // how long a printed port is held; 0: not at all
	JSON   bool

	// Holder is whose exit ends the hold: the program that ran
	// homeport (its parent).
	Holder ports.Holder

	// Reserved tells which ports the OS keeps to itself (Windows' excluded
	// ranges): free never prints one. nil: ports.SystemReserved().
	Reserved ports.ReservedRanges
}

// NewCmdFree builds `homeport free`.
func NewCmdFree(f *Factory, runF func(*FreeOptions) error) *cobra.Command {
	opts := &FreeOptions{IO: f.IO, Count: 1, Hold: ports.DefaultTTL, Reserved: ports.SystemReserved()}
	var rangeFlag string
	cmd := &cobra.Command{
		Use:   "free",
		Short: "Print a free TCP port",
		Long: `Print a TCP port that nothing uses: one that can be bound on 127.0.0.1,
0.0.0.0, ::1 and [::] alike (a port held on [::1] only is not free).

By default the port is a registered one (1024-49151) outside the kernel's
ephemeral range, from which outgoing connections take their local ports; on
Linux that is 1024-32767. --range picks elsewhere, as given, even inside the
ephemeral range: --range 3000-3999, --range dynamic (49152-65535), or several
ranges separated by commas. On Windows, the dynamic range is read from netsh,
and ports in the ranges Windows excludes (Hyper-V, WSL 2, WinNAT, Docker;
'netsh int ipv4 show excludedportrange protocol=tcp') are never printed.

--name gives a stable port for a name: the name hashes to a port of the range,
and the next free one is taken when that one is busy. 'homeport free --name
api' says the same every day, as long as the port stays free.

Holds: so that test runs started side by side never get the same port, each
printed port is held for --hold (default 30s), or until the program that ran
homeport exits, whichever comes first. The hold is a lock file
per port in $XDG_RUNTIME_DIR/homeport/ports (or <tmp>/homeport-<uid>/ports);
it only keeps other 'homeport free' calls away, not other programs. A name's
hold does not keep the same name away. --hold 0 holds nothing.

Exit status: 0 printed, 1 nothing free in the range, 2 bad input.`,
		Example: `  homeport free
  homeport free --name api
  homeport free --count 3 --range 8000-8999
  PORT=$(homeport free) npm start`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if rangeFlag != "" {
				opts.Ranges = opts.Ranges[:0]
				for _, part := range strings.Split(rangeFlag, ",") {
					r, err := ports.ParseRange(strings.TrimSpace(part))
					if err != nil {
						return &ExitError{Code: exitUsage, Msg: "--range: " + err.Error(),
							Hint: "for example: homeport free --range 3000-3999"}
					}
					opts.Ranges = append(opts.Ranges, r)
				}
			}
			if opts.Count < 1 || opts.Count > 1000 {
				return usageErrorf("--count %d: give a number from 1 to 1000", opts.Count)
			}
			if opts.Hold > 0 {
				opts.Holder = ports.CurrentHolder(os.Getppid())
			}
			if runF != nil {
				return runF(opts)
			}
			return freeRun(opts)
		},
	}
	cmd.Flags().StringVar(&rangeFlag, "range", "", "where to look: A-B, dynamic, or several separated by commas (default registered ports outside the ephemeral range)")
	cmd.Flags().StringVar(&opts.Name, "name", "", "give the same port for the same name every time")
	cmd.Flags().IntVarP(&opts.Count, "count", "c", 1, "how many distinct ports to print")
	cmd.Flags().Var(durationFlag{&opts.Hold}, "hold", "how long to keep a printed port from other 'homeport free' calls (0: not at all)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON array of ports")
	return cmd
}

func freeRun(opts *FreeOptions) error {
	fo := ports.FreeOptions{Ranges: opts.Ranges, Name: opts.Name, Count: opts.Count, Reserved: opts.Reserved}
	if opts.Hold > 0 {
		res, err := ports.NewHolds(opts.Hold, opts.Holder)
		if err != nil {
			// The port is still free; only parallel callers lose their
			// guarantee. Say so and go on.
			fmt.Fprintf(opts.IO.Err, "homeport: warning: ports are not held: %v\n", err)
		} else {
			fo.Holds = res
		}
	}
	got, err := ports.Free(fo)
	if err != nil {
		if errors.Is(err, ports.ErrNoFreePort) {
			where := "the default range"
			if len(opts.Ranges) > 0 {
				where = ports.RangesString(opts.Ranges)
			}
			return &ExitError{Code: exitFailure, Msg: err.Error(),
				Hint: fmt.Sprintf("every port of %s is taken or held; see what holds them with 'homeport ports', or widen it: homeport free --range dynamic", where)}
		}
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, got)
	}
	for _, p := range got {
		fmt.Fprintln(opts.IO.Out, p)
	}
	return nil
}

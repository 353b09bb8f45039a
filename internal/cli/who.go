package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// WhoOptions are the flags of `homeport who`.
type WhoOptions struct {
	IO      *IO
	Factory *Factory
	Targets []ports.Target
	JSON    bool
	Now     func() time.Time
	// Resolver looks up host names that are not localhost or IP literals;
	// nil: the system's.
	Resolver ports.Resolver
	// Notes explains owners that are not ordinary processes; nil: this
	// system's (SystemOwnerNotes).
	Notes *OwnerNotes
}

// NewCmdWho builds `homeport who TARGET...`.
func NewCmdWho(f *Factory, runF func(*WhoOptions) error) *cobra.Command {
	opts := &WhoOptions{IO: f.IO, Factory: f, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "who TARGET...",
		Short: "Tell which process holds a port",
		Long: `Tell which process listens on a port, in a sentence: the process, its pid and
user, the addresses it listens on and who can reach them, since when, and its
command line.

TARGET is a port (3000, :3000), or an address and port (localhost:3000,
127.0.0.1:3000, [::1]:3000); with an address, only listeners that accept
connections to that address count. localhost means 127.0.0.1 and ::1, as
browsers have it (RFC 6761). A port means TCP and UDP alike; 53/tcp or 53/udp
asks for one.

On Windows, owners that are not ordinary processes are explained with what
to do instead: System (pid 4), which holds ports such as 80 and 443 for
http.sys, and an owner that has exited while a child that inherited its
socket still holds it.

Exit status: 0 when every target is held, 1 when one is not, 2 on bad input.`,
		Example: `  homeport who 3000
  homeport who localhost:5173 [::1]:8080
  homeport who 53/udp
  homeport who 62893 --json`,
		Args: minArgs(1, "a port, like 3000 or localhost:3000"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Targets = opts.Targets[:0]
			for _, a := range args {
				t, err := ports.ParseTarget(a)
				if err != nil {
					return usageErrorf("%v", err)
				}
				opts.Targets = append(opts.Targets, t)
			}
			if runF != nil {
				return runF(opts)
			}
			return whoRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

type whoJSON struct {
	Target  string       `json:"target"`
	Held    bool         `json:"held"`
	Sockets []jsonSocket `json:"sockets"`
	// Notes explain owners that are not ordinary processes (Windows'
	// System, an owner that has exited).
	Notes []noteJSON `json:"notes,omitempty"`
}

type noteJSON struct {
	PID    int    `json:"pid"`
	Reason string `json:"reason"`
	Hint   string `json:"hint,omitempty"`
}

func whoRun(ctx context.Context, opts *WhoOptions) error {
	shortLived()
	notes := ownerNotes(opts.Notes)
	var results []whoJSON
	allHeld := true
	hidden := false
	for _, t := range opts.Targets {
		h, err := whoHolders(ctx, opts, t)
		if err != nil {
			return err
		}
		// Unreadable processes matter when a socket shows no owner; as
		// root, sudo would not show more.
		if h.Hidden > 0 && notes.EUID != 0 && slices.ContainsFunc(h.Sockets, func(s sockets.Socket) bool { return len(s.Owners) == 0 }) {
			hidden = true
		}
		explained := explainOwners(notes, t.Port, h.Sockets)
		res := whoJSON{Target: t.String(), Held: h.Held(), Sockets: toJSONSockets(h.Sockets)}
		for _, pid := range sortedPIDs(explained) {
			n := explained[pid]
			res.Notes = append(res.Notes, noteJSON{PID: pid, Reason: n.Reason, Hint: n.Hint})
		}
		results = append(results, res)
		if !h.Held() {
			allHeld = false
		}
		if opts.JSON {
			continue
		}
		if !h.Held() {
			fmt.Fprintln(opts.IO.Out, nothingText(t, h.OnPort))
			continue
		}
		for _, line := range whoSentences(t, h.Sockets, opts.Now(), notes, explained) {
			fmt.Fprintln(opts.IO.Out, line)
		}
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, results); err != nil {
			return err
		}
	}
	// In text, each such socket's sentence says what shows its owner,
	// except on Windows.
	if hidden && (opts.JSON || notes.Windows) {
		how := "run with sudo to see them"
		if notes.Windows {
			how = "run from an elevated prompt (Run as administrator) to see them"
		}
		fmt.Fprintln(opts.IO.Err, "homeport: some owners are hidden; "+how)
	}
	if !allHeld {
		return silent(exitFailure)
	}
	return nil
}

// whoHolders is the one question who asks below the command line: what
// holds t.
func whoHolders(ctx context.Context, opts *WhoOptions, t ports.Target) (*ports.Holding, error) {
	h, err := ports.Holders(ctx, opts.Factory.Take, t, opts.Resolver)
	var re *ports.ResolveError
	switch {
	case errors.As(err, &re):
		return nil, &ExitError{Code: exitUsage, Msg: re.Error(), Err: err,
			Hint: fmt.Sprintf("ask about the port alone: homeport who %d", t.Port)}
	case err != nil:
		return nil, inventoryError(err)
	}
	return h, nil
}

func toJSONSockets(socks []sockets.Socket) []jsonSocket {
	out := make([]jsonSocket, len(socks))
	for i := range socks {
		out[i] = toJSONSocket(&socks[i])
	}
	return out
}

// nothingText says nothing listens, and where the port is held instead when
// the target named an address the listeners do not take.
func nothingText(t ports.Target, onPort []sockets.Socket) string {
	where := fmt.Sprintf("port %d", t.Port)
	if !t.AnyProto {
		where += "/" + t.Proto
	}
	if t.Host == "" || len(onPort) == 0 {
		return "nothing is listening on " + where
	}
	var addrs []string
	for i := range onPort {
		a := sockets.FormatAddr(onPort[i].Local)
		if onPort[i].Proto != sockets.TCP {
			a += "/" + string(onPort[i].Proto)
		}
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	return fmt.Sprintf("nothing is listening on %s for %s; %s is held on %s by %s",
		where, t.Host, where, strings.Join(addrs, ", "), namesText(&onPort[0]))
}

// explainOwners returns the notes on the owners of held that are not
// ordinary processes, by PID.
func explainOwners(notes *OwnerNotes, port uint16, held []sockets.Socket) map[int]procs.Note {
	var out map[int]procs.Note
	for i := range held {
		for _, p := range held[i].Owners {
			if _, done := out[p.PID]; done {
				continue
			}
			if n, ok := notes.note(p.PID, port); ok {
				if out == nil {
					out = map[int]procs.Note{}
				}
				out[p.PID] = n
			}
		}
	}
	return out
}

func sortedPIDs(m map[int]procs.Note) []int {
	pids := make([]int, 0, len(m))
	for pid := range m {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}

// whoSentences describes the holders of one target: one sentence per owner
// (or per group of sockets without a visible owner), each followed by the
// note on an owner that is not an ordinary process and what to do instead.
func whoSentences(t ports.Target, held []sockets.Socket, now time.Time, notes *OwnerNotes, explained map[int]procs.Note) []string {
	type group struct {
		key   string
		socks []*sockets.Socket
	}
	var groups []*group
	for i := range held {
		s := &held[i]
		key := string(s.Proto) + " " + pidsText(s)
		if len(s.Owners) == 0 {
			key += fmt.Sprintf(" uid%d", s.UID)
		}
		var g *group
		for _, x := range groups {
			if x.key == key {
				g = x
			}
		}
		if g == nil {
			g = &group{key: key}
			groups = append(groups, g)
		}
		g.socks = append(g.socks, s)
	}
	// One sentence per group; groups that differ only in protocol (dnsmasq
	// on TCP and UDP) share theirs: "53/tcp and 53/udp are held by ...".
	type sentence struct {
		protos []string
		body   string
		more   []string // hint and note lines
	}
	var said []*sentence
	for _, g := range groups {
		s := g.socks[0]
		var b strings.Builder
		hint := ""
		if len(s.Owners) == 0 {
			var who string
			who, hint = notes.unseen(s.UID, "homeport who "+t.String())
			b.WriteString(who)
		} else {
			p := s.Owners[0]
			name := p.Name
			if name == "" {
				// Windows names the PID of an owner that has exited,
				// and nothing else of it.
				name = "a process without a name"
				if _, ok := explained[p.PID]; ok {
					name = "a process that has exited"
				}
			}
			fmt.Fprintf(&b, "%s (pid %d", name, p.PID)
			if u := userOf(s); u != "" {
				fmt.Fprintf(&b, ", user %s", u)
			}
			if len(s.Owners) > 1 {
				var more []string
				for _, o := range s.Owners[1:] {
					more = append(more, fmt.Sprintf("%s %d", o.Name, o.PID))
				}
				fmt.Fprintf(&b, "; shared with %s", strings.Join(more, ", "))
			}
			b.WriteString(")")
		}
		b.WriteString(", listening on ")
		b.WriteString(listenText(g.socks))
		if len(s.Owners) > 0 {
			p := s.Owners[0]
			if since := sinceText(p.Start, now); since != "" {
				b.WriteString(", since ")
				b.WriteString(since)
			}
			// A noted owner (System, an exited one) has no command line
			// worth showing; its note follows.
			if _, noted := explained[p.PID]; !noted {
				if c := p.Command(); c != "" {
					b.WriteString(": ")
					b.WriteString(ttyCell.Replace(c))
				}
			}
		}
		sn := &sentence{protos: []string{fmt.Sprintf("%d/%s", t.Port, s.Proto)}, body: b.String()}
		if hint != "" {
			sn.more = append(sn.more, "  hint: "+hint)
		}
		for _, o := range s.Owners {
			if n, ok := explained[o.PID]; ok {
				sn.more = append(sn.more, "  "+n.Reason)
				if n.Hint != "" {
					sn.more = append(sn.more, "  hint: "+n.Hint)
				}
			}
		}
		if i := slices.IndexFunc(said, func(x *sentence) bool {
			return x.body == sn.body && slices.Equal(x.more, sn.more)
		}); i >= 0 {
			said[i].protos = append(said[i].protos, sn.protos...)
			continue
		}
		said = append(said, sn)
	}
	var lines []string
	for _, sn := range said {
		verb := " is held by "
		if len(sn.protos) > 1 {
			verb = " are held by "
		}
		lines = append(lines, strings.Join(sn.protos, " and ")+verb+sn.body)
		lines = append(lines, sn.more...)
	}
	return lines
}

// listenText describes the addresses of a group of sockets and who can reach
// them: "127.0.0.1 only", "127.0.0.1 and ::1 (loopback only)", "all
// interfaces: 0.0.0.0", "all interfaces: [::] (IPv4 and IPv6)", and for an
// IPv6-only wildcard that IPv4 clients are refused.
func listenText(socks []*sockets.Socket) string {
	// A v6-only [::] looks open to everything; say what a client on
	// 127.0.0.1 or the LAN's IPv4 address gets, unless another socket of
	// the group takes IPv4.
	v4wild := slices.ContainsFunc(socks, func(s *sockets.Socket) bool {
		return s.DualStack() || s.Local.Addr().Unmap().Is4()
	})
	var addrs []string
	loop := true
	for _, s := range socks {
		a := s.Local.Addr().String()
		switch {
		case s.DualStack():
			a = "[::] (IPv4 and IPv6)"
		case s.Local.Addr().Is6() && s.Exposure() == sockets.AllInterfaces:
			a = "[::] (IPv6 only)"
			if !v4wild {
				a = "[::] (IPv6 only: IPv4 clients are refused)"
			}
		}
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
		loop = loop && s.Exposure() == sockets.Loopback
	}
	list := strings.Join(addrs, " and ")
	switch {
	case loop && len(addrs) == 1:
		return list + " only"
	case loop:
		return list + " (loopback only)"
	}
	for _, s := range socks {
		if s.Exposure() == sockets.AllInterfaces {
			return "all interfaces: " + list
		}
	}
	return list
}

package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"homeport/internal/api"
	"homeport/internal/sockets"
	"homeport/internal/watch"
)

// jsonEvent is one line of `ports --watch --json`: the daemon's event
// (api.Event, whose "event" is also "listening" here for the sockets there
// at the start) with the time of the inventory that saw it. Field names are
// documented in README.md.
type jsonEvent struct {
	api.Event
	At time.Time `json:"at"`
}

// portsWatch prints the listeners, then each change, until Ctrl-C or until
// the reader of the pipe goes away (`| head -3`), which ends it quietly.
func portsWatch(ctx context.Context, opts *PortsOptions) error {
	// Without this, a write into a closed pipe kills the process with
	// SIGPIPE; with it, the write returns EPIPE and the stream ends.
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)

	if opts.User != "" {
		if err := checkUser(opts.User); err != nil {
			return err
		}
	}
	filter := opts.filter()
	// The poller's own sockets.Tracker, not Factory.Take: it keeps the
	// owners it found between polls instead of reading every process's
	// files each time.
	p := watch.New(watch.Options{Interval: opts.Interval, Filter: filter})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var left atomic.Bool
	if gone := readerGone(opts.IO.Out); gone != nil {
		go func() {
			select {
			case <-gone:
				left.Store(true)
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	w := &watchWriter{io: opts.IO, out: bufio.NewWriter(opts.IO.Out), json: opts.JSON, owners: !filter.NoOwners}
	err := p.Stream(ctx, watch.StreamOptions{
		Keep:  filter.Match, // the poller's tracker leaves it to its caller
		Start: w.start,
		Event: w.event,
		OnError: func(err error) {
			fmt.Fprintf(opts.IO.Err, "homeport: could not list sockets: %v (trying again)\n", err)
		},
	})
	switch {
	case errors.Is(err, syscall.EPIPE), left.Load():
		return nil // the reader has what it wanted
	case err != nil:
		return fmt.Errorf("writing the changes: %w", err)
	}
	return nil
}

// watchWriter renders the stream, flushing after each poll's lines so that
// a reader sees a change as soon as it is seen.
type watchWriter struct {
	io     *IO
	out    *bufio.Writer
	json   bool
	owners bool
	enc    *json.Encoder
}

func (w *watchWriter) start(u watch.Update, socks []sockets.Socket) error {
	if w.json {
		for i := range socks {
			if err := w.writeJSON("listening", u.At, &socks[i], nil); err != nil {
				return err
			}
		}
		return w.out.Flush()
	}
	if err := printSocketTable(w.io, socks, false, w.owners, u.At, nil, nil); err != nil {
		return err
	}
	if w.io.OutTTY {
		fmt.Fprintln(w.io.Err, "homeport: watching for changes; Ctrl-C to stop")
	}
	return nil
}

func (w *watchWriter) event(u watch.Update, ev watch.Event) error {
	if w.json {
		if err := w.writeJSON(ev.Kind.String(), u.At, &ev.Socket, ev.Previous); err != nil {
			return err
		}
		return w.out.Flush()
	}
	mark, style := "+", styleGreen
	switch ev.Kind {
	case watch.Closed:
		mark, style = "-", styleRed
	case watch.Changed:
		mark, style = "~", styleAmber
	}
	line := w.io.paint(style, mark) + " " + eventText(&ev.Socket)
	if ev.Previous != nil {
		was := ownerText(ev.Previous)
		if was == "" {
			was = "no owner in sight"
		}
		line += ", was " + was
	}
	w.out.WriteString(pipeCell.Replace(line))
	w.out.WriteByte('\n')
	return w.out.Flush()
}

func (w *watchWriter) writeJSON(kind string, at time.Time, s, prev *sockets.Socket) error {
	if w.enc == nil {
		w.enc = json.NewEncoder(w.out)
	}
	e := jsonEvent{Event: api.Event{Event: kind, Socket: toJSONSocket(s, nil)}, At: at}
	if prev != nil {
		p := toJSONSocket(prev, nil)
		e.Previous = &p
	}
	return w.enc.Encode(e)
}

// eventText is a socket on one line: "tcp 127.0.0.1:3000 node (pid 4242)".
func eventText(s *sockets.Socket) string {
	t := string(s.Proto) + " " + sockets.FormatAddr(s.Local)
	if s.Remote.Port() != 0 {
		t += " ← " + sockets.FormatAddr(s.Remote)
	}
	if o := ownerText(s); o != "" {
		t += " " + o
	}
	return t
}

// ownerText is "node (pid 4242)", "node (pids 4242,4243)", or "" when no
// owner could be seen.
func ownerText(s *sockets.Socket) string {
	if len(s.Owners) == 0 {
		return ""
	}
	word := "pid"
	if len(s.Owners) > 1 {
		word = "pids"
	}
	return fmt.Sprintf("%s (%s %s)", s.NamesText(), word, strings.TrimSpace(s.PIDsText()))
}

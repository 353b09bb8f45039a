package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"homeport/internal/api"
	"homeport/internal/ports"
	"homeport/internal/sockets"
	"homeport/internal/watch"
)

// Status is the answer of GET /api/v1/status; `homeport status --json`
// prints its first four fields.
type Status struct {
	Running   bool      `json:"running"`
	Address   string    `json:"address"`
	PID       int       `json:"pid"`
	Since     time.Time `json:"since"`
	Version   string    `json:"version,omitempty"`
	Interval  string    `json:"interval"`
	Listeners int       `json:"listeners"`
	Clients   int       `json:"clients"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := Status{
		Running:  true,
		Address:  "http://127.0.0.1:" + strconv.Itoa(s.opts.Port) + "/",
		PID:      s.opts.PID,
		Since:    s.opts.Since,
		Version:  s.opts.Version,
		Interval: s.opts.Interval.String(),
		Clients:  s.hub.Len(),
	}
	if u, ok := s.hub.Last(); ok {
		st.Listeners = len(u.Snapshot)
	}
	writeJSON(w, http.StatusOK, st)
}

// portParam reads ?port=N; ok false after writing the 400.
func portParam(w http.ResponseWriter, r *http.Request, required bool) (uint16, bool) {
	v := r.URL.Query().Get("port")
	if v == "" {
		if required {
			writeError(w, http.StatusBadRequest, "missing port", "add ?port=N")
			return 0, false
		}
		return 0, true
	}
	p, err := ports.ParsePort(v)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "")
		return 0, false
	}
	return p, true
}

// filterOf reads the filters of /api/v1/ports and /api/v1/who: port,
// proto (tcp or udp) and all (every state, not only listeners).
func filterOf(w http.ResponseWriter, r *http.Request, needPort bool) (sockets.Filter, bool) {
	var f sockets.Filter
	p, ok := portParam(w, r, needPort)
	if !ok {
		return f, false
	}
	f.Port = p
	switch proto := r.URL.Query().Get("proto"); proto {
	case "":
	case "tcp":
		f.TCP = true
	case "udp":
		f.UDP = true
	default:
		writeError(w, http.StatusBadRequest, "proto must be tcp or udp, not "+strconv.Quote(proto), "")
		return f, false
	}
	f.All = truthy(r.URL.Query().Get("all"))
	return f, true
}

func truthy(v string) bool { return v == "1" || strings.EqualFold(v, "true") }

// ports answers like `homeport ports --json`: an array of sockets. Without
// filters it is the watcher's last snapshot; with them, a fresh inventory.
func (s *Server) ports(w http.ResponseWriter, r *http.Request) {
	f, ok := filterOf(w, r, false)
	if !ok {
		return
	}
	if f.Port == 0 && !f.TCP && !f.UDP && !f.All {
		if u, ok := s.hub.Last(); ok {
			writeJSON(w, http.StatusOK, s.labels.rows(u.Snapshot))
			return
		}
	}
	snap, err := s.opts.Take(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "reading the socket inventory: "+err.Error(), "")
		return
	}
	writeJSON(w, http.StatusOK, s.labels.rows(snap.Sockets))
}

// Who is the answer of GET /api/v1/who?port=N, one element of
// `homeport who N --json`.
type Who struct {
	Target  string       `json:"target"`
	Held    bool         `json:"held"`
	Sockets []api.Socket `json:"sockets"`
}

func (s *Server) who(w http.ResponseWriter, r *http.Request) {
	f, ok := filterOf(w, r, true)
	if !ok {
		return
	}
	snap, err := s.opts.Take(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "reading the socket inventory: "+err.Error(), "")
		return
	}
	target := strconv.Itoa(int(f.Port))
	if f.UDP {
		target += "/udp"
	}
	writeJSON(w, http.StatusOK, Who{Target: target, Held: len(snap.Sockets) > 0, Sockets: s.labels.rows(snap.Sockets)})
}

func portTarget(port uint16) ports.Target {
	return ports.Target{Host: "localhost", Port: port, Proto: "tcp"}
}

// doctor answers like `homeport doctor localhost:N --json`.
func (s *Server) doctor(w http.ResponseWriter, r *http.Request) {
	p, ok := portParam(w, r, true)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rep, err := s.opts.Doctor(ctx, p)
	if err != nil {
		// What doctor could not see may be the cause: no verdict.
		writeError(w, http.StatusInternalServerError, "doctor: "+err.Error(), "run 'homeport doctor "+strconv.Itoa(int(p))+"' in a terminal")
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// audit answers like `homeport audit --json`.
func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	rep, err := s.opts.Audit(ctx)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "audit: "+err.Error(), "")
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// loginAnswer is the body of POST /api/v1/login.
type loginAnswer struct {
	URL string `json:"url"`
}

// newLogin makes a one-time login URL (`homeport ui`).
func (s *Server) newLogin(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, loginAnswer{URL: s.LoginURL(s.LoginCode())})
}

// LoginURL is the address that logs a browser in with code.
func (s *Server) LoginURL(code string) string {
	return "http://127.0.0.1:" + strconv.Itoa(s.opts.Port) + "/login?code=" + code
}

func (s *Server) shutdown(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"stopping": true})
	if s.opts.Shutdown != nil {
		go s.opts.Shutdown()
	}
}

// snapshotJSON is the first message of an event stream.
type snapshotJSON struct {
	At      time.Time    `json:"at"`
	Sockets []api.Socket `json:"sockets"`
	Hidden  int          `json:"hidden"`
}

// changeJSON is every later message.
type changeJSON struct {
	At     time.Time   `json:"at"`
	Events []api.Event `json:"events"`
	Hidden int         `json:"hidden"`
}

// events streams the watcher's updates as Server-Sent Events: first a
// "snapshot" of every listener, then a "change" for each poll that saw one,
// and for each change of the routes that gives listeners another service
// or project (a "change" event per listener it relabels).
// Sockets carry their service and project (see labeler). One stream
// serves one tab; a client that falls behind is dropped (the browser
// reconnects and starts again from a fresh snapshot), and writes time out
// so that a stalled client frees its goroutine.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	sub := s.hub.Subscribe(16)
	defer sub.Close()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := w.Write([]byte("event: " + event + "\ndata: ")); err != nil {
			return false
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		if _, err := w.Write([]byte("\n\n")); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil || rc.Flush() != nil {
		return
	}
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	// routesChanged is armed before the routes are read, so that no change
	// falls between reading them and waiting for the next one.
	var routesChanged <-chan struct{}
	if s.labels.table != nil {
		routesChanged = s.labels.table.Changed()
	}
	var shown routeIndex // the routes this stream labelled with
	started := false
	for {
		select {
		case <-r.Context().Done():
			return
		case u, ok := <-sub.Updates():
			if !ok {
				return
			}
			var sent bool
			switch {
			case u.Initial:
				shown, started = s.labels.index(), true
				sent = send("snapshot", snapshotJSON{At: u.At, Sockets: s.labels.rows(u.Snapshot), Hidden: u.Hidden})
			case len(u.Events) > 0:
				sent = send("change", changeJSON{At: u.At, Events: s.labels.events(u.Events), Hidden: u.Hidden})
			default:
				continue
			}
			if !sent {
				return
			}
		case <-routesChanged:
			routesChanged = s.labels.table.Changed()
			if !started {
				continue // the snapshot to come has the routes of then
			}
			now := s.labels.index()
			last, _ := s.hub.Last()
			rows := s.labels.relabel(last.Snapshot, shown, now)
			shown = now
			if len(rows) == 0 {
				continue
			}
			evs := make([]api.Event, len(rows))
			for i := range rows {
				evs[i] = api.Event{Event: watch.Changed.String(), Socket: rows[i]}
			}
			if !send("change", changeJSON{At: time.Now(), Events: evs, Hidden: last.Hidden}) {
				return
			}
		case <-keep.C:
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

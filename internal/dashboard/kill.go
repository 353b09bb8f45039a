package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"time"
)

// KillRequest is the body of POST /api/v1/kill: the row the user saw. The
// daemon signals the process only if pid, start time and socket inode are
// still what the row showed, so a recycled pid or a new server on the port
// is never hit by a click on an old row.
type KillRequest struct {
	Port    uint16    `json:"port"`
	Proto   string    `json:"proto,omitempty"` // "tcp", "udp" or "" for both
	PID     int       `json:"pid"`
	Started time.Time `json:"started"` // the owner's "started" as the API showed it
	Inode   uint64    `json:"inode"`   // the socket's "inode" as the API showed it
}

// KillOutcome is what happened to one process.
type KillOutcome struct {
	PID    int    `json:"pid"`
	Name   string `json:"name,omitempty"`
	Kind   string `json:"kind"`             // the kill engine's outcome: "exited", "killed", "denied", "changed", ...
	Signal string `json:"signal,omitempty"` // the last signal sent, e.g. "SIGTERM"
	Detail string `json:"detail,omitempty"` // one sentence for people
}

// KillResult is the answer of POST /api/v1/kill. Changed is true when the
// process was not signalled because it is no longer the one shown; the
// answer is then 409.
type KillResult struct {
	Outcomes []KillOutcome `json:"outcomes"`
	Freed    bool          `json:"freed"`
	Changed  bool          `json:"changed"`
}

// KillFunc stops the process of a request: the same engine `homeport kill`
// uses.
type KillFunc func(ctx context.Context, req KillRequest) (*KillResult, error)

func (s *Server) kill(w http.ResponseWriter, r *http.Request) {
	var req KillRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "reading the request: "+err.Error(), `send {"port":N,"pid":P,"started":"...","inode":I}`)
		return
	}
	switch {
	case req.Port == 0 || req.PID <= 0:
		writeError(w, http.StatusBadRequest, "a kill request names the port and the pid", "")
		return
	case req.Started.IsZero():
		writeError(w, http.StatusBadRequest, "a kill request names the process start time (the owner's started)", "")
		return
	case req.Inode == 0 && runtime.GOOS == "linux":
		writeError(w, http.StatusBadRequest, "a kill request names the socket inode", "")
		return
	case req.Proto != "" && req.Proto != "tcp" && req.Proto != "udp":
		writeError(w, http.StatusBadRequest, "proto must be tcp or udp", "")
		return
	}
	if s.opts.Kill == nil {
		writeError(w, http.StatusNotImplemented, ErrNoKill.Error(), "use 'homeport kill' in a terminal")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	res, err := s.opts.Kill(ctx, req)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), "")
		return
	}
	s.metrics.kills.WithLabelValues(killLabel(res)).Inc()
	code := http.StatusOK
	if res.Changed {
		code = http.StatusConflict
	}
	writeJSON(w, code, res)
}

// killLabel is the bounded label of homeport_kills_total.
func killLabel(res *KillResult) string {
	switch {
	case res.Changed:
		return "changed"
	case res.Freed:
		return "freed"
	}
	return "not_freed"
}

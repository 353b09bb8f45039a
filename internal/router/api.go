package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// API is the routes part of the daemon's JSON API. The daemon mounts its
// handlers behind its own guards (the token, same origin, POST with
// application/json for changes); they do no such checks themselves.
//
//	GET  /api/v1/routes          {"routes": [Route, ...]}
//	POST /api/v1/routes          {"name": "api", "port": 3000}            → Route
//	                             {"name", "port", "kind": "run", "pid"}   → Route (homeport run)
//	                             … "project": "shop"                      → a route of a project's service
//	POST /api/v1/routes/remove   {"name": "api"}                          → the Route removed
//
// Errors are {"error": ..., "hint": ...}: 400 for a bad name or port, 409
// when the name routes elsewhere, 404 for no such route, 500 when the
// routes file cannot be written.
type API struct {
	Table *Table
	// Metrics, when set, forgets the series of a route that is removed.
	Metrics *Metrics
}

// RouteList is the answer of GET /api/v1/routes.
type RouteList struct {
	Routes []Route `json:"routes"`
}

// AddRequest is the body of POST /api/v1/routes. Kind defaults to
// KindPersistent.
type AddRequest struct {
	Name string `json:"name"`
	Port int    `json:"port"`
	Kind Kind   `json:"kind,omitempty"`
	PID  int    `json:"pid,omitempty"`
	// Project names the project the route's service belongs to; "" for
	// none.
	Project string `json:"project,omitempty"`
}

// RemoveRequest is the body of POST /api/v1/routes/remove.
type RemoveRequest struct {
	Name string `json:"name"`
}

// List serves GET /api/v1/routes.
func (a API) List(w http.ResponseWriter, _ *http.Request) {
	writeAPI(w, http.StatusOK, RouteList{Routes: a.Table.List()})
}

// Add serves POST /api/v1/routes.
func (a API) Add(w http.ResponseWriter, r *http.Request) {
	var req AddRequest
	if !decodeAPI(w, r, &req) {
		return
	}
	if req.Kind == "" {
		req.Kind = KindPersistent
	}
	rt, err := a.Table.Add(Route{Name: req.Name, Port: req.Port, Kind: req.Kind, PID: req.PID, Project: req.Project})
	var ne *NameError
	var ce *ConflictError
	var be *BadRouteError
	switch {
	case err == nil:
		writeAPI(w, http.StatusOK, rt)
	case errors.As(err, &ne):
		writeAPIError(w, http.StatusBadRequest, err.Error(), "a name is a DNS label: letters, digits and '-', such as 'api' or 'web-2'")
	case errors.As(err, &ce):
		hint := fmt.Sprintf("remove it first: homeport route rm %s", ce.Existing.Name)
		if ce.Existing.Kind == KindRun {
			hint = fmt.Sprintf("stop the homeport run that holds it (pid %d), or pick another name", ce.Existing.PID)
		}
		writeAPIError(w, http.StatusConflict, err.Error(), hint)
	case errors.As(err, &be):
		writeAPIError(w, http.StatusBadRequest, err.Error(), "")
	default:
		writeAPIError(w, http.StatusInternalServerError, err.Error(), "check that the state folder is writable")
	}
}

// Remove serves POST /api/v1/routes/remove.
func (a API) Remove(w http.ResponseWriter, r *http.Request) {
	var req RemoveRequest
	if !decodeAPI(w, r, &req) {
		return
	}
	rt, err := a.Table.Remove(req.Name)
	var ne *NameError
	switch {
	case err == nil:
		if a.Metrics != nil {
			a.Metrics.Forget(rt.Name)
		}
		writeAPI(w, http.StatusOK, rt)
	case errors.As(err, &ne):
		writeAPIError(w, http.StatusBadRequest, err.Error(), "")
	case errors.Is(err, ErrNoRoute):
		writeAPIError(w, http.StatusNotFound, err.Error(), "list the routes with: homeport routes")
	default:
		writeAPIError(w, http.StatusInternalServerError, err.Error(), "check that the state folder is writable")
	}
}

func decodeAPI(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeAPIError(w, http.StatusBadRequest, "reading the request: "+err.Error(), "")
		return false
	}
	return true
}

type apiError struct {
	Error string `json:"error"`
	Hint  string `json:"hint,omitempty"`
}

func writeAPIError(w http.ResponseWriter, code int, msg, hint string) {
	writeAPI(w, code, apiError{Error: msg, Hint: hint})
}

func writeAPI(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Kind says where a route came from and how long it lasts.
type Kind string

const (
	// KindRun is a route that `homeport run` registered for the command it
	// started: it belongs to that process (Route.PID) and goes with it. It
	// is never saved.
	KindRun Kind = "run"
	// KindPersistent is a route from `homeport route add` for a service
	// started elsewhere (a container, a VM, a server started by hand). It
	// lasts until `homeport route rm`, across daemon restarts.
	KindPersistent Kind = "persistent"
)

// Route sends NAME.localhost to a local port. Its JSON form is the one of
// `homeport routes --json`.
type Route struct {
	Name  string    `json:"name"`
	Port  int       `json:"port"`
	Kind  Kind      `json:"kind"`
	PID   int       `json:"pid,omitempty"` // the owner of a KindRun route
	Added time.Time `json:"added"`
	// Project is the project the route's service belongs to (for the
	// services of a homeport.toml, the name of the folder that holds it):
	// the dashboard groups listeners by it. "" for none.
	Project string `json:"project,omitempty"`
}

// ErrNoRoute is returned (wrapped) when a name has no route.
var ErrNoRoute = errors.New("no such route")

// BadRouteError is Add's error about a route's port, kind or owner (a bad
// name is a *NameError).
type BadRouteError struct {
	msg string
}

func (e *BadRouteError) Error() string { return e.msg }

func badRoute(format string, args ...any) error {
	return &BadRouteError{msg: fmt.Sprintf(format, args...)}
}

// ConflictError is returned by Add when the name already routes elsewhere.
type ConflictError struct {
	Existing Route
}

func (e *ConflictError) Error() string {
	who := "added with `homeport route add`"
	if e.Existing.Kind == KindRun {
		who = fmt.Sprintf("registered by `homeport run` (pid %d)", e.Existing.PID)
	}
	return fmt.Sprintf("route %s already goes to port %d, %s", e.Existing.Name, e.Existing.Port, who)
}

// Table is the set of routes, safe for concurrent use. Lookups, one per
// proxied request, take no lock: they read an immutable map that every change
// replaces whole (changes are rare, lookups are not).
type Table struct {
	mu      sync.Mutex // serialises changes and saving
	routes  atomic.Pointer[map[string]Route]
	changed chan struct{} // closed (and replaced) at each change; under mu
	path    string        // where persistent routes are saved; "" keeps them in memory
	now     func() time.Time
}

// NewTable returns an empty table that keeps its routes in memory only.
func NewTable() *Table {
	t := &Table{now: time.Now, changed: make(chan struct{})}
	t.routes.Store(&map[string]Route{})
	return t
}

// Changed returns a channel that is closed at the next change of the
// table: the dashboard's event streams wait on it to give the listeners
// of a route that came or went their new service and project.
func (t *Table) Changed() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changed
}

// store replaces the routes and wakes the waiters of Changed; t.mu held.
func (t *Table) store(m map[string]Route) {
	t.routes.Store(&m)
	close(t.changed)
	t.changed = make(chan struct{})
}

// OpenTable returns a table whose persistent routes are saved in the file at
// path (see StatePath), and loads the ones saved there. A missing file is an
// empty table.
func OpenTable(path string) (*Table, error) {
	t := NewTable()
	t.path = path
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading routes: %w", err)
	}
	defer f.Close()
	routes, err := DecodeRoutes(f)
	if err != nil {
		return nil, fmt.Errorf("reading routes from %s: %w", path, err)
	}
	m := make(map[string]Route, len(routes))
	for _, r := range routes {
		m[r.Name] = r
	}
	t.routes.Store(&m)
	return t, nil
}

// Lookup returns the route of name (already lower case, as ParseHost
// returns it).
func (t *Table) Lookup(name string) (Route, bool) {
	r, ok := (*t.routes.Load())[name]
	return r, ok
}

// List returns every route, sorted by name.
func (t *Table) List() []Route {
	m := *t.routes.Load()
	out := make([]Route, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Add adds a route and returns it as stored (name folded to lower case, the
// time it was added). Adding the same route again (same name, port, kind,
// owner and project) changes nothing; a name that already routes elsewhere is a
// *ConflictError: remove the old route first. A persistent route is saved
// before Add returns; if saving fails the table is unchanged.
func (t *Table) Add(r Route) (Route, error) {
	name, err := ParseName(r.Name)
	if err != nil {
		return Route{}, err
	}
	r.Name = name
	if r.Port < 1 || r.Port > 65535 {
		return Route{}, badRoute("port %d of route %s is out of range; a port is 1 to 65535", r.Port, name)
	}
	switch r.Kind {
	case KindRun:
		if r.PID <= 0 {
			return Route{}, badRoute("route %s of kind run needs the pid that owns it", name)
		}
	case KindPersistent:
		r.PID = 0
	default:
		return Route{}, badRoute("route %s has kind %q; want %q or %q", name, r.Kind, KindRun, KindPersistent)
	}
	if err := checkProject(r.Project); err != nil {
		return Route{}, badRoute("route %s: %v", name, err)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.routes.Load()
	if have, ok := old[name]; ok {
		if have.Port == r.Port && have.Kind == r.Kind && have.PID == r.PID && have.Project == r.Project {
			return have, nil
		}
		return Route{}, &ConflictError{Existing: have}
	}
	if r.Added.IsZero() {
		r.Added = t.now().UTC().Truncate(time.Second)
	}
	m := make(map[string]Route, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = r
	if r.Kind == KindPersistent {
		if err := t.save(m); err != nil {
			return Route{}, err
		}
	}
	t.store(m)
	return r, nil
}

// maxProject bounds a route's project name: a name for one line of a
// table, not a place to store data.
const maxProject = 100

// checkProject refuses a project name that could not be shown on one line.
func checkProject(p string) error {
	if len(p) > maxProject {
		return fmt.Errorf("project name is %d bytes long; at most %d", len(p), maxProject)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("project name %q is not UTF-8", p)
	}
	if i := strings.IndexFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }); i >= 0 {
		return fmt.Errorf("project name %q has a control character at byte %d", p, i+1)
	}
	return nil
}

// Remove removes the route of name and returns it. A name without a route is
// an error wrapping ErrNoRoute.
func (t *Table) Remove(name string) (Route, error) {
	folded, err := ParseName(name)
	if err != nil {
		return Route{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.removeLocked(func(r Route) bool { return r.Name == folded }, name)
}

// RemoveOwned removes the run routes that pid owns (the command `homeport
// run` started has ended) and returns them.
func (t *Table) RemoveOwned(pid int) []Route {
	return t.RemoveFunc(func(r Route) bool { return r.Kind == KindRun && r.PID == pid })
}

// RemoveFunc removes the routes for which drop reports true and returns them.
// The daemon uses it to drop the run routes whose owner has gone without
// saying so (killed with SIGKILL): RemoveFunc(func(r) bool { return r.Kind ==
// KindRun && !alive(r.PID) }).
func (t *Table) RemoveFunc(drop func(Route) bool) []Route {
	t.mu.Lock()
	defer t.mu.Unlock()
	var gone []Route
	for {
		r, err := t.removeLocked(drop, "")
		if err != nil {
			break
		}
		gone = append(gone, r)
	}
	slices.SortFunc(gone, func(a, b Route) int { return strings.Compare(a.Name, b.Name) })
	return gone
}

func (t *Table) removeLocked(match func(Route) bool, asked string) (Route, error) {
	old := *t.routes.Load()
	var found Route
	ok := false
	for _, r := range old {
		if match(r) {
			found, ok = r, true
			break
		}
	}
	if !ok {
		return Route{}, fmt.Errorf("route %s: %w", asked, ErrNoRoute)
	}
	m := make(map[string]Route, len(old))
	for k, v := range old {
		if k != found.Name {
			m[k] = v
		}
	}
	if found.Kind == KindPersistent {
		if err := t.save(m); err != nil {
			return Route{}, err
		}
	}
	t.store(m)
	return found, nil
}

// fileVersion is the version of the routes file's format.
const fileVersion = 1

type routesFile struct {
	Version int     `json:"version"`
	Routes  []Route `json:"routes"`
}

// save writes the persistent routes of m to t.path, atomically: a temporary
// file in the same folder (mode 0600, the folder 0700: another local user
// learns nothing of your services), synced, then renamed over the old one, so
// a crash leaves the old list or the new one, never half of one.
func (t *Table) save(m map[string]Route) error {
	if t.path == "" {
		return nil
	}
	f := routesFile{Version: fileVersion, Routes: []Route{}}
	for _, r := range m {
		if r.Kind == KindPersistent {
			f.Routes = append(f.Routes, r)
		}
	}
	slices.SortFunc(f.Routes, func(a, b Route) int { return strings.Compare(a.Name, b.Name) })
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("saving routes: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(t.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving routes: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".routes-*.json")
	if err != nil {
		return fmt.Errorf("saving routes: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return fmt.Errorf("saving routes: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("saving routes to %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving routes to %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving routes to %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), t.path); err != nil {
		return fmt.Errorf("saving routes: %w", err)
	}
	return nil
}

// maxRoutesFile bounds what DecodeRoutes reads: a list of routes is a few
// kilobytes, a file of megabytes is not one.
const maxRoutesFile = 1 << 20

// DecodeRoutes reads a routes file (the one OpenTable loads). Every entry
// must be a valid persistent route; duplicate names, unknown fields and
// trailing data are errors naming the entry.
func DecodeRoutes(r io.Reader) ([]Route, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRoutesFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRoutesFile {
		return nil, fmt.Errorf("file is larger than %d bytes; it is not a routes file", maxRoutesFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f routesFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a routes file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a routes file: data after the list")
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("routes file version %d; this homeport reads version %d", f.Version, fileVersion)
	}
	seen := make(map[string]bool, len(f.Routes))
	out := make([]Route, 0, len(f.Routes))
	for i, r := range f.Routes {
		name, err := ParseName(r.Name)
		if err != nil {
			return nil, fmt.Errorf("route %d: %w", i+1, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("route %d: name %s appears twice", i+1, name)
		}
		seen[name] = true
		if r.Port < 1 || r.Port > 65535 {
			return nil, fmt.Errorf("route %d (%s): port %d is out of range", i+1, name, r.Port)
		}
		if r.Kind != KindPersistent {
			return nil, fmt.Errorf("route %d (%s): kind %q; only %q routes are saved", i+1, name, r.Kind, KindPersistent)
		}
		if r.PID != 0 {
			return nil, fmt.Errorf("route %d (%s): a saved route has no pid", i+1, name)
		}
		if err := checkProject(r.Project); err != nil {
			return nil, fmt.Errorf("route %d (%s): %w", i+1, name, err)
		}
		r.Name = name
		out = append(out, r)
	}
	return out, nil
}

// StatePath returns where the daemon keeps persistent routes:
// $XDG_STATE_HOME/homeport/routes.json, else ~/.local/state/homeport/routes.json
// (on Windows %LocalAppData%\homeport\routes.json).
func StatePath() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "homeport", "routes.json"), nil
	}
	if runtime.GOOS == "windows" {
		d, err := os.UserCacheDir() // %LocalAppData%
		if err != nil {
			return "", fmt.Errorf("finding the state folder: %w", err)
		}
		return filepath.Join(d, "homeport", "routes.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the state folder: %w", err)
	}
	return filepath.Join(home, ".local", "state", "homeport", "routes.json"), nil
}

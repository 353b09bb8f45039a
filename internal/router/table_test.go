package router

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTablePersistentRoutesLastAcrossOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "homeport", "routes.json")
	tab, err := OpenTable(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenTable wrote %s before any route was added (stat: %v)", path, err)
	}
	api, err := tab.Add(Route{Name: "API", Port: 3000, Kind: KindPersistent})
	if err != nil {
		t.Fatal(err)
	}
	if api.Name != "api" || api.Added.IsZero() {
		t.Errorf("Add returned %+v; want name folded to api and the time added", api)
	}
	if _, err := tab.Add(Route{Name: "web", Port: 5173, Kind: KindRun, PID: 4242}); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Add(Route{Name: "db", Port: 8081, Kind: KindPersistent}); err != nil {
		t.Fatal(err)
	}

	if runtime.GOOS != "windows" {
		for _, p := range []string{path, filepath.Dir(path)} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			want := os.FileMode(0o600)
			if fi.IsDir() {
				want = 0o700 | os.ModeDir
			}
			if fi.Mode() != want {
				t.Errorf("%s has mode %v; want %v", p, fi.Mode(), want)
			}
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("state folder holds %d files; want routes.json alone (no temporary files left)", len(ents))
	}

	again, err := OpenTable(path)
	if err != nil {
		t.Fatal(err)
	}
	got := again.List()
	want := []Route{
		{Name: "api", Port: 3000, Kind: KindPersistent, Added: api.Added},
		{Name: "db", Port: 8081, Kind: KindPersistent, Added: got[0].Added},
	}
	if len(got) == 2 {
		want[1].Added = got[1].Added
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("routes after reopening (-want +got; the run route must not be saved):\n%s", d)
	}

	if _, err := again.Remove("API"); err != nil {
		t.Fatal(err)
	}
	third, err := OpenTable(path)
	if err != nil {
		t.Fatal(err)
	}
	if names := routeNames(third.List()); names != "db" {
		t.Errorf("routes after removing api and reopening = %q; want db", names)
	}
}

func TestTableAddConflictsAndRemove(t *testing.T) {
	tab := NewTable()
	tab.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	first, err := tab.Add(Route{Name: "web", Port: 5173, Kind: KindRun, PID: 10})
	if err != nil {
		t.Fatal(err)
	}
	// The same route again is no change.
	same, err := tab.Add(Route{Name: "WEB", Port: 5173, Kind: KindRun, PID: 10})
	if err != nil || same != first {
		t.Errorf("Add of the same route = %+v, %v; want %+v, nil", same, err, first)
	}
	for _, r := range []Route{
		{Name: "web", Port: 5174, Kind: KindRun, PID: 10},
		{Name: "web", Port: 5173, Kind: KindRun, PID: 11},
		{Name: "web", Port: 5173, Kind: KindPersistent},
		{Name: "web", Port: 5173, Kind: KindRun, PID: 10, Project: "shop"},
	} {
		_, err := tab.Add(r)
		var ce *ConflictError
		if !errors.As(err, &ce) || ce.Existing != first {
			t.Errorf("Add(%+v) = %v; want a conflict with %+v", r, err, first)
		}
		if err != nil && !strings.Contains(err.Error(), "pid 10") {
			t.Errorf("Add(%+v) error %q does not name the owner", r, err)
		}
	}

	bad := []struct {
		r   Route
		msg string
	}{
		{Route{Name: "my_app", Port: 1, Kind: KindPersistent}, "'_'"},
		{Route{Name: "a", Port: 0, Kind: KindPersistent}, "out of range"},
		{Route{Name: "a", Port: 65536, Kind: KindPersistent}, "out of range"},
		{Route{Name: "a", Port: 80, Kind: KindRun}, "needs the pid"},
		{Route{Name: "a", Port: 80, Kind: "other"}, `kind "other"`},
		{Route{Name: "a", Port: 80, Kind: KindPersistent, Project: "shop\x1b[2J"}, "control character at byte 5"},
		{Route{Name: "a", Port: 80, Kind: KindPersistent, Project: "\xff"}, "not UTF-8"},
		{Route{Name: "a", Port: 80, Kind: KindPersistent, Project: strings.Repeat("p", 101)}, "at most 100"},
	}
	for _, b := range bad {
		if _, err := tab.Add(b.r); err == nil || !strings.Contains(err.Error(), b.msg) {
			t.Errorf("Add(%+v) = %v; want an error containing %q", b.r, err, b.msg)
		}
	}

	if _, err := tab.Add(Route{Name: "api", Port: 3000, Kind: KindRun, PID: 11}); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Add(Route{Name: "docs", Port: 4000, Kind: KindPersistent}); err != nil {
		t.Fatal(err)
	}
	if gone := routeNames(tab.RemoveOwned(10)); gone != "web" {
		t.Errorf("RemoveOwned(10) = %q; want web", gone)
	}
	if _, err := tab.Remove("web"); !errors.Is(err, ErrNoRoute) {
		t.Errorf("Remove(web) after it went = %v; want ErrNoRoute", err)
	}
	if gone := routeNames(tab.RemoveFunc(func(r Route) bool { return r.Kind == KindRun })); gone != "api" {
		t.Errorf("RemoveFunc(run routes) = %q; want api", gone)
	}
	if r, ok := tab.Lookup("docs"); !ok || r.Port != 4000 {
		t.Errorf("Lookup(docs) = %+v, %v; want port 4000", r, ok)
	}
}

// TestTableChanged: every change wakes whoever waits on Changed, and a
// change that changes nothing (the same route again) does not.
func TestTableChanged(t *testing.T) {
	tab := NewTable()
	ch := tab.Changed()
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	if closed(ch) {
		t.Fatal("Changed is closed before any change")
	}
	r := Route{Name: "api", Port: 3000, Kind: KindRun, PID: 7, Project: "shop"}
	if _, err := tab.Add(r); err != nil {
		t.Fatal(err)
	}
	if !closed(ch) {
		t.Error("Changed not closed after Add")
	}
	ch = tab.Changed()
	if closed(ch) {
		t.Error("the channel after a change is already closed")
	}
	if _, err := tab.Add(r); err != nil || closed(ch) {
		t.Errorf("Add of the same route again = %v, changed %v; want nil, no change", err, closed(ch))
	}
	if got, _ := tab.Lookup("api"); got.Project != "shop" {
		t.Errorf("Lookup(api).Project = %q; want shop", got.Project)
	}
	if gone := tab.RemoveOwned(7); len(gone) != 1 || gone[0].Project != "shop" || !closed(ch) {
		t.Errorf("RemoveOwned(7) = %+v, changed %v; want the route of shop, changed", gone, closed(ch))
	}
}

func TestTableSaveFailureLeavesTableUnchanged(t *testing.T) {
	// A file where the state folder should be stops even root.
	dir := t.TempDir()
	blocker := filepath.Join(dir, "homeport")
	if err := os.WriteFile(blocker, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	tab := NewTable()
	tab.path = filepath.Join(blocker, "routes.json")
	if _, err := tab.Add(Route{Name: "api", Port: 3000, Kind: KindPersistent}); err == nil {
		t.Fatal("Add succeeded though the routes file cannot be written")
	}
	if _, ok := tab.Lookup("api"); ok {
		t.Error("a route that could not be saved is in the table")
	}
}

func TestDecodeRoutes(t *testing.T) {
	added := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want []Route
		err  string
	}{
		{"empty list", `{"version":1,"routes":[]}`, []Route{}, ""},
		{"two routes", `{"version":1,"routes":[{"name":"Api","port":3000,"kind":"persistent","added":"2026-03-04T05:06:07Z"},{"name":"db","port":5432,"kind":"persistent","added":"2026-03-04T05:06:07Z"}]}`,
			[]Route{{Name: "api", Port: 3000, Kind: KindPersistent, Added: added}, {Name: "db", Port: 5432, Kind: KindPersistent, Added: added}}, ""},
		{"not json", `routes: api`, nil, "not a routes file"},
		{"trailing data", `{"version":1,"routes":[]} {}`, nil, "data after the list"},
		{"unknown field", `{"version":1,"routes":[],"extra":1}`, nil, `unknown field "extra"`},
		{"other version", `{"version":2,"routes":[]}`, nil, "version 2"},
		{"missing version", `{"routes":[]}`, nil, "version 0"},
		{"bad name", `{"version":1,"routes":[{"name":"my_app","port":1,"kind":"persistent"}]}`, nil, "route 1: route name \"my_app\" has '_'"},
		{"duplicate", `{"version":1,"routes":[{"name":"a","port":1,"kind":"persistent"},{"name":"A","port":2,"kind":"persistent"}]}`, nil, "route 2: name a appears twice"},
		{"bad port", `{"version":1,"routes":[{"name":"a","port":70000,"kind":"persistent"}]}`, nil, "port 70000 is out of range"},
		{"run route saved", `{"version":1,"routes":[{"name":"a","port":1,"kind":"run","pid":3}]}`, nil, `kind "run"`},
		{"pid on persistent", `{"version":1,"routes":[{"name":"a","port":1,"kind":"persistent","pid":3}]}`, nil, "no pid"},
		{"project", `{"version":1,"routes":[{"name":"a","port":1,"kind":"persistent","added":"2026-03-04T05:06:07Z","project":"shop"}]}`,
			[]Route{{Name: "a", Port: 1, Kind: KindPersistent, Added: added, Project: "shop"}}, ""},
		{"bad project", `{"version":1,"routes":[{"name":"a","port":1,"kind":"persistent","project":"a\u0007b"}]}`, nil, "route 1 (a): project name"},
		{"too large", `{"version":1,"routes":[],"x":"` + strings.Repeat("a", maxRoutesFile) + `"}`, nil, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRoutes(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("DecodeRoutes(%.60q) = %v; want an error containing %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeRoutes(%q) = %v", tt.in, err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("DecodeRoutes(%q) (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

func FuzzDecodeRoutes(f *testing.F) {
	f.Add(`{"version":1,"routes":[{"name":"api","port":3000,"kind":"persistent","added":"2026-03-04T05:06:07Z"}]}`)
	f.Add(`{"version":1,"routes":[]}`)
	f.Add(`{"version":1,"routes":[{"name":"-a","port":0}]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, in string) {
		routes, err := DecodeRoutes(strings.NewReader(in))
		if err != nil {
			return
		}
		// Whatever it accepts, a table takes as it is.
		tab := NewTable()
		for _, r := range routes {
			if _, err := tab.Add(r); err != nil {
				t.Fatalf("DecodeRoutes(%q) accepted %+v, which Add refuses: %v", in, r, err)
			}
		}
	})
}

func TestStatePath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	got, err := StatePath()
	if want := filepath.Join(dir, "homeport", "routes.json"); err != nil || got != want {
		t.Errorf("StatePath() with XDG_STATE_HOME = %q, %v; want %q", got, err, want)
	}
	if runtime.GOOS != "windows" {
		t.Setenv("XDG_STATE_HOME", "relative/dir") // not absolute: ignored, as the XDG spec says
		t.Setenv("HOME", dir)
		got, err = StatePath()
		if want := filepath.Join(dir, ".local", "state", "homeport", "routes.json"); err != nil || got != want {
			t.Errorf("StatePath() without XDG_STATE_HOME = %q, %v; want %q", got, err, want)
		}
	}
}

func routeNames(rs []Route) string {
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
	}
	return strings.Join(names, ",")
}

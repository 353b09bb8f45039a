package project

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// loadDoc writes doc as homeport.toml in a new folder and loads it.
func loadDoc(t *testing.T, doc string) *File {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path, FileName)
	if err != nil {
		t.Fatalf("Load(%q) = %v", doc, err)
	}
	return f
}

func plan(t *testing.T, f *File, opts PlanOptions) *Plan {
	t.Helper()
	p, err := f.Plan(context.Background(), opts)
	if err != nil {
		t.Fatalf("Plan = %v", err)
	}
	return p
}

const threeServices = `
[services.db]
run   = "postgres -D ./data -p ${port}"
port  = 5433

[services.api]
run   = "go run ./cmd/api"
env   = { DATABASE_URL = "postgres://localhost:${db.port}/app", SELF = "${url}", PORT = "${port}" }
ready = "http://localhost:${port}/health"
after = ["db"]

[services.web]
run   = "npx vite --api ${api.url} --direct localhost:${api.port}"
after = ["api"]
`

func TestPlanThreeServices(t *testing.T) {
	f := loadDoc(t, threeServices)
	p := plan(t, f, PlanOptions{})
	var names []string
	for _, s := range p.Services {
		names = append(names, s.Name)
	}
	if want := []string{"db", "api", "web"}; !slices.Equal(names, want) {
		t.Fatalf("start order = %v; want %v", names, want)
	}
	db, api, web := p.Services[0], p.Services[1], p.Services[2]
	if db.Port != 5433 || !db.Fixed || api.Fixed || web.Fixed {
		t.Errorf("db port %d fixed %v, api fixed %v, web fixed %v; want 5433 fixed, the others picked", db.Port, db.Fixed, api.Fixed, web.Fixed)
	}
	if api.Port == 0 || web.Port == 0 || api.Port == web.Port || api.Port == 5433 || web.Port == 5433 {
		t.Errorf("picked ports api %d, web %d; want two distinct free ports besides 5433", api.Port, web.Port)
	}
	// Picked ports are stable for the name, as homeport free --name picks.
	for _, s := range []Planned{api, web} {
		got, err := ports.Free(ports.FreeOptions{Name: s.Name, Count: 3})
		if err != nil || !slices.Contains(got, s.Port) {
			t.Errorf("%s got port %d; want one of free --name %s: %v (%v)", s.Name, s.Port, s.Name, got, err)
		}
	}
	again := plan(t, f, PlanOptions{})
	if d := cmp.Diff(p.Services, again.Services, cmpopts.IgnoreUnexported(Service{})); d != "" {
		t.Errorf("a second plan differs (-first +second):\n%s", d)
	}
	ap := strconv.Itoa(int(api.Port))
	want := Planned{
		Name: "api", Order: 2, Port: api.Port, URL: "http://api.localhost:62893", Run: "go run ./cmd/api",
		Env:       []string{"HOST=127.0.0.1", "DATABASE_URL=postgres://localhost:5433/app", "PORT=" + ap, "SELF=http://api.localhost:62893"},
		ReadyText: "http://localhost:" + ap + "/health", After: []string{"db"}, Restart: RestartNo, Dir: f.Dir,
		Refers: []string{"db"}, Spec: api.Spec,
	}
	want.Ready, _ = ports.ParseTarget(want.ReadyText)
	if d := cmp.Diff(want, api, cmpopts.IgnoreUnexported(Service{})); d != "" {
		t.Errorf("api (-want +got):\n%s", d)
	}
	if web.Run != "npx vite --api http://api.localhost:62893 --direct localhost:"+ap || !slices.Equal(web.Env, []string{"PORT=" + strconv.Itoa(int(web.Port)), "HOST=127.0.0.1"}) {
		t.Errorf("web run %q env %v", web.Run, web.Env)
	}
	if web.Ready.Port != web.Port || web.Ready.Host != "" || web.ReadyText != "" {
		t.Errorf("web ready = %+v; want its port on any local address", web.Ready)
	}
	if got := p.Referrers("db"); !slices.Equal(got, []string{"api"}) {
		t.Errorf("Referrers(db) = %v; want [api]", got)
	}
	if got := p.Referrers("api"); !slices.Equal(got, []string{"web"}) {
		t.Errorf("Referrers(api) = %v; want [web]", got)
	}
	if got := p.Referrers("web"); len(got) != 0 {
		t.Errorf("Referrers(web) = %v; want none", got)
	}
}

func TestPlanOrder(t *testing.T) {
	tests := []struct {
		name  string
		after map[string][]string
		want  []string
	}{
		{"no after: by name", map[string][]string{"c": nil, "a": nil, "b": nil}, []string{"a", "b", "c"}},
		{"chain", map[string][]string{"a": {"b"}, "b": {"c"}, "c": nil}, []string{"c", "b", "a"}},
		{"diamond", map[string][]string{"app": {"api", "auth"}, "api": {"db"}, "auth": {"db"}, "db": nil}, []string{"db", "api", "auth", "app"}},
		{"free ones by name first", map[string][]string{"z": nil, "b": {"z"}, "a": nil}, []string{"a", "z", "b"}},
		{"twice in after", map[string][]string{"a": {"b", "b"}, "b": nil}, []string{"b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc strings.Builder
			for n, after := range tt.after {
				doc.WriteString("[services." + n + "]\nrun = \"x\"\nafter = [")
				for i, a := range after {
					if i > 0 {
						doc.WriteString(", ")
					}
					doc.WriteString(strconv.Quote(a))
				}
				doc.WriteString("]\n")
			}
			f, err := Parse(FileName, []byte(doc.String()))
			if err != nil {
				t.Fatalf("Parse(%q) = %v", doc.String(), err)
			}
			if got := f.order(); !slices.Equal(got, tt.want) {
				t.Errorf("order(%v) = %v; want %v", tt.after, got, tt.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	f := loadDoc(t, `
[services.db]
run = "x"
[services.cache]
run = "x"
[services.api]
run = "x"
after = ["db", "cache"]
[services.web]
run = "x"
after = ["api"]
[services.docs]
run = "x"
`)
	p := plan(t, f, PlanOptions{})
	tests := []struct {
		ask, want []string
	}{
		{[]string{"web"}, []string{"cache", "db", "api", "web"}},
		{[]string{"api"}, []string{"cache", "db", "api"}},
		{[]string{"docs", "db"}, []string{"db", "docs"}},
		{[]string{"web", "api", "web"}, []string{"cache", "db", "api", "web"}},
	}
	for _, tt := range tests {
		sub, err := p.Select(tt.ask...)
		if err != nil {
			t.Fatalf("Select(%v) = %v", tt.ask, err)
		}
		var got []string
		for i, s := range sub.Services {
			got = append(got, s.Name)
			if s.Order != i+1 {
				t.Errorf("Select(%v): %s has order %d; want %d", tt.ask, s.Name, s.Order, i+1)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Select(%v) = %v; want %v", tt.ask, got, tt.want)
		}
	}
	_, err := p.Select("wbe")
	var ue *UnknownServiceError
	if !errors.As(err, &ue) || ue.Name != "wbe" || ue.Suggest != "web" {
		t.Errorf("Select(wbe) = %v; want UnknownServiceError suggesting web", err)
	}
}

// A fixed port that another process listens on is a problem naming the
// process; the project's own processes do not count.
func TestPlanHeldPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	f := loadDoc(t, "[services.db]\nrun = \"x\"\nport = "+strconv.Itoa(port)+"\n")
	_, err = f.Plan(context.Background(), PlanOptions{Take: sockets.Take})
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 {
		t.Fatalf("Plan with port %d held = %v; want one problem", port, err)
	}
	p := ps[0]
	self := filepath.Base(os.Args[0])
	if len(self) > 15 {
		self = self[:15] // the kernel's short name
	}
	wantMsg := "port " + strconv.Itoa(port) + " is held by " + self + " (pid " + strconv.Itoa(os.Getpid()) + ")"
	if p.Kind != PortHeld || p.Line != 3 || p.Column != 8 || p.Key != "services.db.port" || !strings.HasPrefix(p.Msg, wantMsg) {
		t.Errorf("problem = %+v; want %q at 3:8", p, wantMsg)
	}
	if !strings.Contains(p.Hint, "homeport kill "+strconv.Itoa(port)) {
		t.Errorf("hint = %q; want the kill command", p.Hint)
	}
	mine := func(pid int) bool { return pid == os.Getpid() }
	if _, err := f.Plan(context.Background(), PlanOptions{Take: sockets.Take, Mine: mine}); err != nil {
		t.Errorf("Plan with the port held by the project itself = %v; want no problem", err)
	}
	ln.Close()
	if _, err := f.Plan(context.Background(), PlanOptions{Take: sockets.Take}); err != nil {
		t.Errorf("Plan with the port free = %v; want no problem", err)
	}
}

func TestPlanDir(t *testing.T) {
	f := loadDoc(t, "[services.web]\nrun = \"x\"\ndir = \"web\"\n[services.api]\nrun = \"x\"\ndir = \"api/\"\n")
	if err := os.Mkdir(filepath.Join(f.Dir, "api"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := f.Plan(context.Background(), PlanOptions{})
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Key != "services.web.dir" || ps[0].Line != 3 || !strings.Contains(ps[0].Msg, "no such folder") {
		t.Fatalf("Plan with dir web missing = %v; want one problem at services.web.dir", err)
	}
	if err := os.Mkdir(filepath.Join(f.Dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := plan(t, f, PlanOptions{})
	if p.Services[0].Dir != filepath.Join(f.Dir, "api") || p.Services[1].Dir != filepath.Join(f.Dir, "web") {
		t.Errorf("dirs = %q, %q; want them under %s", p.Services[0].Dir, p.Services[1].Dir, f.Dir)
	}
}

// A service keeps the port it was picked while the project runs, unless the
// file now gives that port to another.
func TestPlanCurrent(t *testing.T) {
	f := loadDoc(t, "[services.api]\nrun = \"x\"\n[services.web]\nrun = \"x\"\nport = 40001\n")
	p := plan(t, f, PlanOptions{Current: map[string]uint16{"api": 40002, "web": 40003}})
	if p.Services[0].Port != 40002 || p.Services[1].Port != 40001 {
		t.Errorf("ports = %d, %d; want 40002 kept and 40001 as fixed", p.Services[0].Port, p.Services[1].Port)
	}
	p = plan(t, f, PlanOptions{Current: map[string]uint16{"api": 40001}})
	if p.Services[0].Port == 40001 {
		t.Errorf("api kept 40001, which web has now")
	}
}

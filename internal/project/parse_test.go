package project

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The same service written in each way TOML allows comes out the same.
func TestParseForms(t *testing.T) {
	want := []*Service{
		{Name: "api", Run: "go run ./cmd/api", Port: 8080, Restart: RestartOnFailure, Dir: "api",
			Env:   []EnvVar{{"DATABASE_URL", "postgres://localhost:${db.port}/app"}, {"DEBUG", "1"}},
			Ready: "http://localhost:${port}/health", After: []string{"db"}},
		{Name: "db", Run: "postgres -p ${port}", Restart: RestartNo},
	}
	tests := []struct {
		name, doc string
	}{
		{"tables", `
[services.db]
run = "postgres -p ${port}"

[services.api]
run = "go run ./cmd/api"
port = 8080
env = { DATABASE_URL = "postgres://localhost:${db.port}/app", DEBUG = "1" }
ready = "http://localhost:${port}/health"
after = ["db"]
restart = "on-failure"
dir = "api"
`},
		{"env table", `
[services.api]
run = 'go run ./cmd/api'
port = 8_080
ready = """http://localhost:${port}/health"""
after = [
  "db", # the database first
]
restart = "on-failure"
dir = "api"

[services.api.env]
DATABASE_URL = "postgres://localhost:${db.port}/app"
DEBUG = "1"

[services.db]
run = "postgres -p ${port}"
`},
		{"dotted keys", `
services.db.run = "postgres -p ${port}"
services.api.run = "go run ./cmd/api"
services.api.port = 0x1f90
services.api.env.DATABASE_URL = "postgres://localhost:${db.port}/app"
services.api.env.DEBUG = "1"
services.api.ready = "http://localhost:${port}/health"
services.api.after = ["db"]
services.api.restart = "on-failure"
services.api.dir = "api"
`},
		{"inline", `
[services]
db = { run = "postgres -p ${port}" }
api = { run = "go run ./cmd/api", port = 8080, env = { DATABASE_URL = "postgres://localhost:${db.port}/app", DEBUG = "1" }, ready = "http://localhost:${port}/health", after = ["db", "db"], restart = "on-failure", dir = "api" }
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("homeport.toml", []byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse(%q) = %v; want no error", tt.doc, err)
			}
			if tt.name == "inline" {
				// after lists db twice: kept as written, started once.
				want[0].After = []string{"db", "db"}
				defer func() { want[0].After = []string{"db"} }()
			}
			if d := cmp.Diff(want, f.Services, cmpopts.IgnoreUnexported(Service{})); d != "" {
				t.Errorf("Parse(%s) services (-want +got):\n%s", tt.name, d)
			}
		})
	}
}

// Each problem points at the key or value it is about, however the file is
// written.
func TestParsePositions(t *testing.T) {
	tests := []struct {
		name, doc string
		line, col int
		key       string
		kind      Kind
	}{
		{"header key", "[services.api]\nrun = \"x\"\nprot = 1\n", 3, 1, "services.api.prot", UnknownKey},
		{"dotted key", "services.api.run = \"x\"\nservices.api.prot = 1\n", 2, 14, "services.api.prot", UnknownKey},
		{"inline key", "[services]\napi = { run = \"x\", prot = 1 }\n", 2, 20, "services.api.prot", UnknownKey},
		{"port value", "[services.api]\nrun = \"x\"\nport =   70000\n", 3, 10, "services.api.port", BadPort},
		{"array element", "[services.api]\nrun = \"x\"\nafter = [ \"a\",\n  \"nope\" ]\n[services.a]\nrun = \"y\"\n", 4, 3, "services.api.after[1]", UnknownService},
		{"array element after comment", "[services.api]\nrun = \"x\"\nafter = [ # first\n  \"nope\" ]\n", 4, 3, "services.api.after[0]", UnknownService},
		{"reference in literal string", "[services.api]\nrun = 'go ${nope.port}'\n", 2, 11, "services.api.run", UnknownService},
		{"reference in multi-line string", "[services.api]\nrun = \"\"\"\ngo ${nope.port}\"\"\"\n", 3, 4, "services.api.run", UnknownService},
		{"reference after an escape", "[services.api]\nrun = \"\\tgo ${nope.port}\"\n", 2, 7, "services.api.run", UnknownService},
		{"reference in env", "[services.api]\nrun = \"x\"\n[services.api.env]\nA = \"${nope.url}\"\n", 4, 6, "services.api.env.A", UnknownService},
		{"quoted service name", "[services.\"my api\"]\nrun = \"x\"\n", 1, 11, `services."my api"`, BadName},
		{"missing run", "\n\n[services.api]\nport = 3000\n", 3, 11, "services.api", Missing},
		{"crlf lines", "[services.api]\r\nrun = \"x\"\r\nprot = 1\r\n", 3, 1, "services.api.prot", UnknownKey},
		{"syntax", "[services.api\nrun = \"x\"\n", 1, 14, "", Syntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("homeport.toml", []byte(tt.doc))
			var ps Problems
			if !errors.As(err, &ps) || len(ps) != 1 {
				t.Fatalf("Parse(%q) = %v; want one problem", tt.doc, err)
			}
			p := ps[0]
			if p.Line != tt.line || p.Column != tt.col || p.Key != tt.key || p.Kind != tt.kind || p.File != "homeport.toml" {
				t.Errorf("Parse(%q) = %s:%d:%d %s (%s); want %d:%d %s (%s)", tt.doc, p.File, p.Line, p.Column, p.Key, p.Kind,
					tt.line, tt.col, tt.key, tt.kind)
			}
			if p.Msg == "" || p.Hint == "" {
				t.Errorf("Parse(%q) = %+v; want a message and a hint", tt.doc, p)
			}
		})
	}
}

func TestSuggestKey(t *testing.T) {
	tests := []struct {
		word, want string
	}{
		{"prot", "port"},
		{"por", "port"},
		{"rn", "run"},
		{"enviroment", "env"},
		{"environment", "env"},
		{"command", "run"},
		{"depends_on", "after"},
		{"working_dir", "dir"},
		{"healthcheck", "ready"},
		{"Restart", "restart"},
		{"colour", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		got, ok := suggestKey(tt.word, serviceKeys)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("suggestKey(%q) = %q, %v; want %q", tt.word, got, ok, tt.want)
		}
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		hint string
	}{
		{"api", true, ""},
		{"web-2", true, ""},
		{"9lives", true, ""},
		{"API", false, `call it "api": [services.api]`},
		{"my_db", false, `call it "my-db": [services.my-db]`},
		{"-web", false, `call it "web": [services.web]`},
		{"web-", false, `call it "web": [services.web]`},
		{"db.local", false, `call it "db-local": [services.db-local]`},
		{"ünï", false, `call it "n": [services.n]`},
		{"__", false, "name it with letters a-z, digits and '-', like [services.api]"},
		{string(make([]byte, 64)), false, "shorten it"},
	}
	for _, tt := range tests {
		msg, hint := checkName(tt.name)
		if (msg == "") != tt.ok || hint != tt.hint {
			t.Errorf("checkName(%q) = %q, %q; want ok %v, hint %q", tt.name, msg, hint, tt.ok, tt.hint)
		}
	}
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(deep); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Find(%s) with no file = %v; want ErrNotFound", deep, err)
	}
	top := filepath.Join(root, "a", FileName)
	if err := os.WriteFile(top, []byte("[services.x]\nrun = \"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A folder called homeport.toml is not the file.
	if err := os.Mkdir(filepath.Join(root, "a", "b", FileName), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Find(deep); err != nil || got != top {
		t.Errorf("Find(%s) = %q, %v; want %q", deep, got, err, top)
	}
	near := filepath.Join(deep, FileName)
	if err := os.WriteFile(near, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Find(deep); err != nil || got != near {
		t.Errorf("Find(%s) = %q, %v; want the nearest, %q", deep, got, err, near)
	}
}

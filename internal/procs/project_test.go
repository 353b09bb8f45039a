package procs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestManifestName(t *testing.T) {
	tests := []struct {
		name, manifest, in, want string
	}{
		{"package.json", "package.json", `{"name": "shop-web", "version": "1.0.0"}`, "shop-web"},
		{"package.json scoped", "package.json", `{"name":"@acme/shop"}`, "@acme/shop"},
		{"package.json without name", "package.json", `{"private": true}`, ""},
		{"package.json name not a string", "package.json", `{"name": 7}`, ""},
		{"package.json control characters", "package.json", `{"name": "a\u001b[31mb"}`, ""},
		{"pyproject project", "pyproject.toml", "[build-system]\nrequires = [\"hatchling\"]\nname = \"no\"\n\n[project]\nname = \"billing-api\" # the service\nversion = \"0.1\"\n", "billing-api"},
		{"pyproject poetry", "pyproject.toml", "[tool.poetry]\nname = 'ledger'\n", "ledger"},
		{"pyproject both", "pyproject.toml", "[tool.poetry]\nname = \"old\"\n[project]\nname = \"new\"\n", "new"},
		{"pyproject dependency table", "pyproject.toml", "[project.optional-dependencies]\nname = \"x\"\n", ""},
		{"Cargo", "Cargo.toml", "[package]\nname = \"ferris-server\"\nedition = \"2021\"\n[dependencies]\nname = \"no\"\n", "ferris-server"},
		{"Cargo workspace", "Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\"]\n", ""},
		{"Cargo escaped", "Cargo.toml", "[package]\nname = \"a\\\"b\"\n", `a"b`},
		{"Cargo unknown escape", "Cargo.toml", "[package]\nname = \"a\\u0041\"\n", ""},
		{"Cargo table array", "Cargo.toml", "[[bin]]\nname = \"cli\"\n", ""},
		{"homeport.toml names nothing", "homeport.toml", "name = \"storefront\"\n[services.api]\nport = 3000\n", ""},
		{"top-level name", "Cargo.toml", "name = \"top\"\n[package]\nname = \"pkg\"\n", "pkg"},
		{"go.mod", "go.mod", "// the shop\nmodule github.com/acme/shop\n\ngo 1.24\n", "shop"},
		{"go.mod major version", "go.mod", "module example.com/acme/shop/v2 // v2\n", "shop"},
		{"go.mod v1 is a name", "go.mod", "module example.com/api/v1\n", "v1"},
		{"go.mod quoted", "go.mod", "module \"example.com/quoted\"\n", "quoted"},
		{"go.mod one element", "go.mod", "module homeport\n", "homeport"},
		{"go.mod modules word", "go.mod", "modules x\nmodule real\n", "real"},
		{"unknown", ".git", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ManifestName(tt.manifest, strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("ManifestName(%q, %q) error: %v", tt.manifest, tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ManifestName(%q, %q) = %q; want %q", tt.manifest, tt.in, got, tt.want)
			}
		})
	}
}

func TestManifestNameErrors(t *testing.T) {
	for _, tt := range []struct{ manifest, in string }{
		{"package.json", "{"},
		{"package.json", ""},
		{"Cargo.toml", "[package\nname = \"x\"\n"},
	} {
		if got, err := ManifestName(tt.manifest, strings.NewReader(tt.in)); err == nil {
			t.Errorf("ManifestName(%q, %q) = %q; want an error", tt.manifest, tt.in, got)
		}
	}
}

func FuzzManifestName(f *testing.F) {
	for _, s := range []struct{ m, in string }{
		{"package.json", `{"name":"x"}`},
		{"pyproject.toml", "[project]\nname = \"x\"\n"},
		{"Cargo.toml", "[package]\nname = 'x'\n"},
		{"go.mod", "module a/b/v3\n"},
		{"Cargo.toml", "[package]\nname = \"a\\\\b\"\n"},
	} {
		f.Add(s.m, s.in)
	}
	f.Fuzz(func(t *testing.T, manifest, in string) {
		name, err := ManifestName(manifest, strings.NewReader(in))
		if err != nil {
			return
		}
		if len(name) > 100 || strings.ContainsAny(name, "\n\r\t\x00") {
			t.Errorf("ManifestName(%q, %q) = %q; want a one-line name of at most 100 bytes", manifest, in, name)
		}
	})
}

func TestFindProject(t *testing.T) {
	fsys := fstest.MapFS{
		"home/dev/code/shop/package.json":          {Data: []byte(`{"name": "storefront"}`)},
		"home/dev/code/shop/.git/HEAD":             {Data: []byte("ref: refs/heads/main\n")},
		"home/dev/code/shop/src/server/index.js":   {Data: []byte("")},
		"home/dev/code/shop/packages/api/go.mod":   {Data: []byte("module github.com/acme/shop-api/v2\n")},
		"home/dev/code/shop/packages/api/cmd/x.go": {Data: []byte("")},
		"home/dev/code/plain/.git/HEAD":            {Data: []byte("")},
		"home/dev/code/plain/deep/er/file":         {Data: []byte("")},
		"home/dev/code/broken/package.json":        {Data: []byte("{")},
		"home/dev/code/broken/.git/HEAD":           {Data: []byte("")},
		"home/dev/code/nameless/Cargo.toml":        {Data: []byte("[workspace]\n")},
		"home/dev/scratch/notes.txt":               {Data: []byte("")},
		"srv/app/homeport.toml":                    {Data: []byte("[services.api]\nport = 8000\n")},
		"srv/tools/homeport.toml":                  {Data: []byte("[services.docs]\n")},
		"srv/app/pyproject.toml":                   {Data: []byte("[project]\nname = \"intranet\"\n")},
	}
	tests := []struct {
		dir  string
		want Project
		ok   bool
	}{
		{"/home/dev/code/shop/src/server", Project{Dir: "/home/dev/code/shop", Name: "storefront", Manifest: "package.json"}, true},
		{"/home/dev/code/shop", Project{Dir: "/home/dev/code/shop", Name: "storefront", Manifest: "package.json"}, true},
		{"/home/dev/code/shop/packages/api/cmd", Project{Dir: "/home/dev/code/shop/packages/api", Name: "shop-api", Manifest: "go.mod"}, true},
		{"/home/dev/code/plain/deep/er", Project{Dir: "/home/dev/code/plain", Name: "plain", Manifest: ".git"}, true},
		{"/home/dev/code/broken", Project{Dir: "/home/dev/code/broken", Name: "broken", Manifest: "package.json"}, true},
		{"/home/dev/code/nameless", Project{Dir: "/home/dev/code/nameless", Name: "nameless", Manifest: "Cargo.toml"}, true},
		{"/srv/app", Project{Dir: "/srv/app", Name: "intranet", Manifest: "pyproject.toml"}, true},
		{"/srv/tools", Project{Dir: "/srv/tools", Name: "tools", Manifest: "homeport.toml"}, true},
		{"/home/dev/scratch", Project{}, false},
		{"/", Project{}, false},
		{"/does/not/exist", Project{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			got, ok := FindProject(fsys, tt.dir)
			if ok != tt.ok {
				t.Fatalf("FindProject(%q) ok = %v; want %v (%+v)", tt.dir, ok, tt.ok, got)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FindProject(%q) (-want +got):\n%s", tt.dir, diff)
			}
		})
	}
}

// writeFiles creates files under dir from a map of relative path to
// content.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

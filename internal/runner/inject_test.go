package runner

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInject(t *testing.T) {
	scripts := map[string]string{
		"dev":     "vite",
		"dev2":    "NODE_ENV=development vite --host 127.0.0.1",
		"both":    "vite build && vite preview",
		"next":    "next dev --turbo",
		"ported":  "vite --port 3000",
		"astro":   "astro dev",
		"serve":   "python3 -m http.server",
		"crossed": "cross-env FOO=1 ng serve",
		"start":   "next dev",
	}
	script := func(name string) (string, bool) { s, ok := scripts[name]; return s, ok }
	vite := &Injection{Server: "vite", Args: []string{"--port", "4123", "--strictPort"}}
	port := &Injection{Args: []string{"--port", "4123"}}
	with := func(server string) *Injection { i := *port; i.Server = server; return &i }
	tests := []struct {
		name string
		argv string
		want string // "" : argv unchanged
		inj  *Injection
	}{
		{"vite alone", "vite", "vite --port 4123 --strictPort", vite},
		{"vite dev", "vite dev", "vite dev --port 4123 --strictPort", vite},
		{"vite root", "vite ./site --open", "vite ./site --open --port 4123 --strictPort", vite},
		{"vite preview", "vite preview", "vite preview --port 4123 --strictPort", vite},
		{"vite build", "vite build", "", nil},
		{"vite with port", "vite --port 3000", "", nil},
		{"vite with port=", "vite --port=3000", "", nil},
		{"vite strict already", "vite --strictPort", "vite --strictPort --port 4123", &Injection{Server: "vite", Args: []string{"--port", "4123"}}},
		{"vite path", "./node_modules/.bin/vite", "./node_modules/.bin/vite --port 4123 --strictPort", vite},
		{"vite.cmd", `node_modules\.bin\vite.cmd`, `node_modules\.bin\vite.cmd --port 4123 --strictPort`, vite},
		{"npx vite", "npx vite", "npx vite --port 4123 --strictPort", vite},
		{"npx --yes vite@7", "npx --yes vite@7", "npx --yes vite@7 --port 4123 --strictPort", vite},
		{"npx -p", "npx -p vite vite", "", nil},
		{"bunx vite", "bunx vite dev", "bunx vite dev --port 4123 --strictPort", vite},
		{"pnpm exec vite", "pnpm exec vite", "pnpm exec vite --port 4123 --strictPort", vite},
		{"npm exec", "npm exec vite", "npm exec vite --port 4123 --strictPort", vite},
		{"npx other", "npx serve", "", nil},
		{"astro dev", "astro dev", "astro dev --port 4123", with("astro")},
		{"astro build", "astro build", "", nil},
		{"npx astro dev", "npx astro dev", "npx astro dev --port 4123", with("astro")},
		{"ng serve", "ng serve", "ng serve --port 4123", with("ng")},
		{"ng s", "ng s -o", "ng s -o --port 4123", with("ng")},
		{"ng build", "ng build", "", nil},
		{"next dev", "next dev", "next dev --port 4123", with("next")},
		{"next dev -p", "next dev -p 3000", "", nil},
		{"next start", "next start", "", nil},
		{"npm run dev", "npm run dev", "npm run dev -- --port 4123 --strictPort", vite},
		{"npm run dev --", "npm run dev -- --open", "npm run dev -- --open --port 4123 --strictPort", vite},
		{"npm run-script env", "npm run-script dev2", "npm run-script dev2 -- --port 4123 --strictPort", vite},
		{"npm run ported", "npm run ported", "", nil},
		{"npm run dev -- --port", "npm run dev -- --port 5000", "", nil},
		{"npm run both", "npm run both", "", nil},
		{"npm run next", "npm run next", "npm run next -- --port 4123", with("next")},
		{"npm start", "npm start", "npm start -- --port 4123", with("next")},
		{"npm run missing", "npm run nothing", "", nil},
		{"npm run python", "npm run serve", "", nil},
		{"pnpm dev", "pnpm dev", "pnpm dev --port 4123 --strictPort", vite},
		{"pnpm run astro", "pnpm run astro", "pnpm run astro --port 4123", with("astro")},
		{"yarn dev", "yarn dev", "yarn dev --port 4123 --strictPort", vite},
		{"bun run dev", "bun run dev", "bun run dev --port 4123 --strictPort", vite},
		{"cross-env", "npm run crossed", "npm run crossed -- --port 4123", with("ng")},
		{"plain", "python3 -m http.server", "", nil},
		{"npm install", "npm install", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := strings.Fields(tt.argv)
			want := argv
			if tt.want != "" {
				want = strings.Fields(tt.want)
			}
			got, inj := Inject(argv, 4123, script)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Inject(%q) argv (-want +got):\n%s", tt.argv, diff)
			}
			if diff := cmp.Diff(tt.inj, inj); diff != "" {
				t.Errorf("Inject(%q) = %+v; want %+v", tt.argv, inj, tt.inj)
			}
		})
	}
}

func TestInjectLeavesArgvAlone(t *testing.T) {
	argv := make([]string, 1, 8)
	argv[0] = "vite"
	got, _ := Inject(argv, 1, nil)
	got[0] = "changed"
	if argv[0] != "vite" {
		t.Errorf("Inject wrote into its argument: %q", argv)
	}
}

func TestPackageScripts(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		err      bool
	}{
		{"scripts", `{"name":"x","scripts":{"dev":"vite","build":"vite build"}}`, map[string]string{"dev": "vite", "build": "vite build"}, false},
		{"none", `{"name":"x"}`, nil, false},
		{"not json", `scripts: dev`, nil, true},
		{"wrong type", `{"scripts":["vite"]}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PackageScripts(strings.NewReader(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("PackageScripts(%q) error = %v; want error %v", tt.in, err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PackageScripts(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// FuzzInject checks that Inject never panics, only ever appends to argv,
// and appends a port flag whenever it says it injected.
func FuzzInject(f *testing.F) {
	for _, s := range []string{"vite", "npx --yes vite@7 dev", "npm run dev -- --open", "pnpm exec", "npx", "npm run", "ng s", "next dev -p=3", "yarn"} {
		f.Add(s, "vite --host")
	}
	f.Fuzz(func(t *testing.T, cmdline, body string) {
		argv := strings.Fields(cmdline)
		got, inj := Inject(argv, 4123, func(string) (string, bool) { return body, true })
		if inj == nil {
			if !cmp.Equal(argv, got) {
				t.Fatalf("Inject(%q) = %q without an injection", argv, got)
			}
			return
		}
		if len(got) < len(argv) || !cmp.Equal(argv, got[:len(argv)]) {
			t.Fatalf("Inject(%q) = %q: not argv with flags after it", argv, got)
		}
		tail := strings.Join(got[len(argv):], " ")
		if !strings.Contains(tail, "--port 4123") {
			t.Fatalf("Inject(%q) = %q: no --port in what it added", argv, got)
		}
	})
}

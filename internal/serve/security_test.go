package serve

import (
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// jail builds parent/{site,site2,secret.txt} and returns parent/site: a
// root with a sibling folder whose name starts with the root's (a string
// prefix check would let it through), a secret beside it, and symlinks that
// point out of it and within it.
func jail(t testing.TB) string {
	t.Helper()
	parent := t.TempDir()
	for name, body := range map[string]string{
		"secret.txt":       "SECRET-PARENT",
		"site2/secret.txt": "SECRET-SIBLING",
		"site/index.html":  "<p>home</p>",
		"site/sub/a.txt":   "a",
		"site/.env":        "SECRET-ENV",
		"site/.git/config": "SECRET-GIT",
		"site/sub/.hidden": "SECRET-HIDDEN",
	} {
		p := filepath.Join(parent, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	site := filepath.Join(parent, "site")
	links := map[string]string{
		"link-out":     "../secret.txt",
		"link-abs":     filepath.Join(parent, "secret.txt"),
		"link-sibling": "../site2",
		"sub/link-up":  "../../secret.txt",
		"link-in":      "sub/a.txt",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(site, filepath.FromSlash(name))); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	return site
}

// traversal is the corpus of request targets that try to leave the root or
// reach hidden files, after Go's net/http fs tests and Caddy's
// TestSanitizedPathJoin, plus encodings of each.
var traversal = []string{
	"/../secret.txt",
	"/../../../../../../etc/passwd",
	"/..%2fsecret.txt",
	"/%2e%2e/secret.txt",
	"/%2e%2e%2fsecret.txt",
	"/%2E%2E%2Fsecret.txt",
	"/.%2e/secret.txt",
	"/%2e./secret.txt",
	"/%252e%252e%252fsecret.txt",
	"/..%252fsecret.txt",
	"/..%5csecret.txt",
	"/%2e%2e%5csecret.txt",
	"/..\\secret.txt",
	"/sub/..%5c..%5csecret.txt",
	"/%00../secret.txt",
	"/../secret.txt%00.html",
	"/index.html%00",
	"/%c0%ae%c0%ae/secret.txt",
	"/%c0%ae%c0%ae%c0%afsecret.txt",
	"/..%c0%afsecret.txt",
	"/%e0%80%ae%e0%80%ae/secret.txt",
	"/..%c1%9csecret.txt",
	"/#/../secret.txt",
	"/index.html#/../../secret.txt",
	"/?/../../secret.txt",
	"/index.html?../secret.txt",
	"/./../secret.txt",
	"//../secret.txt",
	"/....//secret.txt",
	"/..;/secret.txt",
	"/sub/../../secret.txt",
	"/../site2/secret.txt",
	"/%2e%2e/site2/secret.txt",
	"/../site/../site2/secret.txt",
	"http://localhost/../secret.txt",
	"/link-out",
	"/link-abs",
	"/link-sibling/secret.txt",
	"/link-sibling/",
	"/sub/link-up",
	"/.env",
	"/%2eenv",
	"/.git/config",
	"/%2egit/config",
	"/.git/",
	"/sub/.hidden",
	"/sub/%2ehidden",
	"/sub/../.env",
	"/.git/../.env",
	"/sub/.%2e/.env",
}

func TestTraversal(t *testing.T) {
	ts := start(t, Options{Dir: jail(t)})
	for _, target := range traversal {
		code, out := ts.raw(t, target)
		if strings.Contains(out, "SECRET") {
			t.Errorf("GET %s = %d, leaks %q", target, code, out)
		}
		if code == 200 && !strings.Contains(out, "<p>home</p>") && !strings.Contains(out, "Index of") {
			t.Errorf("GET %s = 200 %q; want a refusal or the site's own page", target, out)
		}
	}
	// The ones that name something real outside are 404, not an error page
	// that would tell a probe the file exists.
	for _, target := range []string{"/link-out", "/link-abs", "/link-sibling/secret.txt", "/sub/link-up", "/.env", "/.git/config", "/%2egit/config", "/sub/.hidden"} {
		if code, _ := ts.raw(t, target); code != 404 {
			t.Errorf("GET %s = %d; want 404", target, code)
		}
	}
	// A symlink that stays inside the root works.
	if code, out := ts.raw(t, "/link-in"); code != 200 || !strings.HasSuffix(out, "\na") {
		t.Errorf("GET /link-in = %d %q; want 200 a", code, out)
	}
	// The listing hides what would 404.
	if _, out := ts.raw(t, "/sub/"); strings.Contains(out, "link-up") || strings.Contains(out, ".hidden") || !strings.Contains(out, "a.txt") {
		t.Errorf("listing of /sub/ shows an escaping link or a dotfile, or hides a.txt:\n%s", out)
	}
}

func TestTraversalSPAAndLive(t *testing.T) {
	// The fallback and the injection take the same resolver: still nothing
	// from outside.
	ts := start(t, Options{Dir: jail(t), SPA: true, Live: true})
	for _, target := range traversal {
		if code, out := ts.raw(t, target); strings.Contains(out, "SECRET") {
			t.Errorf("GET %s (spa, live) = %d, leaks %q", target, code, out)
		}
	}
}

func TestDotfilesOption(t *testing.T) {
	ts := start(t, Options{Dir: jail(t), Dotfiles: true})
	for target, want := range map[string]string{"/.env": "SECRET-ENV", "/%2egit/config": "SECRET-GIT", "/sub/.hidden": "SECRET-HIDDEN"} {
		if code, out := ts.raw(t, target); code != 200 || !strings.HasSuffix(out, want) {
			t.Errorf("GET %s with dotfiles = %d %q; want 200 %q", target, code, out, want)
		}
	}
	if code, out := ts.raw(t, "/link-out"); code != 404 || strings.Contains(out, "SECRET") {
		t.Errorf("GET /link-out with dotfiles = %d %q; want 404", code, out)
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		name, in string
		dotfiles bool
		want     string
		err      error
	}{
		{"root", "/", false, ".", nil},
		{"file", "/a.txt", false, "a.txt", nil},
		{"nested", "/a/b/c.txt", false, "a/b/c.txt", nil},
		{"trailing slash", "/a/b/", false, "a/b", nil},
		{"dotdot folded at root", "/../../etc/passwd", false, "etc/passwd", nil},
		{"dotdot inside", "/a/../b", false, "b", nil},
		{"double slash", "//a//b", false, "a/b", nil},
		{"dot segment", "/./a", false, "a", nil},
		{"no leading slash", "a.txt", false, "", errBadPath},
		{"empty", "", false, "", errBadPath},
		{"nul", "/a\x00.txt", false, "", errBadPath},
		{"backslash", "/..\\secret", false, "", errBadPath},
		{"overlong dot", "/\xc0\xae\xc0\xae/x", false, "", errBadPath},
		{"invalid utf8", "/\xff", false, "", errBadPath},
		{"dotfile", "/.env", false, "", errHidden},
		{"dot folder", "/.git/config", false, "", errHidden},
		{"dot folder folded away", "/.git/../a", false, "", errHidden},
		{"nested dotfile", "/a/.hidden", false, "", errHidden},
		{"dotfile allowed", "/.env", true, ".env", nil},
		{"dots in name", "/a..b", false, "a..b", nil},
		{"unicode", "/héllo wörld.txt", false, "héllo wörld.txt", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cleanPath(tt.in, tt.dotfiles)
			if got != tt.want || err != tt.err {
				t.Errorf("cleanPath(%q, %v) = %q, %v; want %q, %v", tt.in, tt.dotfiles, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestWindowsAlias(t *testing.T) {
	for p, want := range map[string]bool{
		"/GIT~1/config": true, "/x.txt::$DATA": true, "/C:/Windows/win.ini": true, "/a~b": false, "/~user/": false, "/a/b.txt": false,
	} {
		if got := windowsAlias(p); got != want {
			t.Errorf("windowsAlias(%q) = %v; want %v", p, got, want)
		}
	}
}

// FuzzResolve checks the resolver's invariant: whatever request target it is
// given, a file it opens is one of the files inside the root (by identity,
// not by name), never the secret beside it.
func FuzzResolve(f *testing.F) {
	for _, s := range traversal {
		f.Add(s)
	}
	for _, s := range []string{"/", "/index.html", "/sub/a.txt", "/link-in", "/sub/../index.html", "/%2e%2e/%2e%2e/secret.txt"} {
		f.Add(s)
	}
	site := jail(f)
	root, err := os.OpenRoot(site)
	if err != nil {
		f.Fatal(err)
	}
	defer root.Close()
	var inside []fs.FileInfo
	filepath.WalkDir(site, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := os.Stat(p)
			inside = append(inside, fi)
		}
		return nil
	})
	if len(inside) < 4 {
		f.Fatalf("jail has %d files", len(inside))
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		for _, dot := range []bool{false, true} {
			name, fi, err := resolve(root, u.Path, dot)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			file, ofi, err := open(root, name)
			if err != nil {
				continue
			}
			file.Close()
			found := false
			for _, in := range inside {
				if os.SameFile(ofi, in) {
					found = true
				}
			}
			if !found {
				t.Fatalf("resolve(%q) opened %q, which is not a file inside the root", u.Path, name)
			}
			if !dot && strings.Contains(name, "/.") || strings.HasPrefix(name, ".") && !dot {
				t.Fatalf("resolve(%q) without dotfiles opened hidden %q", u.Path, name)
			}
		}
	})
}

func TestForbiddenHostLeaksNothing(t *testing.T) {
	ts := start(t, Options{Dir: jail(t)})
	r := ts.get(t, "/index.html", "Host: attacker.example:62893")
	if r.code != http.StatusForbidden || strings.Contains(r.body, "home") {
		t.Errorf("GET with Host attacker.example = %d %q; want 403 without content", r.code, r.body)
	}
}

package procs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// Project is the project a process works in: the nearest folder at or
// above its working directory that holds a project marker.
type Project struct {
	Dir      string `json:"dir"`      // the project's folder, as the process sees it
	Name     string `json:"name"`     // the manifest's name, else the folder's name
	Manifest string `json:"manifest"` // the marker found: "package.json", ".git", ...
}

// projectMarkers are the files and folders that make a folder a project, in
// the order their names are preferred when a folder holds several: a
// package.json beside .git names the project, the checkout's folder does
// not.
var projectMarkers = []string{"homeport.toml", "package.json", "pyproject.toml", "Cargo.toml", "go.mod", ".git"}

// maxManifest bounds how much of a manifest is read: names sit near the top.
const maxManifest = 1 << 20

// FindProject returns the project holding dir, looking in dir and each
// folder above it for a marker (projectMarkers); the file system's root is
// never a project. fsys is the process's view of the file system rooted at
// "/" (its mount namespace: /proc/<pid>/root on Linux), dir an absolute
// path in it. ok is false when no folder up to the root has a marker.
//
// The name is the manifest's own where it has one:
//   - package.json: "name" ("@acme/shop" as written, scope included);
//   - pyproject.toml: [project] name, else [tool.poetry] name;
//   - Cargo.toml: [package] name (a workspace root has none);
//   - go.mod: the module path's last element, without a /vN major version
//     suffix (example.com/acme/shop/v2 → shop), which is what Go developers
//     call the module; the full path stays in go.mod;
//
// else the folder's name. homeport.toml marks a project but names none (it
// holds services only).
func FindProject(fsys fs.FS, dir string) (Project, bool) {
	dir = path.Clean("/" + dir)
	for depth := 0; dir != "/" && depth < 64; depth++ {
		rel := dir[1:]
		var p Project
		for _, m := range projectMarkers {
			if _, err := fs.Stat(fsys, rel+"/"+m); err != nil {
				continue
			}
			if p.Manifest == "" {
				p = Project{Dir: dir, Name: path.Base(dir), Manifest: m}
			}
			if m == ".git" {
				break
			}
			f, err := fsys.Open(rel + "/" + m)
			if err != nil {
				continue
			}
			name, err := ManifestName(m, io.LimitReader(f, maxManifest))
			f.Close()
			if err == nil && name != "" {
				p.Name, p.Manifest = name, m
				break
			}
		}
		if p.Manifest != "" {
			return p, true
		}
		dir = path.Dir(dir)
	}
	return Project{}, false
}

// ManifestName returns the project name a manifest declares; manifest is
// the file's base name (see FindProject for what each one names). It
// returns "" without an error when the manifest has no name.
func ManifestName(manifest string, r io.Reader) (string, error) {
	var name string
	var err error
	switch manifest {
	case "package.json":
		var pkg struct {
			Name any `json:"name"`
		}
		if err := json.NewDecoder(r).Decode(&pkg); err != nil {
			return "", fmt.Errorf("package.json: %w", err)
		}
		name, _ = pkg.Name.(string)
	case "pyproject.toml":
		var names map[string]string
		names, err = tomlNames(r, "project", "tool.poetry")
		name = names["project"]
		if name == "" {
			name = names["tool.poetry"]
		}
	case "Cargo.toml":
		var names map[string]string
		names, err = tomlNames(r, "package")
		name = names["package"]
	case "go.mod":
		name, err = goModuleName(r)
	default:
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", manifest, err)
	}
	return cleanName(name), nil
}

// cleanName keeps a name fit for one line of output: no control characters,
// at most 100 bytes.
func cleanName(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return ""
	}
	if len(s) > 100 {
		return ""
	}
	return s
}

// tomlNames reads the `name = "..."` keys of the given tables ("" is the
// top level) from a TOML file. It is a line scanner, not a TOML parser: the
// name of a project is a plain string on its own line in every manifest
// that tools write, and a dependency on a TOML library costs start-up time
// for one key. Names in other forms (multi-line strings, dotted keys such
// as project.name at the top level) are not found.
func tomlNames(r io.Reader, tables ...string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	table := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, errors.New("unclosed table header")
			}
			table = strings.TrimSpace(strings.Trim(line[:end], "[]"))
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != "name" {
			continue
		}
		want := false
		for _, t := range tables {
			want = want || t == table
		}
		if !want {
			continue
		}
		if _, done := out[table]; done {
			continue
		}
		if s, ok := tomlString(strings.TrimSpace(val)); ok {
			out[table] = s
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// tomlString reads a one-line basic ("...") or literal ('...') string at the
// start of v. Basic strings with escapes other than \" and \\ are not
// names homeport shows, and are refused.
func tomlString(v string) (string, bool) {
	if len(v) < 2 {
		return "", false
	}
	switch v[0] {
	case '\'':
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 || strings.HasPrefix(v, "'''") {
			return "", false
		}
		return v[1 : 1+end], true
	case '"':
		if strings.HasPrefix(v, `"""`) {
			return "", false
		}
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch c := v[i]; c {
			case '"':
				return b.String(), true
			case '\\':
				if i+1 >= len(v) || (v[i+1] != '"' && v[i+1] != '\\') {
					return "", false
				}
				i++
				b.WriteByte(v[i])
			default:
				b.WriteByte(c)
			}
		}
	}
	return "", false
}

// goModuleName returns the last element of go.mod's module path, without a
// major version suffix.
func goModuleName(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "module")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '"') {
			continue
		}
		if i := strings.Index(rest, "//"); i >= 0 {
			rest = rest[:i]
		}
		mod := strings.Trim(strings.TrimSpace(rest), "\"`")
		if mod == "" {
			return "", nil
		}
		elems := strings.Split(mod, "/")
		last := elems[len(elems)-1]
		if len(elems) > 1 && isMajorSuffix(last) {
			last = elems[len(elems)-2]
		}
		return last, nil
	}
	return "", sc.Err()
}

// isMajorSuffix reports whether e is a module path's major version element:
// v2, v3, ... (v0 and v1 are never suffixes).
func isMajorSuffix(e string) bool {
	if len(e) < 2 || e[0] != 'v' || e[1] == '0' || e == "v1" {
		return false
	}
	for i := 1; i < len(e); i++ {
		if e[i] < '0' || e[i] > '9' {
			return false
		}
	}
	return true
}

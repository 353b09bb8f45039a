// Package project reads homeport.toml, a project's services side by side:
// what to run, on which port, after what, and when it is ready. It checks the
// file whole (every mistake at once, each with file, line, column and key),
// and turns it into a Plan: the start order, each service's port, URL,
// command and environment. `homeport check` prints the plan; starting the
// services follows it.
//
//	[services.db]
//	run  = "postgres -D ./data -p ${port}"
//	port = 5433
//
//	[services.api]
//	run   = "go run ./cmd/api"
//	env   = { DATABASE_URL = "postgres://localhost:${db.port}/app" }
//	ready = "http://localhost:${port}/health"
//	after = ["db"]
//
// A service's keys:
//
//	run      the command line, for the shell; required
//	port     a fixed port; without it, a free port stable for the name, as
//	         `homeport free --name NAME` picks
//	env      environment variables, strings; PORT and HOST=127.0.0.1 are set
//	         before them, so env may override both
//	ready    a `homeport wait` target (3000, localhost:3000,
//	         http://localhost:${port}/health); default: the port answers
//	after    services to start first, each once it is ready
//	restart  "no" (default: when the service exits, every service stops) or
//	         "on-failure" (restarted when it exits with an error)
//	dir      the working folder, relative to the file's folder (default: it)
//
// run, env and ready may refer to ports and URLs: see the references in
// expand.go.
package project

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
)

// FileName is the project file's name.
const FileName = "homeport.toml"

// RouterPort is the daemon's port, where http://NAME.localhost:62893 is
// served. No service may take it.
const RouterPort = 62893

// ErrNotFound is returned by Find when no folder up to the root holds a
// project file.
var ErrNotFound = errors.New("no " + FileName + " here or in a parent folder")

// Find returns the path of homeport.toml in dir or its nearest parent that
// has one, as git finds .git.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", FileName, err)
	}
	for d := abs; ; {
		p := filepath.Join(d, FileName)
		fi, err := os.Stat(p)
		if err == nil && !fi.IsDir() {
			return p, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("finding %s: %w", FileName, err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("%w (looked from %s up to %s)", ErrNotFound, abs, d)
		}
		d = parent
	}
}

// Restart says what happens when a service exits.
type Restart string

// The restart policies.
const (
	RestartNo        Restart = "no"         // its exit stops every service
	RestartOnFailure Restart = "on-failure" // restarted, with backoff, when it exits with an error
)

// File is a checked project file.
type File struct {
	// Path is the file as named in problems.
	Path string
	// Dir is the absolute folder the file is in: dir and relative paths
	// are taken from it.
	Dir string
	// Services sorted by name.
	Services []*Service

	src *source
}

// Service is one [services.NAME] table, as written.
type Service struct {
	Name    string
	Run     string
	Port    uint16 // 0: picked free, stable for the name
	Env     []EnvVar
	Ready   string // "" : the port answers
	After   []string
	Restart Restart
	Dir     string // as written; "" the file's folder

	run   template
	ready template
	env   []template // per Env
}

// EnvVar is one variable of a service's env, as written.
type EnvVar struct {
	Name  string
	Value string
}

// Service returns the service called name.
func (f *File) Service(name string) (*Service, bool) {
	i, ok := slices.BinarySearchFunc(f.Services, name, func(s *Service, n string) int { return strings.Compare(s.Name, n) })
	if !ok {
		return nil, false
	}
	return f.Services[i], true
}

// names returns the services' names, sorted.
func (f *File) names() []string {
	ns := make([]string, len(f.Services))
	for i, s := range f.Services {
		ns[i] = s.Name
	}
	return ns
}

// Load reads and checks the file at path; problems name it as shown.
// The error is Problems when the file has mistakes.
func Load(path, shown string) (*File, error) {
	f, probs, err := load(path, shown)
	if err != nil {
		return nil, err
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return f, nil
}

// load reads the file at path and returns it with its problems: a file
// that has some is still given, as far as it could be read, so that what
// the system knows about it (ports held, folders missing) is checked too.
func load(path, shown string) (*File, Problems, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", shown, err)
	}
	f, probs, err := parse(shown, data)
	if err != nil || f == nil {
		return nil, probs, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	f.Dir = filepath.Dir(abs)
	return f, probs, nil
}

// Parse checks a project file's text; name is how problems name the file.
// It reports every mistake it can find without looking at the system (a
// port that another process holds is Plan's to find). On mistakes, it
// returns Problems, sorted by position, and no File.
func Parse(name string, data []byte) (*File, error) {
	f, probs, err := parse(name, data)
	if err != nil {
		return nil, err
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return f, nil
}

// parse is Parse that also returns what it could read of a file with
// mistakes (nil when it is not TOML).
func parse(name string, data []byte) (*File, Problems, error) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			return nil, Problems{syntaxProblem(name, data, de)}, nil
		}
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	src := newSource(name, data)
	d := &decoder{src: src}
	f := d.file(doc)
	d.crossCheck(f)
	d.problems.sort()
	f.src = src
	return f, d.problems, nil
}

// syntaxProblem explains a document that is not TOML. go-toml names a key
// relative to its table; the walk up to the mistake gives its whole path,
// and for a key written twice, where it was first.
func syntaxProblem(name string, data []byte, de *toml.DecodeError) Problem {
	line, col := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	p := Problem{File: name, Line: line, Column: col, Key: displayKey(de.Key()...), Kind: Syntax, Msg: msg,
		Hint: "the file must be TOML (https://toml.io); see 'homeport check --help' for an example"}
	src := newSource(name, data)
	path, ok := src.whole[src.offset(line, col)]
	if !ok {
		if path, ok = src.at[src.offset(line, col)]; !ok {
			return p
		}
	}
	p.Key = displayKey(path...)
	here := src.offset(line, col)
	first, ok := src.keys[pathKey(path...)]
	if _, isWhole := src.whole[here]; isWhole {
		// Point at the first writing the same way: at its key's start.
		for off, w := range src.whole {
			if off < here && slices.Equal(w, path) && (off < first || !ok) {
				first, ok = off, true
			}
		}
	}
	if ok && first != here {
		fl, fc := src.lineCol(first)
		p.Hint = fmt.Sprintf("%s is first written at %s:%d:%d; a key is written once: keep one of the two", p.Key, name, fl, fc)
	}
	return p
}

// decoder turns the decoded maps into a File, collecting problems.
type decoder struct {
	src      *source
	problems Problems
	// declared are all names under [services], even of services too
	// broken to decode: a reference to one is not also "no such service".
	declared []string
}

func (d *decoder) add(off int, kind Kind, key []string, msg, hint string) {
	d.problems = append(d.problems, d.src.problem(off, kind, key, msg, hint))
}

var (
	topKeys     = []string{"services"}
	serviceKeys = []string{"run", "port", "env", "ready", "after", "restart", "dir"}
)

// synonyms are the names Procfile runners, docker compose and friends give
// to a service's keys: a user who writes them means ours. Built on first
// use, not at every command's start.
var synonyms = sync.OnceValue(func() map[string]string {
	return map[string]string{
		"command": "run", "cmd": "run", "exec": "run", "script": "run", "entrypoint": "run",
		"environment": "env", "environ": "env", "vars": "env",
		"depends_on": "after", "depends": "after", "depends-on": "after", "needs": "after", "requires": "after",
		"working_dir": "dir", "workdir": "dir", "working-dir": "dir", "cwd": "dir", "directory": "dir", "root": "dir",
		"healthcheck": "ready", "health": "ready", "readiness": "ready", "wait": "ready", "ready_check": "ready",
		"ports": "port", "expose": "port", "listen": "port",
		"restart_policy": "restart", "autorestart": "restart",
		"service": "services", "apps": "services", "processes": "services",
	}
})

// suggestKey is the known key meant by k: a synonym, a near spelling, or a
// key k begins with (enviroment → env).
func suggestKey(k string, known []string) (string, bool) {
	lk := strings.ToLower(k)
	if s, ok := synonyms()[lk]; ok && slices.Contains(known, s) {
		return s, true
	}
	if s, ok := suggest(k, known); ok {
		return s, true
	}
	for _, c := range known {
		if len(c) >= 3 && strings.HasPrefix(lk, c) {
			return c, true
		}
	}
	return "", false
}

// unknownKey reports a key that is not one of known.
func (d *decoder) unknownKey(path []string, known []string, where string) {
	k := path[len(path)-1]
	hint := fmt.Sprintf("%s takes %s", where, quoteAll(known))
	if s, ok := suggestKey(k, known); ok {
		hint = fmt.Sprintf("did you mean %q? %s", s, hint)
	}
	d.add(d.src.keyOff(path), UnknownKey, path, fmt.Sprintf("unknown key %q", k), hint)
}

func (d *decoder) file(doc map[string]any) *File {
	f := &File{Path: d.src.name}
	for _, k := range sortedKeys(doc) {
		if k != "services" {
			d.unknownKey([]string{k}, topKeys, "the file")
		}
	}
	raw, ok := doc["services"]
	if !ok {
		d.add(0, NoServices, nil, "no services",
			`add one: [services.NAME] with run = "the command that starts it"`)
		return f
	}
	services, ok := raw.(map[string]any)
	if !ok {
		d.wrongType([]string{"services"}, raw, "a table", "[services.NAME] tables")
		return f
	}
	if len(services) == 0 {
		d.add(d.src.keyOff([]string{"services"}), NoServices, []string{"services"}, "no services",
			`add one: [services.NAME] with run = "the command that starts it"`)
	}
	d.declared = sortedKeys(services)
	for _, name := range d.declared {
		if s := d.service(name, services[name]); s != nil {
			f.Services = append(f.Services, s)
		}
	}
	return f
}

func (d *decoder) service(name string, raw any) *Service {
	path := []string{"services", name}
	if msg, hint := checkName(name); msg != "" {
		d.add(d.src.keyOff(path), BadName, path, msg, hint)
	}
	t, ok := raw.(map[string]any)
	if !ok {
		d.wrongType(path, raw, "a table", fmt.Sprintf(`[services.%s] with run = "..."`, displayKey(name)))
		return nil
	}
	s := &Service{Name: name, Restart: RestartNo}
	for _, k := range sortedKeys(t) {
		v, kp := t[k], append(path[:2:2], k)
		switch k {
		case "run":
			if str, ok := d.str(kp, v, `run = "npm start"`); ok {
				if strings.TrimSpace(str) == "" {
					d.add(d.src.valOff(kp), BadValue, kp, "run is empty", `give the command that starts the service, like run = "npm start"`)
				}
				s.Run = str
				s.run = d.template(kp, str)
			}
		case "port":
			s.Port = d.port(kp, v)
		case "env":
			s.Env, s.env = d.envTable(kp, v)
		case "ready":
			if str, ok := d.str(kp, v, `ready = "http://localhost:${port}/health"`); ok {
				s.Ready = str
				n := len(d.problems)
				s.ready = d.template(kp, str)
				if len(d.problems) == n {
					d.readyTarget(kp, str, s.ready)
				}
			}
		case "after":
			s.After = d.after(kp, v)
		case "restart":
			if str, ok := d.str(kp, v, `restart = "on-failure"`); ok {
				switch Restart(str) {
				case RestartNo, RestartOnFailure:
					s.Restart = Restart(str)
				default:
					hint := `write restart = "no" or restart = "on-failure"`
					if sug, ok := suggest(str, []string{"no", "on-failure"}); ok {
						hint = fmt.Sprintf("did you mean %q? %s", sug, hint)
					}
					d.add(d.src.valOff(kp), BadValue, kp, fmt.Sprintf("restart %q is not a policy homeport knows", str), hint)
				}
			}
		case "dir":
			if str, ok := d.str(kp, v, `dir = "./web"`); ok {
				if str == "" {
					d.add(d.src.valOff(kp), BadValue, kp, "dir is empty", "remove dir to run in the file's folder, or name a folder like dir = \"./web\"")
				}
				s.Dir = str
			}
		default:
			d.unknownKey(kp, serviceKeys, "a service")
		}
	}
	if _, ok := t["run"]; !ok {
		d.add(d.src.keyOff(path), Missing, path, "missing run: the command that starts the service",
			fmt.Sprintf(`add run = "..." under [services.%s], like run = "npm start"`, displayKey(name)))
	}
	return s
}

// checkName says what is wrong with a service name, which must be a DNS
// label: it becomes NAME.localhost. Names are lowercase: host names are not
// case-sensitive, so "API" and "api" would be one route.
func checkName(name string) (msg, hint string) {
	if name == "" {
		return "a service needs a name", "name it like [services.api]"
	}
	if len(name) > 63 {
		return fmt.Sprintf("service name is %d characters long; a name has at most 63 (it becomes NAME.localhost)", len(name)), "shorten it"
	}
	fixed := fixName(name)
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r == '-' && i > 0 && i < len(name)-1:
		case r == '-':
			return fmt.Sprintf("service name %q starts or ends with '-'; it becomes %s.localhost, a DNS name", name, name),
				suggestName(fixed)
		case r >= 'A' && r <= 'Z':
			return fmt.Sprintf("service name %q has the capital %q; names are lowercase, as host names are not case-sensitive", name, r),
				suggestName(fixed)
		default:
			return fmt.Sprintf("service name %q has %q at position %d; a name is letters a-z, digits and '-' (it becomes NAME.localhost)", name, r, i+1),
				suggestName(fixed)
		}
	}
	return "", ""
}

func suggestName(fixed string) string {
	if fixed == "" {
		return "name it with letters a-z, digits and '-', like [services.api]"
	}
	return fmt.Sprintf("call it %q: [services.%s]", fixed, fixed)
}

// fixName is the nearest valid name: lowercase, other characters as '-'.
func fixName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	return s
}

// typeName names a decoded TOML value's type for a message.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}

func (d *decoder) wrongType(path []string, v any, want, example string) {
	d.add(d.src.valOff(path), WrongType, path, fmt.Sprintf("%s must be %s, not %s", path[len(path)-1], want, typeName(v)),
		"write "+example)
}

func (d *decoder) str(path []string, v any, example string) (string, bool) {
	s, ok := v.(string)
	if !ok {
		d.wrongType(path, v, "a string", example)
	}
	return s, ok
}

func (d *decoder) port(path []string, v any) uint16 {
	n, ok := v.(int64)
	if !ok {
		example := "port = 3000"
		if s, isStr := v.(string); isStr {
			if p, err := parsePortString(s); err == nil {
				example = fmt.Sprintf("port = %d, without quotes", p)
			}
		}
		d.wrongType(path, v, "an integer", example)
		return 0
	}
	if n < 1 || n > 65535 {
		d.add(d.src.valOff(path), BadPort, path, fmt.Sprintf("port %d is outside 1-65535", n),
			"give a port from 1 to 65535, or remove port so homeport picks a free one")
		return 0
	}
	if n == RouterPort {
		d.add(d.src.valOff(path), BadPort, path, fmt.Sprintf("port %d is homeport's own (the dashboard and http://NAME.localhost:%d)", n, RouterPort),
			"give another port, or remove port so homeport picks a free one")
		return 0
	}
	return uint16(n)
}

func parsePortString(s string) (int, error) {
	var p int
	_, err := fmt.Sscanf(s, "%d", &p)
	if err != nil || p < 1 || p > 65535 || fmt.Sprint(p) != s {
		return 0, errors.New("not a port")
	}
	return p, nil
}

func (d *decoder) envTable(path []string, v any) ([]EnvVar, []template) {
	t, ok := v.(map[string]any)
	if !ok {
		d.wrongType(path, v, "a table of strings", `env = { NAME = "value" }`)
		return nil, nil
	}
	var vars []EnvVar
	var tmpls []template
	for _, k := range sortedKeys(t) {
		kp := append(path[:len(path):len(path)], k)
		if k == "" || strings.ContainsAny(k, "=\x00") {
			d.add(d.src.keyOff(kp), BadName, kp, fmt.Sprintf("%q is not an environment variable name", k),
				"a name has no '=' and is not empty, like DATABASE_URL")
			continue
		}
		val := t[k]
		var s string
		switch x := val.(type) {
		case string:
			s = x
		case int64, float64, bool:
			d.add(d.src.valOff(kp), WrongType, kp, fmt.Sprintf("%s must be a string, not %s", k, typeName(val)),
				fmt.Sprintf(`write %s = "%v"`, displayKey(k), x))
			continue
		default:
			d.wrongType(kp, val, "a string", fmt.Sprintf(`%s = "value"`, displayKey(k)))
			continue
		}
		vars = append(vars, EnvVar{Name: k, Value: s})
		tmpls = append(tmpls, d.template(kp, s))
	}
	return vars, tmpls
}

func (d *decoder) after(path []string, v any) []string {
	arr, ok := v.([]any)
	if !ok {
		example := `after = ["db"]`
		if s, isStr := v.(string); isStr {
			example = fmt.Sprintf("after = [%q]", s)
		}
		d.wrongType(path, v, "an array of service names", example)
		return nil
	}
	var names []string
	for i, e := range arr {
		ep := append(path[:len(path):len(path)], index(i))
		s, ok := e.(string)
		if !ok {
			d.add(d.src.valOff(ep), WrongType, ep, fmt.Sprintf("after lists service names, not %s", typeName(e)),
				`write after = ["db"]`)
			continue
		}
		names = append(names, s)
	}
	return names
}

// template parses a string's references, reporting the malformed ones.
func (d *decoder) template(path []string, s string) template {
	t, errs := parseTemplate(s)
	for _, e := range errs {
		d.add(d.src.strOff(path, e.off), BadReference, path, e.msg, e.hint)
	}
	return t
}

// readyTarget checks that ready, with its references filled in, is a target
// `homeport wait` takes.
func (d *decoder) readyTarget(path []string, written string, t template) {
	s := t.expand(func(r Ref) string {
		if r.Field == "url" {
			return "http://x.localhost:1"
		}
		return "1"
	})
	if _, err := parseReady(s); err != nil {
		// The error quotes the target with stand-ins for the references;
		// the message quotes it as written instead.
		why := strings.TrimPrefix(strings.TrimPrefix(err.Error(), strconv.Quote(s)), ": ")
		d.add(d.src.valOff(path), BadValue, path, fmt.Sprintf("%q is not a target homeport wait takes: %s", written, strings.TrimSpace(why)),
			`give a port, host:port or http(s) URL, like ready = "http://localhost:${port}/health"`)
	}
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const checkGoodDoc = `[services.db]
run   = "postgres -D ./data -p ${port}"
port  = DBPORT

[services.api]
run   = "go run ./cmd/api"
env   = { DATABASE_URL = "postgres://localhost:${db.port}/app" }
ready = "http://localhost:${port}/health"
after = ["db"]

[services.web]
run   = "npx vite"
after = ["api"]
`

// checkGood returns the three-service file with db on a port nothing holds
// now (check reports a fixed port that another process holds), and that port.
func checkGood(t *testing.T) (string, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return strings.Replace(checkGoodDoc, "DBPORT", p, 1), p
}

// runCheck runs `homeport check args...` from dir and returns stdout,
// stderr and the exit code, as Main would.
func runCheck(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	io := &IO{Out: &out, Err: &errb}
	f := NewFactory(io)
	cmd := NewCmdCheck(f, func(o *CheckOptions) error {
		o.Dir = dir
		return checkRun(context.Background(), o)
	})
	cmd.SetArgs(args)
	cmd.SetOut(io.Out)
	cmd.SetErr(io.Err)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		printError(io, err)
	}
	return out.String(), errb.String(), exitCode(err)
}

func writeProject(t *testing.T, doc string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "homeport.toml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckPlan(t *testing.T) {
	good, db := checkGood(t)
	dir := writeProject(t, good)
	sub := filepath.Join(dir, "cmd", "api")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// Found from a folder below, and named relative to it.
	out, errs, code := runCheck(t, filepath.Join(dir, "cmd"))
	if code != 0 || errs != "" {
		t.Fatalf("check = %d, stderr %q; want 0 and nothing", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || lines[0] != "ok: ../homeport.toml, 3 services" {
		t.Fatalf("check printed %q; want ok and three services", out)
	}
	for i, want := range []string{"1\tdb\t" + db + "\thttp://db.localhost:62893\t-\tport " + db + " answers", "2\tapi\t", "3\tweb\t"} {
		if !strings.HasPrefix(lines[i+1], want) {
			t.Errorf("line %d = %q; want it to start with %q", i+2, lines[i+1], want)
		}
	}
	if !strings.Contains(lines[2], " (picked)\thttp://api.localhost:62893\tdb\thttp://localhost:") {
		t.Errorf("api line = %q; want a picked port, its URL, after db and its ready URL", lines[2])
	}

	out, _, code = runCheck(t, dir, "--json")
	var got checkJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("check --json = %d, %q: %v", code, out, err)
	}
	if !got.OK || len(got.Services) != 3 || len(got.Problems) != 0 || got.File != "homeport.toml" {
		t.Fatalf("check --json = %+v; want ok and three services", got)
	}
	api := got.Services[1]
	ap := strconv.Itoa(int(api.Port))
	if api.Name != "api" || api.Fixed || api.Env["DATABASE_URL"] != "postgres://localhost:"+db+"/app" ||
		api.Env["PORT"] != ap || api.Env["HOST"] != "127.0.0.1" || api.Ready != "http://localhost:"+ap+"/health" || api.Dir != dir {
		t.Errorf("api = %+v", api)
	}
}

func TestCheckProblems(t *testing.T) {
	dir := writeProject(t, `[services.db]
run = "postgres"
prot = 5432

[services.api]
run = "api --db ${dbb.port}"
after = ["api"]
`)
	out, errs, code := runCheck(t, dir)
	if code != 1 || out != "" {
		t.Fatalf("check = %d, stdout %q; want 1 and nothing", code, out)
	}
	want := `homeport.toml:3:1: services.db.prot: unknown key "prot"
	hint: did you mean "port"? a service takes "run", "port", "env", "ready", "after", "restart" and "dir"
homeport.toml:6:17: services.api.run: ${dbb.port} refers to "dbb", which is no service of this file
	hint: did you mean "db"? the services are "api" and "db"
homeport.toml:7:10: services.api.after[0]: after goes round in a cycle: api → api
	hint: a service cannot wait for itself; remove "api" from its after
homeport: error: homeport.toml has 3 problems
homeport: hint: fix the file and run 'homeport check' again
`
	if errs != want {
		t.Errorf("check stderr:\n%s\nwant:\n%s", errs, want)
	}

	out, _, code = runCheck(t, dir, "--json")
	var got checkJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 1 {
		t.Fatalf("check --json = %d, %q: %v", code, out, err)
	}
	if got.OK || len(got.Problems) != 3 || got.Problems[0] != (checkProblemJSON{File: "homeport.toml", Line: 3, Column: 1,
		Key: "services.db.prot", Kind: "unknown key", Message: `unknown key "prot"`,
		Hint: `did you mean "port"? a service takes "run", "port", "env", "ready", "after", "restart" and "dir"`}) {
		t.Errorf("check --json = %+v", got)
	}
}

// A fixed port that a process listens on now is a problem that names it.
func TestCheckHeldPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	dir := writeProject(t, "[services.db]\nrun = \"x\"\nport = "+port+"\n")
	_, errs, code := runCheck(t, dir)
	want := "homeport.toml:3:8: services.db.port: port " + port + " is held by "
	if code != 1 || !strings.HasPrefix(errs, want) || !strings.Contains(errs, "(pid "+strconv.Itoa(os.Getpid())+")") ||
		!strings.Contains(errs, "'homeport kill "+port+"'") {
		t.Errorf("check = %d, %q; want 1 and %q naming this process", code, errs, want)
	}
}

func TestCheckNoFile(t *testing.T) {
	dir := t.TempDir()
	_, errs, code := runCheck(t, dir)
	if code != 2 || !strings.Contains(errs, "homeport: error: no homeport.toml here or in a parent folder") ||
		!strings.Contains(errs, "homeport: hint: ") {
		t.Errorf("check with no file = %d, %q; want 2 and a hint", code, errs)
	}
	_, errs, code = runCheck(t, dir, "--file", "other.toml")
	if code != 2 || !strings.Contains(errs, "other.toml does not exist") {
		t.Errorf("check --file other.toml = %d, %q; want 2", code, errs)
	}
	good, _ := checkGood(t)
	if err := os.WriteFile(filepath.Join(dir, "other.toml"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := runCheck(t, dir, "--file", "other.toml")
	if code != 0 || !strings.HasPrefix(out, "ok: other.toml, 3 services\n") {
		t.Errorf("check --file other.toml = %d, %q; want ok", code, out)
	}
	_, _, code = runCheck(t, dir, "extra")
	if code != 2 {
		t.Errorf("check extra = %d; want 2", code)
	}
}

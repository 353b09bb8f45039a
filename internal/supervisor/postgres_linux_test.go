package supervisor

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A real PostgreSQL stops on SIGINT (fast shutdown) even while a client
// is connected: SIGTERM would wait for that client, and SIGKILL after the
// timeout would leave crash recovery for the next start.
func TestPostgresStopsFast(t *testing.T) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	u, err := user.Lookup("postgres")
	if len(bins) == 0 || err != nil || os.Geteuid() != 0 {
		t.Skip("needs PostgreSQL, its postgres user and root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv")
	}
	bin := filepath.Dir(bins[0])
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	p := newProject(t, "")
	data := filepath.Join(p.dir, "data")
	for _, d := range []string{p.dir, data} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	// t.TempDir's parent is root's 0700: postgres must reach its folder.
	if err := os.Chmod(filepath.Dir(p.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.write(`
[services.db]
run = "setpriv --reuid=postgres --regid=postgres --clear-groups ` + filepath.Join(bin, "postgres") +
		` -D ./data -p ${port} -k . -c listen_addresses=127.0.0.1"
`)
	r := p.run(false, func(o *Options) { o.StopTimeout = 2 * time.Minute })
	waitFor(t, "db ready", r.ev, func() bool { return r.ev.index(Ready, "db") >= 0 })
	port := readyPort(r.ev, "db")

	// A client in a long query, started by the test, not by the project.
	psql := exec.Command(filepath.Join(bin, "psql"), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres",
		"-c", "select pg_sleep(600)")
	psql.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if err := psql.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { psql.Process.Kill(); psql.Wait() })
	waitFor(t, "the client connected", r.ev, func() bool {
		out, _ := exec.Command(filepath.Join(bin, "psql"), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres",
			"-Atc", "select count(*) from pg_stat_activity where query like 'select pg_sleep%'").Output()
		return strings.TrimSpace(string(out)) == "1"
	})

	res := r.stop(t)
	var sent []syscall.Signal
	for _, e := range r.ev.list() {
		if e.Kind == Forwarded && e.Service == "db" {
			sent = append(sent, e.Signal)
		}
	}
	if !slices.Equal(sent, []syscall.Signal{syscall.SIGINT}) {
		t.Errorf("db was sent %v; want SIGINT alone; events:\n%s", sent, r.ev)
	}
	if len(res.Held) > 0 {
		t.Errorf("ports held after the stop: %v", res.Held)
	}
	if !strings.Contains(r.out.String(), "received fast shutdown request") {
		t.Errorf("PostgreSQL's log does not say it shut down fast:\n%s", r.out)
	}
}

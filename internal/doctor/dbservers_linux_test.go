package doctor

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeport/internal/sockets"
)

// dbServer is a real database server a test started: its pid, port and
// log file.
type dbServer struct {
	pid  int
	port int
	log  string
}

// freePort returns a port nothing listens on at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPostgres runs a real PostgreSQL cluster in a temporary folder, owned
// by the postgres user, on a free port of 127.0.0.1. The log goes to a file
// the test can read.
func startPostgres(t *testing.T) *dbServer {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		t.Skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
	}
	u, err := user.Lookup("postgres")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and the postgres user to run initdb")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cred := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	dir, err := os.MkdirTemp("", "homeport-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o700)
	os.Chown(data, uid, gid)
	os.Chown(dir, uid, gid)
	bin := filepath.Dir(bins[len(bins)-1])
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
	initdb.SysProcAttr = cred
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	pg := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
		// No processes forked later on their own: what forks then is a
		// backend for a connection.
		"-c", "autovacuum=off", "-c", "max_worker_processes=0",
		// Each backend says "connection received" once it has closed its
		// copy of the listening socket: tests count them.
		"-c", "log_connections=on")
	pg.SysProcAttr = cred
	pg.Stdout, pg.Stderr = logf, logf
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pg.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { pg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			pg.Process.Kill()
			<-done
		}
	})
	// Not a connection to see that it is up: tests count the connections
	// it logs.
	waitLog(t, logPath, "database system is ready to accept connections", 1)
	// The postmaster forks its helpers (checkpointer, writers) as it
	// starts, and each holds the listening socket for a moment.
	soleOwner(t, port)
	return &dbServer{pid: pg.Process.Pid, port: port, log: logPath}
}

// soleOwner waits until one process owns the listener on port: a forked
// child (a PostgreSQL backend, an auxiliary process) holds the parent's
// listening socket until it closes its copy.
func soleOwner(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		socks, err := sockets.List(t.Context(), sockets.Filter{Port: uint16(port), TCP: true})
		if err == nil && len(socks) > 0 && len(socks[0].Owners) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the listener on port %d still has several owners after 60s: %+v", port, socks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLog waits until the log at path holds n lines containing s.
func waitLog(t *testing.T, path, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(readLog(t, path), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s has fewer than %d lines %q after 60s:\n%s", path, n, s, readLog(t, path))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// doctor localhost:PORT must not list its own probe's PostgreSQL backend
// (forked per connection, holding the listening socket for a moment) as a
// listener owner: the only owner is the postmaster.
func TestDiagnosePostgresOwnBackendLive(t *testing.T) {
	pg := startPostgres(t)
	env := System()
	target := mustTarget(t, "localhost:"+strconv.Itoa(pg.port))
	for i := range 20 {
		// The postmaster forks the backend for a connection when it gets
		// to it, maybe after Diagnose has returned: wait for the backend
		// of the run before to be past holding the socket.
		waitLog(t, pg.log, "connection received", i)
		rep := Diagnose(t.Context(), env, target, &Options{Timeout: 3 * time.Second})
		if !rep.OK {
			t.Fatalf("doctor %s run %d = %v; want healthy", target, i, ids(rep))
		}
		for _, l := range rep.Listeners {
			for _, p := range l.PIDs {
				if p != pg.pid {
					t.Fatalf("doctor %s run %d lists pid %d (%s) as an owner of %s; the postmaster is %d",
						target, i, p, l.Process, l.Addr, pg.pid)
				}
			}
		}
	}
}

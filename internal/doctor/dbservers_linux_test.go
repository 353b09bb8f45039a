package doctor

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
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

// waitListening polls until addr takes connections.
func waitListening(t *testing.T, addr string, cmd *exec.Cmd) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		if cmd.ProcessState != nil {
			t.Fatalf("%s exited: %v", cmd.Path, cmd.ProcessState)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s does not listen on %s after 60s", cmd.Path, addr)
}

// startRedis runs a real redis-server on a free port of host, logging to a
// file.
func startRedis(t *testing.T, host string) *dbServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (Debian: apt-get install redis-server)")
	}
	dir := t.TempDir()
	port := freePort(t)
	logPath := filepath.Join(dir, "redis.log")
	rd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", host, "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", logPath, "--protected-mode", "no")
	if err := rd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rd.Process.Kill()
		rd.Wait()
	})
	waitListening(t, net.JoinHostPort(connectIP4(host), strconv.Itoa(port)), rd)
	return &dbServer{pid: rd.Process.Pid, port: port, log: logPath}
}

func connectIP4(host string) string {
	if host == "0.0.0.0" {
		return "127.0.0.1"
	}
	return host
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
		rep, _ := Diagnose(t.Context(), env, target, &Options{Timeout: 3 * time.Second})
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

// doctor of an http:// URL on real Redis: known by its process, sent no
// HTTP request (Redis logs one as an attack), and said to be Redis.
func TestDiagnoseRedisNotHTTPLive(t *testing.T) {
	rd := startRedis(t, "127.0.0.1")
	target := "http://127.0.0.1:" + strconv.Itoa(rd.port) + "/"
	rep, _ := Diagnose(t.Context(), System(), mustTarget(t, target), &Options{Timeout: 3 * time.Second})
	f := findingByID(rep, IDNotHTTP)
	if f == nil {
		t.Fatalf("doctor %s findings = %v; want %s", target, ids(rep), IDNotHTTP)
	}
	checkNames(t, f, "homeport who "+strconv.Itoa(rd.port), "Redis", "redis-server (pid "+strconv.Itoa(rd.pid)+")")
	if log := readLog(t, rd.log); strings.Contains(log, "SECURITY ATTACK") {
		t.Errorf("doctor sent Redis an HTTP request; its log says:\n%s", log)
	}
}

// audit against real Redis and PostgreSQL on loopback, beside a web server
// that answers any Host, one that speaks first, and one that never answers:
// the databases get no byte (their logs stay clean), the banner server gets
// nothing sent, and every probe is listed with what it found.
func TestAuditLeavesDatabasesAloneLive(t *testing.T) {
	rd := startRedis(t, "127.0.0.1")
	pg := startPostgres(t)
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hi")) }))
	defer open.Close()
	heard := make(chan int, 16)
	ssh := talkFirstServer(t, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", heard)
	silent := silentServer(t)

	env := System()
	real := env.Inventory
	self := os.Getpid()
	want := map[uint16]bool{uint16(rd.port): true, uint16(pg.port): true, uint16(open.Listener.Addr().(*net.TCPAddr).Port): true,
		uint16(ssh): true, uint16(silent): true}
	env.Inventory = func(ctx context.Context, port uint16) ([]sockets.Socket, error) {
		socks, err := real(ctx, port)
		var out []sockets.Socket
		for _, s := range socks {
			if want[s.Port()] && (len(s.Owners) == 0 || s.Owners[0].PID == self || s.Owners[0].PID == rd.pid || s.Owners[0].PID == pg.pid) {
				out = append(out, s)
			}
		}
		return out, err
	}
	rep, err := Audit(t.Context(), env, &AuditOptions{ProbeTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint16]ProbeResult{}
	for _, p := range rep.Probed {
		got[p.Addr.Port()] = p.Result
	}
	wantResults := map[uint16]ProbeResult{uint16(rd.port): ProbeSkipped, uint16(pg.port): ProbeSkipped,
		uint16(open.Listener.Addr().(*net.TCPAddr).Port): ProbeHTTP, uint16(ssh): ProbeBanner, uint16(silent): ProbeSilent}
	for port, w := range wantResults {
		if got[port] != w {
			t.Errorf("probe of port %d = %q; want %q (all: %+v)", port, got[port], w, rep.Probed)
		}
	}
	if n := <-heard; n != 0 {
		t.Errorf("the server that speaks first was sent %d bytes; want none", n)
	}
	if log := readLog(t, rd.log); strings.Contains(log, "SECURITY ATTACK") {
		t.Errorf("audit wrote into Redis's log:\n%s", log)
	}
	if log := readLog(t, pg.log); strings.Contains(log, "startup packet") || strings.Contains(log, "connection received") {
		t.Errorf("audit connected to PostgreSQL; its log says:\n%s", log)
	}
	if f := findingByID(&Report{Findings: rep.Findings}, IDDNSRebinding); f == nil || f.Addr != open.Listener.Addr().String() {
		t.Errorf("findings %+v; want dns-rebinding for %s", rep.Findings, open.Listener.Addr())
	}
}

//go:build linux

package doctor

// Integration tests on real network namespaces (issue 5): each test makes
// its own namespace with a veth pair to this one, addresses from
// 198.18.0.0/15 (set aside for benchmarks, RFC 2544, so no real network is
// touched), starts real servers in it as child processes (this test binary,
// re-run as a helper), adds real nftables rules there, and runs doctor
// inside it, also as a child. Everything is removed in t.Cleanup.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"homeport/internal/ports"
)

const helperEnv = "HOMEPORT_DOCTOR_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[1:]))
	}
	// Every probe, dial and helper goroutine ends with its diagnosis.
	goleak.VerifyTestMain(m)
}

// runHelper is the child side. Modes:
//
//	serve ADDR [tls|hostcheck]  an HTTP server; prints "ready" once listening
//	stuck ADDR                  listen(backlog 0), fill the queue, never accept
//	doctor TARGET TIMEOUT       run Diagnose, print the report as JSON
func runHelper(mode string, args []string) int {
	switch mode {
	case "serve":
		ln, err := net.Listen("tcp", args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
		if len(args) > 1 && args[1] == "hostcheck" {
			h = func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.Host, "localhost:") {
					http.Error(w, "Invalid Host header", http.StatusForbidden)
					return
				}
				fmt.Fprintln(w, "ok")
			}
		}
		srv := httptest.NewUnstartedServer(h)
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // doctor's probes end handshakes early
		srv.Listener.Close()
		srv.Listener = ln
		if len(args) > 1 && args[1] == "tls" {
			srv.StartTLS()
		} else {
			srv.Start()
		}
		fmt.Println("ready")
		select {}
	case "stuck":
		ap := netip.MustParseAddrPort(args[0])
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
		}
		if err == nil {
			err = unix.Listen(fd, 0) // room for one connection, never accepted
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// Fill the queue: Linux takes connections while queued <= backlog.
		c, err := net.DialTimeout("tcp", ap.String(), 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, "filling the queue:", err)
			return 1
		}
		defer c.Close()
		fmt.Println("ready")
		select {}
	case "doctor":
		t, err := ports.ParseTarget(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		timeout, _ := time.ParseDuration(args[1])
		rep, _ := Diagnose(context.Background(), System(), t, &Options{Timeout: timeout})
		json.NewEncoder(os.Stdout).Encode(rep)
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
	return 2
}

// netns is a network namespace made for one test.
type netns struct {
	name     string
	hostAddr netip.Addr // this side of the veth pair
	addr     netip.Addr // the namespace's side
}

var nsCounter atomic.Int32

func need(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: network namespace tests need root (run as root, or in CI)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed (apt-get install -y iproute2 nftables)", tool)
		}
	}
}

func mustRun(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetns makes a namespace named uniquely for this process and test, with
// lo up and a /30 from 198.18.0.0/15 on a veth pair to this namespace.
func newNetns(t *testing.T) *netns {
	t.Helper()
	need(t, "ip")
	n := int(nsCounter.Add(1))
	id := (os.Getpid()*64 + n) % 32768 // a /30 block of 198.18.0.0/15
	base := netip.AddrFrom4([4]byte{198, 18 + byte(id>>14), byte(id >> 6), byte(id&63) << 2})
	ns := &netns{
		name:     fmt.Sprintf("hpdoc-%d-%d", os.Getpid(), n),
		hostAddr: base.Next(),
		addr:     base.Next().Next(),
	}
	hostIf := fmt.Sprintf("hd%da%d", os.Getpid()%100000, n)
	nsIf := fmt.Sprintf("hd%db%d", os.Getpid()%100000, n)
	mustRun(t, "ip", "netns", "add", ns.name)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", hostIf).Run()
		if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
			t.Errorf("removing netns %s: %v %s", ns.name, err, out)
		}
		os.RemoveAll(filepath.Join("/etc/netns", ns.name))
	})
	mustRun(t, "ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	mustRun(t, "ip", "link", "set", nsIf, "netns", ns.name)
	mustRun(t, "ip", "addr", "add", ns.hostAddr.String()+"/30", "dev", hostIf)
	mustRun(t, "ip", "link", "set", hostIf, "up")
	mustRun(t, "ip", "-n", ns.name, "addr", "add", ns.addr.String()+"/30", "dev", nsIf)
	mustRun(t, "ip", "-n", ns.name, "link", "set", nsIf, "up")
	mustRun(t, "ip", "-n", ns.name, "link", "set", "lo", "up")
	return ns
}

// hosts gives the namespace its own /etc/hosts: `ip netns exec` binds
// /etc/netns/NAME/hosts over /etc/hosts in a private mount namespace.
func (ns *netns) hosts(t *testing.T, content string) {
	t.Helper()
	dir := filepath.Join("/etc/netns", ns.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs a helper server in the namespace and waits until it listens.
// It returns the helper's pid; t.Cleanup ends it.
func (ns *netns) start(t *testing.T, mode string, args ...string) int {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name, os.Args[0]}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid // `ip netns exec` execs the helper: same pid
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("helper said %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("helper %s %v did not start: %v", mode, args, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("helper %s %v did not start within 30s", mode, args)
	}
	return pid
}

// doctor runs `Diagnose(target)` inside the namespace (ns nil: here).
func (ns *netns) doctor(t *testing.T, target string, timeout time.Duration) *Report {
	t.Helper()
	args := []string{os.Args[0], target, timeout.String()}
	if ns != nil {
		args = append([]string{"ip", "netns", "exec", ns.name}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), helperEnv+"=doctor")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("doctor %s: %v\n%s", target, err, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("doctor %s: bad JSON %v\n%s", target, err, out)
	}
	t.Logf("doctor %s (%s): %s", target, time.Since(start).Round(time.Millisecond), rep.Verdict)
	return &rep
}

func helperName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return filepath.Base(os.Args[0])
	}
	return fmt.Sprintf("%s (pid %d)", strings.TrimSpace(string(b)), pid)
}

func wantFinding(t *testing.T, rep *Report, id, fix string, names ...string) *Finding {
	t.Helper()
	if rep.OK {
		t.Fatalf("report OK; want finding %s (%+v)", id, rep)
	}
	f := findingByID(rep, id)
	if f == nil {
		t.Fatalf("findings %v; want %s (attempts %+v)", ids(rep), id, rep.Attempts)
	}
	checkNames(t, f, fix, names...)
	return f
}

func (ns *netns) ap(port int) string { return net.JoinHostPort(ns.addr.String(), strconv.Itoa(port)) }

// Cause 1: nothing listens on 3000; a server on 3001 is named.
func TestNetnsNothingListens(t *testing.T) {
	ns := newNetns(t)
	pid := ns.start(t, "serve", "127.0.0.1:3001")
	rep := ns.doctor(t, "3000", 2*time.Second)
	wantFinding(t, rep, IDNothingListens, "127.0.0.1:3001",
		"did you mean 3001? "+helperName(pid), "127.0.0.1:3001", "port 3000")
}

// Cause 2, both ways, with the namespace's own /etc/hosts and the real
// resolver.
func TestNetnsFamilyMismatch(t *testing.T) {
	t.Run("localhost is ::1 first, server on 127.0.0.1", func(t *testing.T) {
		ns := newNetns(t)
		ns.hosts(t, "::1 localhost\n127.0.0.1 localhost\n")
		pid := ns.start(t, "serve", "127.0.0.1:3000")
		rep := ns.doctor(t, "localhost:3000", 2*time.Second)
		wantFinding(t, rep, IDFamilyMismatch, "listen on ::1 too",
			"connection refused on ::1, works on 127.0.0.1", "localhost resolves to ::1 first", helperName(pid), "127.0.0.1:3000")
	})
	t.Run("localhost is 127.0.0.1 only, server on ::1", func(t *testing.T) {
		ns := newNetns(t)
		ns.hosts(t, "127.0.0.1 localhost\n")
		pid := ns.start(t, "serve", "[::1]:3000")
		rep := ns.doctor(t, "localhost:3000", 2*time.Second)
		wantFinding(t, rep, IDFamilyMismatch, "[::1]:3000",
			"localhost resolves to 127.0.0.1 only", helperName(pid), "[::1]:3000")
	})
}

// Cause 3 with a real resolver: the namespace's hosts file knows localhost,
// not myapp.localhost.
func TestNetnsLocalhostSubdomain(t *testing.T) {
	ns := newNetns(t)
	ns.hosts(t, "127.0.0.1 localhost\n::1 localhost\n")
	pid := ns.start(t, "serve", "127.0.0.1:3000")
	rep := ns.doctor(t, "http://myapp.localhost:3000/", 2*time.Second)
	wantFinding(t, rep, IDUnresolvable, "/etc/hosts", "myapp.localhost", helperName(pid), "127.0.0.1:3000")
}

// Cause 4: the server listens on loopback; the namespace's veth address is
// refused.
func TestNetnsLoopbackOnly(t *testing.T) {
	ns := newNetns(t)
	pid := ns.start(t, "serve", "127.0.0.1:3000")
	rep := ns.doctor(t, ns.ap(3000), 2*time.Second)
	wantFinding(t, rep, IDLoopbackOnly, "0.0.0.0", helperName(pid), "127.0.0.1:3000", ns.ap(3000))
}

// nft runs nft inside the namespace.
func (ns *netns) nft(t *testing.T, args ...string) {
	t.Helper()
	mustRun(t, append([]string{"ip", "netns", "exec", ns.name, "nft"}, args...)...)
}

// Cause 5: real nftables rules drop and reject; doctor names them. A
// timeout with no rule to blame (doctor outside the namespace) is filtered.
func TestNetnsFirewall(t *testing.T) {
	need(t, "ip", "nft")
	ns := newNetns(t)
	pid := ns.start(t, "serve", "0.0.0.0:3000")
	pid2 := ns.start(t, "serve", "0.0.0.0:3001")
	ns.nft(t, "add", "table", "inet", "hpdoc")
	t.Cleanup(func() {
		exec.Command("ip", "netns", "exec", ns.name, "nft", "delete", "table", "inet", "hpdoc").Run()
	})
	ns.nft(t, "add", "chain", "inet", "hpdoc", "input", "{ type filter hook input priority 0; policy accept; }")
	ns.nft(t, "add", "rule", "inet", "hpdoc", "input", "ip", "daddr", ns.addr.String(), "tcp", "dport", "3000", "drop")
	ns.nft(t, "add", "rule", "inet", "hpdoc", "input", "tcp", "dport", "3001", "reject", "with", "tcp", "reset")
	handles := map[string]int{}
	out, err := exec.Command("ip", "netns", "exec", ns.name, "nft", "-j", "list", "ruleset").Output()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseNFT(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			handles[r.Verdict] = r.Handle
		}
	}

	t.Run("drop", func(t *testing.T) {
		start := time.Now()
		rep := ns.doctor(t, ns.ap(3000), 1500*time.Millisecond)
		// The black hole must not hold doctor past --timeout (plus a
		// generous allowance for starting the helper process).
		if d := time.Since(start); d > 1500*time.Millisecond+5*time.Second {
			t.Errorf("doctor on a dropped port took %s with timeout 1.5s", d)
		}
		f := wantFinding(t, rep, IDFirewall, fmt.Sprintf("nft delete rule inet hpdoc input handle %d", handles["drop"]),
			helperName(pid), ns.ap(3000), fmt.Sprintf("table inet hpdoc chain input handle %d", handles["drop"]), "timed out", "drops")
		if f.Rule == nil || f.Rule.Handle != handles["drop"] {
			t.Errorf("finding rule = %+v; want handle %d", f.Rule, handles["drop"])
		}
	})
	t.Run("reject", func(t *testing.T) {
		rep := ns.doctor(t, ns.ap(3001), 1500*time.Millisecond)
		wantFinding(t, rep, IDFirewall, fmt.Sprintf("handle %d", handles["reject"]),
			helperName(pid2), ns.ap(3001), "refused", "rejects")
	})
	t.Run("loopback still works", func(t *testing.T) {
		if rep := ns.doctor(t, "127.0.0.1:3000", 1500*time.Millisecond); !rep.OK {
			t.Errorf("127.0.0.1:3000 findings %v; want healthy", ids(rep))
		}
	})
	t.Run("filtered from outside", func(t *testing.T) {
		var here *netns // doctor in this namespace: the address is remote
		rep := here.doctor(t, ns.ap(3000), time.Second)
		wantFinding(t, rep, IDFiltered, ns.addr.String(), "filtered", ns.ap(3000))
	})
}

// Cause 6: a stopped server (SIGSTOP) and a full accept queue.
func TestNetnsNotAccepting(t *testing.T) {
	t.Run("stopped", func(t *testing.T) {
		ns := newNetns(t)
		pid := ns.start(t, "serve", "127.0.0.1:3000")
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		waitState(t, pid, "T")
		rep := ns.doctor(t, "http://127.0.0.1:3000/", time.Second)
		wantFinding(t, rep, IDProcessStopped, fmt.Sprintf("kill -CONT %d", pid), helperName(pid), "127.0.0.1:3000", "state T")
	})
	t.Run("backlog full", func(t *testing.T) {
		ns := newNetns(t)
		pid := ns.start(t, "stuck", "127.0.0.1:3000")
		rep := ns.doctor(t, "127.0.0.1:3000", time.Second)
		wantFinding(t, rep, IDBacklogFull, "accept()", helperName(pid), "127.0.0.1:3000", "1 waiting, backlog 0")
	})
}

func waitState(t *testing.T, pid int, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil {
			s := string(b)
			if i := strings.LastIndexByte(s, ')'); i > 0 && strings.HasPrefix(s[i+2:], want) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d never reached state %s", pid, want)
}

// Causes 7 and 8 across the veth address: TLS spoken where http:// was
// used, and a dev server refusing the Host header.
func TestNetnsProtocolAndHost(t *testing.T) {
	ns := newNetns(t)
	tlsPID := ns.start(t, "serve", "0.0.0.0:3000", "tls")
	hostPID := ns.start(t, "serve", "0.0.0.0:3001", "hostcheck")
	t.Run("tls", func(t *testing.T) {
		rep := ns.doctor(t, "http://"+ns.ap(3000)+"/", 2*time.Second)
		wantFinding(t, rep, IDTLSMismatch, "https://"+ns.ap(3000)+"/", helperName(tlsPID), ns.ap(3000))
	})
	t.Run("host header", func(t *testing.T) {
		rep := ns.doctor(t, "http://"+ns.ap(3001)+"/", 2*time.Second)
		wantFinding(t, rep, IDHostRejected, "allowedHosts", helperName(hostPID), ns.ap(3001), "Invalid Host header")
	})
}

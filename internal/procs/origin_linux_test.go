package procs

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOriginHelper is not a test: run with HOMEPORT_ORIGIN_HELPER=listen it
// is a small server that listens on 127.0.0.1:0, prints "ready PORT" and
// serves until its stdin closes.
func TestOriginHelper(t *testing.T) {
	if os.Getenv("HOMEPORT_ORIGIN_HELPER") != "listen" {
		t.Skip("helper process")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Printf("ready %d\n", ln.Addr().(*net.TCPAddr).Port)
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// startServer starts the helper server in dir and returns its process.
func startServer(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestOriginHelper$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOMEPORT_ORIGIN_HELPER=listen")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		t.Fatalf("helper server: %q, %v", line, err)
	}
	return cmd
}

func TestOriginProjectFromSubfolder(t *testing.T) {
	root := filepath.Join(t.TempDir(), "checkout-7")
	writeFiles(t, root, map[string]string{
		"package.json":          `{"name": "storefront", "scripts": {"dev": "node src/server/index.js"}}`,
		"src/server/index.js":   "",
		"node_modules/.keep":    "",
		"src/server/lib/x.js":   "",
		".git/HEAD":             "ref: refs/heads/main\n",
		"src/server/lib/README": "",
	})
	dir := filepath.Join(root, "src", "server")
	cmd := startServer(t, dir)

	o := OriginOf(cmd.Process.Pid)
	if o.Cwd != dir {
		t.Errorf("OriginOf(server).Cwd = %q; want %q", o.Cwd, dir)
	}
	if o.Project == nil {
		t.Fatalf("OriginOf(server).Project = nil; want storefront in %s", root)
	}
	if o.Project.Name != "storefront" || o.Project.Dir != root || o.Project.Manifest != "package.json" {
		t.Errorf("OriginOf(server).Project = %+v; want storefront, %s, package.json", *o.Project, root)
	}
	if len(o.Chain) == 0 || o.Chain[0].PID != os.Getpid() {
		t.Errorf("OriginOf(server).Chain = %+v; want this test (pid %d) first", o.Chain, os.Getpid())
	}
	if o.Cgroup == nil || !strings.HasPrefix(o.Cgroup.Path, "/") {
		t.Errorf("OriginOf(server).Cgroup = %+v; want this machine's cgroup", o.Cgroup)
	}
}

func TestChainThroughShell(t *testing.T) {
	// "; exit" keeps the shell from replacing itself with sleep.
	cmd := exec.Command("sh", "-c", "sleep 60; exit 0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	sh := cmd.Process.Pid
	var child int
	deadline := time.Now().Add(10 * time.Second)
	for child == 0 && time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", sh, sh))
		fmt.Sscan(string(b), &child)
		if child == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if child == 0 {
		t.Fatal("sh did not start sleep within 10s")
	}
	t.Cleanup(func() { syscallKill(child) })

	c := Chain(child)
	if len(c) < 2 {
		t.Fatalf("Chain(sleep) = %+v; want sh, then this test", c)
	}
	if c[0].PID != sh || c[0].Name != "sh" || strings.Join(c[0].Cmdline, " ") != "sh -c sleep 60; exit 0" {
		t.Errorf("Chain(sleep)[0] = %+v; want sh (pid %d) with its command line", c[0], sh)
	}
	if c[1].PID != os.Getpid() {
		t.Errorf("Chain(sleep)[1] = %+v; want this test (pid %d)", c[1], os.Getpid())
	}
	if RoleOf(&c[0]) != Wrapper {
		t.Errorf("RoleOf(%+v) = %v; want Wrapper", c[0], RoleOf(&c[0]))
	}
	// The short form leaves out the one-command shell and starts at
	// the test that ran it.
	short := ShortChain(c, 3)
	if len(short) == 0 || short[0].PID != os.Getpid() {
		t.Errorf("ShortChain(%+v) = %+v; want this test first", c, short)
	}
}

func syscallKill(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// startHelperIn starts a helper process in dir.
func startHelperIn(t *testing.T, dir, mode, addr string) *helper {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	cmd := newHelperCmd(mode, addr, "HOMEPORT_HELPER_OUT="+out)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { h.err = cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // our own child, by its pid
		<-h.done
	})
	h.waitFile(t, func(s string) bool { return s == "ready" })
	return h
}

// TestWhoNamesProject starts a server in a subfolder of a project whose
// package.json names it otherwise than its folder, and asks who holds its
// port.
func TestWhoNamesProject(t *testing.T) {
	root := filepath.Join(t.TempDir(), "checkout-2")
	for name, data := range map[string]string{
		"package.json":        `{"name": "storefront", "private": true}`,
		".git/HEAD":           "ref: refs/heads/main\n",
		"src/server/index.js": "",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root, "src", "server")
	port := freePort(t)
	h := startHelperIn(t, dir, "listen", "127.0.0.1:"+portStr(port))

	io, out, errb := testIO("")
	f := NewFactory(io)
	root0 := NewRoot(f)
	root0.SetArgs([]string{"who", portStr(port)})
	if err := root0.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("who %d: %v\n%s", port, err, errb.String())
	}
	text := out.String()
	if want := " in " + tildePath(dir) + " (storefront)"; !strings.Contains(text, want) {
		t.Errorf("who %d = %q; want it to say %q", port, text, want)
	}
	// The chain starts at the helper's parent: this test.
	if !strings.Contains(text, "started from: ") {
		t.Errorf("who %d = %q; want the chain of parents", port, text)
	}

	io, out, errb = testIO("")
	root0 = NewRoot(NewFactory(io))
	root0.SetArgs([]string{"who", portStr(port), "--json"})
	if err := root0.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("who %d --json: %v\n%s", port, err, errb.String())
	}
	var res []struct {
		Sockets []struct {
			Owners []struct {
				PID     int    `json:"pid"`
				Cwd     string `json:"cwd"`
				Project struct {
					Name, Dir, Manifest string
				} `json:"project"`
				Chain []struct {
					PID     int      `json:"pid"`
					Name    string   `json:"name"`
					Cmdline []string `json:"cmdline"`
				} `json:"chain"`
				Cgroup string `json:"cgroup"`
			} `json:"owners"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("who --json: %v\n%s", err, out.String())
	}
	if len(res) != 1 || len(res[0].Sockets) == 0 || len(res[0].Sockets[0].Owners) == 0 {
		t.Fatalf("who --json = %s; want one held socket", out.String())
	}
	o := res[0].Sockets[0].Owners[0]
	if o.PID != h.pid() || o.Cwd != dir || o.Project.Name != "storefront" || o.Project.Dir != root || o.Project.Manifest != "package.json" {
		t.Errorf("who --json owner = %+v; want pid %d in %s, project storefront at %s from package.json", o, h.pid(), dir, root)
	}
	if len(o.Chain) == 0 || o.Chain[0].PID != os.Getpid() || len(o.Chain[0].Cmdline) == 0 || o.Chain[0].Cmdline[0] != os.Args[0] {
		t.Errorf("who --json chain = %+v; want this test (pid %d, %s) first", o.Chain, os.Getpid(), os.Args[0])
	}
	if !strings.HasPrefix(o.Cgroup, "/") {
		t.Errorf("who --json cgroup = %q; want this machine's cgroup path", o.Cgroup)
	}
}

// TestWhoChainThroughShell starts a server through `sh -c` and checks that
// --json has the whole chain: the shell with its command line, then this
// test.
func TestWhoChainThroughShell(t *testing.T) {
	port := freePort(t)
	out := filepath.Join(t.TempDir(), "out")
	cmd := newHelperCmd("listen", "127.0.0.1:"+portStr(port), "HOMEPORT_HELPER_OUT="+out)
	// "; exit" keeps the shell from replacing itself with the server.
	args := append([]string{"sh", "-c", `"$0" "$@"; exit $?`}, cmd.Args...)
	cmd.Path, cmd.Args = "/bin/sh", args
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { h.err = cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		// Killing the shell would leave its child, the server, running:
		// stop the child first, then the shell, both by pid.
		sh := strconv.Itoa(cmd.Process.Pid)
		if b, err := os.ReadFile("/proc/" + sh + "/task/" + sh + "/children"); err == nil {
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		_ = cmd.Process.Kill()
		<-h.done
	})
	h.waitFile(t, func(s string) bool { return s == "ready" })

	io, stdout, errb := testIO("")
	root := NewRoot(NewFactory(io))
	root.SetArgs([]string{"who", portStr(port), "--json"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("who --json: %v\n%s", err, errb.String())
	}
	var res []struct {
		Sockets []struct {
			Owners []struct {
				PID   int `json:"pid"`
				Chain []struct {
					PID     int      `json:"pid"`
					Name    string   `json:"name"`
					Cmdline []string `json:"cmdline"`
				} `json:"chain"`
			} `json:"owners"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		t.Fatalf("who --json: %v\n%s", err, stdout.String())
	}
	if len(res) != 1 || len(res[0].Sockets) == 0 || len(res[0].Sockets[0].Owners) == 0 {
		t.Fatalf("who --json = %s; want one held socket", stdout.String())
	}
	chain := res[0].Sockets[0].Owners[0].Chain
	if len(chain) < 2 || chain[0].PID != cmd.Process.Pid || chain[0].Name != "sh" || len(chain[0].Cmdline) < 2 || chain[0].Cmdline[1] != "-c" || chain[1].PID != os.Getpid() {
		t.Errorf("who --json chain = %+v; want sh -c (pid %d), then this test (pid %d)", chain, cmd.Process.Pid, os.Getpid())
	}
}

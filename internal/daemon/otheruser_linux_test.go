package daemon

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOtherUserCannotUseDaemon: another local user (nobody) can read
// neither the token nor the API without it.
func TestOtherUserCannotUseDaemon(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and setpriv (util-linux) to act as another user")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("needs curl")
	}
	// The state directory must be reachable by path for the test to mean
	// something: put it below a directory anyone may enter.
	base, err := os.MkdirTemp("", "homeport-otheruser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_STATE_HOME", base)
	dir := filepath.Join(base, "homeport")
	port := freePort(t)
	r := runDaemon(t, Options{Port: port})
	r.waitReady(t)

	asNobody := func(args ...string) (string, error) {
		cmd := exec.Command(setpriv, append([]string{"--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// The controls: nobody can run commands and reach the daemon.
	if out, err := asNobody("true"); err != nil {
		t.Fatalf("cannot run as nobody: %v %s", err, out)
	}
	if out, _ := asNobody(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "http://127.0.0.1:"+strconv.Itoa(port)+"/"); strings.TrimSpace(out) != "200" {
		t.Fatalf("nobody GET / = %q; want 200 (the page holds no data)", out)
	}
	if out, err := asNobody("cat", filepath.Join(dir, "token")); err == nil {
		t.Errorf("nobody read the token: %q", out)
	}
	if out, err := asNobody("ls", dir); err == nil {
		t.Errorf("nobody listed the state directory: %q", out)
	}
	for _, path := range []string{"/api/v1/ports", "/api/v1/events", "/metrics"} {
		out, _ := asNobody(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "http://127.0.0.1:"+strconv.Itoa(port)+path)
		if strings.TrimSpace(out) != "401" {
			t.Errorf("nobody GET %s = %q; want 401", path, out)
		}
	}
}

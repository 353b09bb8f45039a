//go:build unix

package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemonEnv is a user of its own: a fresh HOME and XDG_STATE_HOME.
func daemonEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_STATE_HOME=" + filepath.Join(home, "state"), "DISPLAY=", "WAYLAND_DISPLAY="}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "HOME" && k != "XDG_STATE_HOME" && k != "DISPLAY" && k != "WAYLAND_DISPLAY" {
			env = append(env, kv)
		}
	}
	return env
}

func runHP(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("homeport %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// TestUpDownStatus drives the real binary: up in the foreground, a second
// up, status, ui, another user's up on the same port, down.
func TestUpDownStatus(t *testing.T) {
	bin := buildHomeport(t)
	env := daemonEnv(t)
	port := strconv.Itoa(int(freePort(t)))

	up := exec.Command(bin, "up", "--port", port, "--interval", "200ms")
	up.Env = env
	stdout, err := up.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var upErr bytes.Buffer
	up.Stderr = &upErr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- up.Wait() }()
	t.Cleanup(func() {
		if up.ProcessState == nil {
			up.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case l := <-line:
		if !strings.HasPrefix(l, "http://127.0.0.1:"+port+"/login?code=") {
			t.Fatalf("up printed %q; want the login URL", l)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("up printed nothing in 60s; stderr: %s", upErr.String())
	}

	out, _, code := runHP(t, bin, env, "status", "--json")
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 {
		t.Fatalf("status --json = %d %q", code, out)
	}
	if !st.Running || st.PID != up.Process.Pid || st.Address != "http://127.0.0.1:"+port+"/" || st.Since == nil {
		t.Errorf("status = %+v; want running, pid %d", st, up.Process.Pid)
	}

	_, errOut, code := runHP(t, bin, env, "up", "--port", port)
	if code != 0 || !strings.Contains(errOut, "already running at http://127.0.0.1:"+port+"/") {
		t.Errorf("second up = %d %q; want 0 and where the first one is", code, errOut)
	}

	out, _, code = runHP(t, bin, env, "ui", "--no-open")
	if code != 0 || !strings.Contains(out, "/login?code=") {
		t.Errorf("ui = %d %q", code, out)
	}

	// Another user (another state directory) finds the port taken.
	_, errOut, code = runHP(t, bin, daemonEnv(t), "up", "--port", port, "--no-open")
	if code != 1 || !strings.Contains(errOut, "is held by homeport (pid "+strconv.Itoa(up.Process.Pid)+")") {
		t.Errorf("up on a held port = %d %q; want 1 naming the holder", code, errOut)
	}

	_, errOut, code = runHP(t, bin, env, "down")
	if code != 0 || !strings.Contains(errOut, "stopped") {
		t.Errorf("down = %d %q", code, errOut)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up after down: %v; want exit 0\n%s", err, upErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up still running after down")
	}
	_, _, code = runHP(t, bin, env, "status")
	if code != 1 {
		t.Errorf("status after down = %d; want 1", code)
	}
	_, errOut, code = runHP(t, bin, env, "down")
	if code != 0 || !strings.Contains(errOut, "not running") {
		t.Errorf("down with nothing running = %d %q", code, errOut)
	}
}

// TestUpSignalAndDetach: SIGTERM stops a foreground daemon with exit 0;
// --detach returns once the daemon answers.
func TestUpSignalAndDetach(t *testing.T) {
	bin := buildHomeport(t)
	env := daemonEnv(t)
	port := strconv.Itoa(int(freePort(t)))

	up := exec.Command(bin, "up", "--port", port, "--no-open")
	up.Env = env
	stdout, _ := up.StdoutPipe()
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatalf("up: %v", err)
	}
	up.Process.Signal(syscall.SIGTERM)
	if err := up.Wait(); err != nil {
		t.Errorf("up after SIGTERM: %v; want exit 0", err)
	}

	out, errOut, code := runHP(t, bin, env, "up", "--detach", "--port", port, "--no-open")
	if code != 0 || !strings.Contains(out, "/login?code=") {
		t.Fatalf("up --detach = %d %q %q", code, out, errOut)
	}
	t.Cleanup(func() { runHP(t, bin, env, "down") })
	out, _, code = runHP(t, bin, env, "status", "--json")
	var st statusJSON
	if json.Unmarshal([]byte(out), &st) != nil || code != 0 || !st.Running {
		t.Fatalf("status after --detach = %d %q", code, out)
	}
	if _, _, code := runHP(t, bin, env, "down"); code != 0 {
		t.Errorf("down = %d", code)
	}
	if _, _, code := runHP(t, bin, env, "status"); code != 1 {
		t.Errorf("status after down = %d; want 1", code)
	}
}

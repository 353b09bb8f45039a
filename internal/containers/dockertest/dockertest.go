//go:build linux

// Package dockertest starts a private Docker daemon for tests: its own data
// and exec roots, pidfile and socket in a temporary folder, the bridge on
// 198.19.0.1/24 (a test range, RFC 2544) and no iptables rules, so that the
// machine's own firewall and Docker, if any, are untouched. Images come
// from `docker import` of a folder holding the static busybox: there is no
// registry to pull from.
//
// Only one such daemon runs at a time on a machine (they would share the
// docker0 bridge): Start takes a lock file, and test binaries of different
// packages wait for each other.
package dockertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Daemon is a running private dockerd.
type Daemon struct {
	Host   string // DOCKER_HOST: unix://<dir>/docker.sock
	Socket string
	dir    string
	cmd    *exec.Cmd
	log    *syncBuffer
	t      testing.TB
	exited chan error
}

// Image is the name of the busybox image Start imports.
const Image = "homeport-busybox:test"

// Start starts dockerd with extra flags, waits until it answers, imports
// Image, and stops it (and removes its bridge) when the test ends, passed
// or failed. It skips the test, saying why, when dockerd, docker or a
// static busybox is not installed, or when this kernel cannot run the
// daemon (its log says why).
func Start(t testing.TB, flags ...string) *Daemon {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("dockerd needs root")
	}
	for _, tool := range []string{"dockerd", "docker"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian: apt-get install docker.io)", tool)
		}
	}
	busybox := staticBusybox()
	if busybox == "" {
		t.Skip("no static busybox (Debian: apt-get install busybox-static)")
	}
	unlock := lock(t)
	t.Cleanup(unlock)
	if _, err := os.Stat("/sys/class/net/docker0"); err == nil {
		// Another Docker daemon's bridge: the private daemon would take
		// it over, and removing it at the end would break that daemon.
		t.Skip("a docker0 bridge exists already (another Docker daemon runs here); the private test daemon needs its own")
	}

	// Short paths: containerd's socket lives under the exec root, and unix
	// socket paths stop at 108 bytes.
	dir, err := os.MkdirTemp("", "hpdk")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{dir: dir, Socket: filepath.Join(dir, "docker.sock"), log: &syncBuffer{}, t: t}
	d.Host = "unix://" + d.Socket
	args := []string{
		"--bip", "198.19.0.1/24", "--iptables=false", "--ip6tables=false",
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "-H", d.Host,
	}
	args = append(args, flags...)
	t.Cleanup(func() {
		// dockerd leaves docker0 behind, also when it fails half-way; a
		// later daemon would reuse it.
		exec.Command("ip", "link", "delete", "docker0").Run()
		os.RemoveAll(dir)
	})
	if err := d.start(args); err != nil {
		// overlayfs may not stack on the temporary folder's file system:
		// the vfs driver copies instead, and busybox is one small file.
		if !strings.Contains(d.log.String(), "driver") {
			t.Skipf("dockerd cannot run here (%v); its log:\n%s", err, d.log.String())
		}
		t.Logf("dockerd failed with the default storage driver (%v); trying vfs", err)
		d.log.Reset()
		if err := d.start(append(args, "--storage-driver", "vfs")); err != nil {
			t.Skipf("dockerd cannot run here (%v); its log:\n%s", err, d.log.String())
		}
	}
	t.Cleanup(d.stop)

	root := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(busybox, filepath.Join(root, "bin", "busybox")); err != nil {
		t.Fatal(err)
	}
	tar := exec.Command("tar", "-C", root, "-c", ".")
	imp := exec.Command("docker", "-H", d.Host, "import", "-", Image)
	imp.Stdin, _ = tar.StdoutPipe()
	var out bytes.Buffer
	imp.Stdout, imp.Stderr = &out, &out
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	if err := tar.Run(); err != nil {
		t.Fatalf("tar of the busybox root: %v", err)
	}
	if err := imp.Wait(); err != nil {
		t.Fatalf("docker import: %v: %s", err, out.String())
	}
	return d
}

// start runs dockerd and waits until it answers; it returns the daemon's
// exit when it ends before that.
func (d *Daemon) start(args []string) error {
	d.cmd = exec.Command("dockerd", args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	// Should the test binary die, the daemon goes with it.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("starting dockerd: %w", err)
	}
	d.exited = make(chan error, 1)
	go func() { d.exited <- d.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(d.Socket); err == nil {
			if _, err := d.docker("version", "--format", "{{.Server.APIVersion}}"); err == nil {
				return nil
			}
		}
		select {
		case err := <-d.exited:
			if err == nil {
				err = fmt.Errorf("dockerd exited")
			}
			return err
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("dockerd did not answer on %s within 60s; its log:\n%s", d.Socket, d.log.String())
		}
	}
}

// Run runs `docker ARGS...` against the daemon and returns its output; it
// fails the test on an error.
func (d *Daemon) Run(args ...string) string {
	d.t.Helper()
	out, err := d.docker(args...)
	if err != nil {
		d.t.Fatalf("docker %s: %v\n%s\ndockerd log:\n%s", strings.Join(args, " "), err, out, d.log.String())
	}
	return strings.TrimSpace(out)
}

func (d *Daemon) docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", d.Host}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// stop removes the containers, stops the daemon it started (by its pid),
// removes the bridge and the temporary folder.
func (d *Daemon) stop() {
	if ids, err := d.docker("ps", "-aq"); err == nil && strings.TrimSpace(ids) != "" {
		d.docker(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
	unmountUnder(d.dir)
}

// unmountUnder detaches whatever the daemon left mounted in dir (its
// network namespace file, overlay layers), deepest first, so that the
// folder can be removed.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// syncBuffer is a bytes.Buffer the daemon writes to while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// PID is the daemon's process id.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Log is what the daemon printed so far.
func (d *Daemon) Log() string { return d.log.String() }

func staticBusybox() string {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		out, err := exec.Command("file", "-L", p).Output()
		if err == nil && bytes.Contains(out, []byte("statically linked")) {
			return p
		}
		if err != nil {
			// No file(1): trust Debian's busybox-static, which installs
			// to /bin/busybox.
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// lock takes the machine-wide lock of private daemons.
func lock(t testing.TB) func() {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "homeport-dockertest.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	fmt.Fprintln(f, strconv.Itoa(os.Getpid()))
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

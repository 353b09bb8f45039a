package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"homeport/internal/containers/dockertest"
)

// who runs `homeport who args...` on the real system and returns its exit
// code, stdout and stderr.
func whoReal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	io, out, errb := testIO("")
	root := NewRoot(NewFactory(io))
	root.SetArgs(append([]string{"who"}, args...))
	err := root.ExecuteContext(context.Background())
	if err != nil {
		printError(io, err)
	}
	return exitCode(err), out.String(), errb.String()
}

// TestWhoDockerContainer runs a container of a private Docker daemon that
// publishes 127.0.0.1:P:8080 through docker-proxy, and checks that `who P`
// names the container and its image, and that without the daemon's socket
// the row stays and a note says why the name is missing.
func TestWhoDockerContainer(t *testing.T) {
	d := dockertest.Start(t)
	t.Setenv("DOCKER_HOST", d.Host)
	port := portStr(freePort(t))
	d.Run("run", "-d", "--name", "hp-web", "-l", "com.docker.compose.project=shop", "-l", "com.docker.compose.service=web",
		"-p", "127.0.0.1:"+port+":8080", dockertest.Image, "/bin/busybox", "httpd", "-f", "-p", "8080")

	var code int
	var out, errs string
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out, errs = whoReal(t, port)
		if code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != 0 {
		t.Fatalf("who %s = %d: %s%s; want the container's port held", port, code, out, errs)
	}
	t.Logf("who %s:\n%s", port, out)
	for _, want := range []string{"docker-proxy", "container hp-web (image " + dockertest.Image + ", compose project shop, service web)", "docker stop hp-web"} {
		if !strings.Contains(out, want) {
			t.Errorf("who %s = %q; want it to say %q", port, out, want)
		}
	}

	_, out, _ = whoReal(t, port, "--json")
	var res []struct {
		Sockets []struct {
			Container *struct {
				ID, Name, Image string
				ComposeProject  string `json:"compose_project"`
				ComposeService  string `json:"compose_service"`
			} `json:"container"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("who --json: %v\n%s", err, out)
	}
	if len(res) != 1 || len(res[0].Sockets) == 0 || res[0].Sockets[0].Container == nil {
		t.Fatalf("who %s --json = %s; want a socket with its container", port, out)
	}
	c := res[0].Sockets[0].Container
	if c.Name != "hp-web" || c.Image != dockertest.Image || c.ComposeProject != "shop" || c.ComposeService != "web" || len(c.ID) != 64 {
		t.Errorf("who --json container = %+v; want hp-web of %s, compose shop/web", *c, dockertest.Image)
	}

	// A container on the host's network: its own process listens, and its
	// cgroup names the container.
	hport := portStr(freePort(t))
	d.Run("run", "-d", "--name", "hp-host", "--network", "host", dockertest.Image, "/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:"+hport)
	deadline = time.Now().Add(30 * time.Second)
	for {
		code, out, errs = whoReal(t, hport)
		if code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("who %s:\n%s%s", hport, out, errs)
	if code != 0 || !strings.Contains(out, "is held by busybox") || !strings.Contains(out, "container hp-host (image "+dockertest.Image+")") {
		t.Errorf("who %s = %d, %q; want busybox named by its container hp-host", hport, code, out)
	}

	// kill does not fight docker-proxy: it names the container to stop.
	io, kout, kerr := testIO("")
	kroot := NewRoot(NewFactory(io))
	kroot.SetArgs([]string{"kill", port, "--dry-run"})
	err := kroot.ExecuteContext(context.Background())
	t.Logf("kill %s --dry-run: %v\n%s%s", port, err, kout.String(), kerr.String())
	if !strings.Contains(kout.String()+kerr.String(), "docker stop hp-web") || !strings.Contains(kout.String(), "container hp-web") {
		t.Errorf("kill %s --dry-run said %q%q; want it to name container hp-web and docker stop hp-web", port, kout.String(), kerr.String())
	}

	// The daemon's socket is missing: the row is shown as before, and one
	// note says why the container's name is missing.
	missing := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	t.Setenv("DOCKER_HOST", missing)
	code, out, errs = whoReal(t, port)
	t.Logf("who %s without the socket:\n%s%s", port, out, errs)
	if code != 0 || !strings.Contains(out, "docker-proxy") || strings.Contains(out, "hp-web") {
		t.Errorf("who %s without the socket = %d, %q; want the docker-proxy row without the container's name", port, code, out)
	}
	if want := "container names are missing: no Docker daemon socket at " + strings.TrimPrefix(missing, "unix://"); strings.Count(errs, want) != 1 {
		t.Errorf("who %s without the socket: stderr %q; want one note %q", port, errs, want)
	}
}

// TestWhoWithoutUserlandProxy runs a daemon without its userland proxy:
// the kernel would forward the container's port (were iptables on), and
// the only listener on the host is the one dockerd opens to reserve the
// port. who and ports still name the container.
func TestWhoWithoutUserlandProxy(t *testing.T) {
	d := dockertest.Start(t, "--userland-proxy=false")
	t.Setenv("DOCKER_HOST", d.Host)
	port := portStr(freePort(t))
	d.Run("run", "-d", "--name", "hp-kernel", "-p", "127.0.0.1:"+port+":8080", dockertest.Image, "/bin/busybox", "httpd", "-f", "-p", "8080")

	code, out, errs := whoReal(t, port)
	if code != 0 {
		t.Fatalf("who %s = %d: %s%s; want the published port named", port, code, out, errs)
	}
	for _, want := range []string{"container hp-kernel (image " + dockertest.Image + ")", "docker stop hp-kernel"} {
		if !strings.Contains(out, want) {
			t.Errorf("who %s = %q; want it to say %q", port, out, want)
		}
	}

	io, stdout, errb := testIO("")
	root := NewRoot(NewFactory(io))
	root.SetArgs([]string{"ports", "--port", port})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("ports --port %s: %v\n%s", port, err, errb.String())
	}
	if !strings.Contains(stdout.String(), "127.0.0.1:"+port) || !strings.Contains(stdout.String(), "hp-kernel (container)") {
		t.Errorf("ports --port %s = %q; want the published address and the container", port, stdout.String())
	}
}

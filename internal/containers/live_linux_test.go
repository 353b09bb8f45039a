package containers

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"homeport/internal/containers/dockertest"
)

// TestListLive lists a container of a private daemon, and explains a
// socket that is missing.
func TestListLive(t *testing.T) {
	d := dockertest.Start(t)
	port := freePort(t)
	d.Run("run", "-d", "--name", "hp-list", "-l", "com.docker.compose.project=shop", "-l", "com.docker.compose.service=web",
		"-p", "127.0.0.1:"+strconv.Itoa(port)+":8080", dockertest.Image, "/bin/busybox", "httpd", "-f", "-p", "8080")

	cs, probs := List(context.Background(), []string{d.Host})
	if len(probs) > 0 {
		t.Fatalf("List(%s) problems: %v", d.Host, probs[0])
	}
	if len(cs) != 1 {
		t.Fatalf("List(%s) = %+v; want one container", d.Host, cs)
	}
	c := cs[0]
	want := Port{Proto: "tcp", Private: 8080, Public: uint16(port), IP: netip.MustParseAddr("127.0.0.1")}
	if c.Name != "hp-list" || c.Image != dockertest.Image || c.Project != "shop" || c.Service != "web" ||
		len(c.Ports) != 1 || c.Ports[0] != want || c.Engine != d.Host || len(c.ID) != 64 {
		t.Errorf("List(%s) = %+v; want hp-list of %s, compose shop/web, publishing %+v", d.Host, c, dockertest.Image, want)
	}
	if got := c.StopCommand(); got != "docker stop hp-list" {
		t.Errorf("StopCommand() = %q; want docker stop hp-list", got)
	}

	missing := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	_, probs = List(context.Background(), []string{missing})
	if len(probs) != 1 || probs[0].Kind != NoSocket {
		t.Fatalf("List(%s) problems = %v; want one no-socket", missing, probs)
	}
	// A socket file nobody serves.
	dead := filepath.Join(t.TempDir(), "dead.sock")
	ln, err := net.Listen("unix", dead)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	_, probs = List(context.Background(), []string{"unix://" + dead})
	if len(probs) != 1 || probs[0].Kind != NotRunning {
		t.Errorf("List(dead socket) problems = %v; want one not-running", probs)
	}
	if _, err := os.Stat(dead); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Package wine holds what runs homeport's Windows code under Wine on Linux:
// the stand-in bcryptprimitives.dll (dll/bcryptprimitives.c) that Go programs
// need on Wine 8.0, and an end-to-end test of homeport.exe.
// scripts/test-windows.sh sets Wine up and runs this test.
package wine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wine returns the wine binary and the environment to run it in, or skips:
// the test needs the prefix scripts/test-windows.sh prepares (with the
// stand-in DLL), which it names in HOMEPORT_WINEPREFIX. When the script runs
// the test it also sets HOMEPORT_WINE_REQUIRED, and a missing piece fails.
func wine(t *testing.T) (string, []string) {
	t.Helper()
	prefix := os.Getenv("HOMEPORT_WINEPREFIX")
	bin, err := exec.LookPath("wine")
	if prefix == "" || err != nil {
		msg := "Wine is not set up: run scripts/test-windows.sh (it installs wine and prepares a prefix)"
		if os.Getenv("HOMEPORT_WINE_REQUIRED") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	env := append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all")
	return bin, env
}

// buildExe cross-compiles homeport for Windows into a temporary directory.
func buildExe(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "homeport.exe")
	cmd := exec.Command("go", "build", "-o", exe, "homeport/cmd/homeport")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build homeport/cmd/homeport: %v\n%s", err, out)
	}
	return exe
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, wineBin string, env []string, args ...string) result {
	t.Helper()
	// Listing 10,000 sockets takes Wine a few seconds per table on a busy
	// machine; the deadline is for a hang, not for speed.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, wineBin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("wine %s: %v", strings.Join(args[1:], " "), err)
	}
	return r
}

// TestHomeportExeUnderWine runs homeport.exe under Wine and checks that it
// sees listeners this (Linux) test opened: Wine's iphlpapi reads the host's
// socket tables, so the Windows backend, byte order and all, lists them.
func TestHomeportExeUnderWine(t *testing.T) {
	wineBin, env := wine(t)
	exe := buildExe(t)

	tcp4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp4.Close()
	port := tcp4.Addr().(*net.TCPAddr).Port
	wantAddrs := []string{fmt.Sprintf("127.0.0.1:%d", port)}
	if tcp6, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", port)); err == nil {
		defer tcp6.Close()
		wantAddrs = append(wantAddrs, fmt.Sprintf("[::1]:%d", port))
	}
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	udpPort := udp.LocalAddr().(*net.UDPAddr).Port

	// A port nobody holds: listen, note, close.
	dead, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()

	t.Run("ports --json", func(t *testing.T) {
		r := run(t, wineBin, env, exe, "ports", "--json")
		if r.code != 0 {
			t.Fatalf("homeport.exe ports --json: exit %d\nstderr: %s", r.code, r.stderr)
		}
		var socks []struct {
			Proto string `json:"proto"`
			State string `json:"state"`
			Local string `json:"local"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &socks); err != nil {
			t.Fatalf("homeport.exe ports --json printed no JSON list: %v\n%.2000s", err, r.stdout)
		}
		want := map[string]string{}
		for _, a := range wantAddrs {
			want["tcp "+a] = "LISTEN"
		}
		want[fmt.Sprintf("udp 127.0.0.1:%d", udpPort)] = "UNCONN"
		for _, s := range socks {
			k := s.Proto + " " + s.Local
			if st, ok := want[k]; ok {
				if s.State != st {
					t.Errorf("%s: state %s; want %s", k, s.State, st)
				}
				delete(want, k)
			}
		}
		for k := range want {
			t.Errorf("homeport.exe ports --json does not list %s (of %d sockets)", k, len(socks))
		}
	})

	t.Run("ports", func(t *testing.T) {
		r := run(t, wineBin, env, exe, "ports", "--tcp")
		if r.code != 0 || !strings.Contains(r.stdout, strconv.Itoa(port)) {
			t.Errorf("homeport.exe ports --tcp: exit %d, port %d missing\nstdout: %.2000s\nstderr: %s", r.code, port, r.stdout, r.stderr)
		}
	})

	t.Run("who held", func(t *testing.T) {
		r := run(t, wineBin, env, exe, "who", strconv.Itoa(port))
		if r.code != 0 || !strings.Contains(r.stdout+r.stderr, strconv.Itoa(port)) || !strings.Contains(r.stdout+r.stderr, "127.0.0.1") {
			t.Errorf("homeport.exe who %d: exit %d; want 0 and the listener named\nstdout: %s\nstderr: %s", port, r.code, r.stdout, r.stderr)
		}
	})

	t.Run("who udp", func(t *testing.T) {
		r := run(t, wineBin, env, exe, "who", fmt.Sprintf("%d/udp", udpPort))
		if r.code != 0 {
			t.Errorf("homeport.exe who %d/udp: exit %d; want 0\nstdout: %s\nstderr: %s", udpPort, r.code, r.stdout, r.stderr)
		}
	})

	t.Run("who free", func(t *testing.T) {
		r := run(t, wineBin, env, exe, "who", strconv.Itoa(deadPort))
		if r.code != 1 {
			t.Errorf("homeport.exe who %d (a closed port): exit %d; want 1\nstdout: %s\nstderr: %s", deadPort, r.code, r.stdout, r.stderr)
		}
	})
}

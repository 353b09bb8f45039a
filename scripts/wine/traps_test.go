package wine

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHomeportExeWindowsWording runs who and kill of the Windows build
// against a listener of this (Linux) test. Wine names PID 0 for every
// socket, so the listener has no owner homeport can read: the Windows build
// must say so in Windows' terms (an elevated prompt, not sudo or PID
// namespaces) and, above all, stop nothing.
func TestHomeportExeWindowsWording(t *testing.T) {
	wineBin, env := wine(t)
	exe := buildExe(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	t.Run("who", func(t *testing.T) {
		r := run(t, wineBin, env, exe, "who", port)
		if r.code != 0 || !strings.Contains(r.stdout, port+"/tcp is held by a process homeport cannot read (run from an elevated prompt") {
			t.Errorf("homeport.exe who %s: exit %d; want 0 and the Windows wording\nstdout: %s\nstderr: %s", port, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "sudo") || strings.Contains(r.stdout, "namespace") {
			t.Errorf("homeport.exe who %s speaks of sudo or PID namespaces:\n%s%s", port, r.stdout, r.stderr)
		}
	})

	t.Run("kill", func(t *testing.T) {
		r := run(t, wineBin, env, exe, "kill", port, "--yes")
		if r.code != 3 {
			t.Errorf("homeport.exe kill %s --yes: exit %d; want 3 (not freed)\nstdout: %s\nstderr: %s", port, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "held by a process homeport cannot read") ||
			!strings.Contains(r.stderr, "hint: the holder could not be read; run `homeport kill "+port+"` from an elevated prompt") ||
			strings.Contains(r.stdout+r.stderr, "sudo") {
			t.Errorf("homeport.exe kill %s: want the Windows wording and hint\nstdout: %s\nstderr: %s", port, r.stdout, r.stderr)
		}
		// The listener is still there: nothing was stopped.
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatalf("the listener is gone after homeport.exe kill: %v", err)
		}
		c.Close()
	})

	t.Run("free", func(t *testing.T) {
		// Wine's netsh knows no excludedportrange: free goes on without
		// exclusions and still binds each port to check it.
		r := run(t, wineBin, env, exe, "free", "--hold", "0", "--count", "3", "--range", "24000-24099")
		f := strings.Fields(r.stdout)
		if r.code != 0 || len(f) != 3 {
			t.Fatalf("homeport.exe free --count 3: exit %d; want 3 ports\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		for _, s := range f {
			if p, err := strconv.Atoi(s); err != nil || p < 24000 || p > 24099 {
				t.Errorf("homeport.exe free printed %q; want a port of 24000-24099", s)
			}
		}
	})
}

// fakeNetsh is a netsh.bat that answers the two questions homeport asks
// with what Windows prints on a machine where Hyper-V reserved 50000-50059
// and an administrator 50100 (Wine's own netsh knows neither command).
var fakeNetsh = strings.Join([]string{
	`@echo off`,
	`if "%4"=="excludedportrange" goto ex`,
	`if "%4"=="dynamicport" goto dyn`,
	`exit /b 1`,
	`:ex`,
	`echo.`,
	`echo Protocol tcp Port Exclusion Ranges`,
	`echo.`,
	`echo Start Port    End Port`,
	`echo ----------    --------`,
	`echo      50000       50059`,
	`echo      50100       50100     *`,
	`echo.`,
	`echo * - Administered port exclusions.`,
	`exit /b 0`,
	`:dyn`,
	`echo Protocol tcp Dynamic Port Range`,
	`echo ---------------------------------`,
	`echo Start Port      : 49152`,
	`echo Number of Ports : 16384`,
	`exit /b 0`,
}, "\r\n") + "\r\n"

// TestHomeportExeReservedPorts runs free and doctor --bind of the Windows
// build with a netsh (first on Wine's PATH) that reports excluded ranges:
// the whole path from netsh's output to what the user reads.
func TestHomeportExeReservedPorts(t *testing.T) {
	wineBin, env := wine(t)
	exe := buildExe(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "netsh.bat"), []byte(fakeNetsh), 0o644); err != nil {
		t.Fatal(err)
	}
	env = append(env, "WINEPATH=Z:"+strings.ReplaceAll(dir, "/", `\`))

	t.Run("free skips the excluded range", func(t *testing.T) {
		// The range lies inside Linux's ephemeral ports, where the other
		// tests' connections leave TIME_WAIT sockets that make a port
		// unbindable for a while: give free room to find five.
		r := run(t, wineBin, env, exe, "free", "--hold", "0", "--count", "5", "--range", "50000-50159")
		f := strings.Fields(r.stdout)
		if r.code != 0 || len(f) != 5 {
			t.Fatalf("homeport.exe free --count 5 --range 50000-50159: exit %d; want 5 ports\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		for _, s := range f {
			if p, err := strconv.Atoi(s); err != nil || p < 50060 || p > 50159 || p == 50100 {
				t.Errorf("homeport.exe free printed %q; want a port of 50060-50159 outside the excluded 50000-50059 and 50100", s)
			}
		}
	})

	for _, tt := range []struct {
		port string
		want []string
	}{
		{"50010", []string{"port 50010 is reserved by Windows (excluded range 50000-50059)", "Hyper-V", "`net stop winnat`"}},
		{"50100", []string{"reserved by an administrator", "`netsh int ipv4 delete excludedportrange protocol=tcp startport=50100 numberofports=1`"}},
		{"62893", []string{"port 62893 is in the dynamic port range 49152-65535, from which Windows picks"}},
	} {
		t.Run("doctor --bind "+tt.port, func(t *testing.T) {
			r := run(t, wineBin, env, exe, "doctor", "--bind", tt.port)
			if r.code != 1 {
				t.Errorf("homeport.exe doctor --bind %s: exit %d; want 1 (findings)", tt.port, r.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("homeport.exe doctor --bind %s lacks %q\nstdout: %s\nstderr: %s", tt.port, w, r.stdout, r.stderr)
				}
			}
		})
	}
}

package cli

import (
	"context"
	"strings"
	"testing"

	"homeport/internal/procs"
	"homeport/internal/sockets"
)

func runPorts(t *testing.T, f *Factory, args ...string) int {
	t.Helper()
	root := NewRoot(f)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		printError(f.IO, err)
	}
	return exitCode(err)
}

func TestPortsFilters(t *testing.T) {
	socks := []sockets.Socket{
		listener("127.0.0.1:3000", false, node(4242)),
		listener("[::]:5432", false, procs.Process{PID: 811, Name: "postgres", UID: 100, User: "pg"}),
		listener("[::]:9229", true, node(7)),
		listener("192.0.2.10:8443", false, procs.Process{PID: 9, Name: "caddy", UID: 0, User: "root"}),
	}
	tests := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"ports"}, []string{"127.0.0.1:3000\tloopback\tregistered\t4242\tnode\tdev\t", "[::]:5432\tall interfaces (v4+v6)", "[::]:9229\tall interfaces (v6)", "192.0.2.10:8443\t192.0.2.10\t"}, nil},
		{[]string{"ports", "--exposed"}, []string{"5432", "9229", "8443"}, []string{"3000"}},
		{[]string{"--exposed"}, []string{"5432"}, []string{"3000"}}, // bare homeport
		{[]string{"ports", "--process", "NODE"}, []string{"3000", "9229"}, []string{"5432", "8443"}},
		{[]string{"ports", "--user", "pg"}, []string{"5432"}, []string{"3000", "9229"}},
		{[]string{"ports", "--user", "0"}, []string{"8443"}, []string{"3000"}},
		{[]string{"ports", "--port", "3000,8443"}, []string{"3000", "8443"}, []string{"5432"}},
		{[]string{"ports", "--json", "--port", "9229"}, []string{`"v6only": true`, `"dual_stack": false`, `"exposure": "all interfaces"`}, []string{"3000"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, out, errb := fakeFactory(socks, 0)
			if code := runPorts(t, f, tt.args...); code != 0 {
				t.Fatalf("exit %d: %s", code, errb)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("%v printed %q; want %q", tt.args, out, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out.String(), n) {
					t.Errorf("%v printed %q; want no %q", tt.args, out, n)
				}
			}
		})
	}
}

func TestPortsTerminalTable(t *testing.T) {
	f, out, _ := fakeFactory([]sockets.Socket{listener("127.0.0.1:3000", false, node(4242))}, 0)
	f.IO.OutTTY, f.IO.Color = true, true
	if code := runPorts(t, f, "ports"); code != 0 {
		t.Fatal(code)
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.Contains(lines[0], "PROTO") || !strings.Contains(lines[0], "\x1b[1m") {
		t.Errorf("header %q; want bold column names", lines[0])
	}
	if !strings.Contains(lines[1], "\x1b[2mloopback\x1b[0m") {
		t.Errorf("row %q; want loopback dimmed", lines[1])
	}
	f.IO.Color = false
	out.Reset()
	runPorts(t, f, "ports")
	if strings.Contains(out.String(), "\x1b") {
		t.Errorf("without colour, output has escapes: %q", out)
	}
}

func TestPortsBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ports", "--port", "70000"}, `homeport: error: --port: "70000" is not a port (1-65535)`},
		{[]string{"ports", "--pid", "-3"}, "--pid -3 is not a process id"},
		{[]string{"ports", "--port", "abc"}, "homeport: error: --port: \"abc\" is not a port (1-65535)\nhomeport: hint: for example: homeport ports --port 5432"},
		{[]string{"ports", "--port", "3000,abc"}, `--port: "abc" is not a port`},
		{[]string{"--port", "abc"}, `--port: "abc" is not a port`}, // bare homeport
		{[]string{"ports", "extra"}, `takes no arguments, got "extra"`},
	} {
		f, _, errb := fakeFactory(nil, 0)
		if code := runPorts(t, f, tt.args...); code != 2 {
			t.Errorf("%v exit %d; want 2", tt.args, code)
		}
		if !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v stderr %q; want %q", tt.args, errb, tt.want)
		}
	}
}

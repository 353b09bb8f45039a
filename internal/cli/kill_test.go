package cli

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// realKill returns options that stop real processes through the real
// inventory and the OS signaller.
func realKill(t *testing.T, port uint16, timeout time.Duration) (*KillOptions, *syncBuffer) {
	t.Helper()
	io, out, _ := testIO("")
	f := NewFactory(io)
	tg, err := ports.ParseTarget(portStr(port))
	if err != nil {
		t.Fatal(err)
	}
	return &KillOptions{IO: io, Factory: f, Targets: []ports.Target{tg}, Yes: true, Signal: syscall.SIGTERM,
		Timeout: timeout, Guard: procs.NewGuard(), Poll: 5 * time.Millisecond, KillWait: 30 * time.Second}, out
}

func TestKillGracefulListenerExitsOnTerm(t *testing.T) {
	p := freePort(t)
	h := startHelper(t, "listen", "127.0.0.1:"+portStr(p))
	opts, out := realKill(t, p, 30*time.Second)
	if err := killRun(context.Background(), opts); err != nil {
		t.Fatalf("kill = %v; output:\n%s", err, out)
	}
	if got := h.waitFile(t, func(s string) bool { return s != "ready" }); got != syscall.SIGTERM.String() {
		t.Errorf("listener got %q; want %q", got, syscall.SIGTERM.String())
	}
	if err := h.waitExit(t); err != nil {
		t.Errorf("listener ended with %v; want a clean exit on TERM", err)
	}
	// kill returns once the port is free; the listener may still be
	// finishing its exit then, and the report says which it saw.
	if !strings.Contains(out.String(), "exited on SIGTERM") && !strings.Contains(out.String(), "stopped listening on SIGTERM") {
		t.Errorf("output lacks %q or %q:\n%s", "exited on SIGTERM", "stopped listening on SIGTERM", out)
	}
	if want := "port " + portStr(p) + " is free"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

func TestKillStubbornListenerGetsSIGKILL(t *testing.T) {
	p := freePort(t)
	h := startHelper(t, "stubborn", "127.0.0.1:"+portStr(p))
	opts, out := realKill(t, p, 300*time.Millisecond)
	if err := killRun(context.Background(), opts); err != nil {
		t.Fatalf("kill = %v; output:\n%s", err, out)
	}
	err := h.waitExit(t)
	var ee interface{ Sys() any }
	if !errors.As(err, &ee) {
		t.Fatalf("listener ended with %v; want killed by a signal", err)
	}
	if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("listener ended with %v; want SIGKILL", err)
	}
	if h.file() != "ready" {
		t.Errorf("stubborn listener reported %q; it should have ignored SIGTERM", h.file())
	}
	if !strings.Contains(out.String(), "killed with SIGKILL") || !strings.Contains(out.String(), "is free") {
		t.Errorf("output does not say it was killed and the port is free:\n%s", out)
	}
}

func TestKillSignalFlag(t *testing.T) {
	p := freePort(t)
	h := startHelper(t, "listen", "127.0.0.1:"+portStr(p))
	opts, out := realKill(t, p, 30*time.Second)
	opts.Signal = syscall.SIGINT
	if err := killRun(context.Background(), opts); err != nil {
		t.Fatalf("kill --signal INT = %v; output:\n%s", err, out)
	}
	if got := h.waitFile(t, func(s string) bool { return s != "ready" }); got != syscall.SIGINT.String() {
		t.Errorf("listener got %q; want %q", got, syscall.SIGINT.String())
	}
}

// TestKillSparesClients: a process connected to the port is not a listener,
// and survives.
func TestKillSparesClients(t *testing.T) {
	p := freePort(t)
	srv := startHelper(t, "listen", "[::1]:"+portStr(p))
	client := startHelper(t, "client", "[::1]:"+portStr(p))
	opts, out := realKill(t, p, 30*time.Second)
	if err := killRun(context.Background(), opts); err != nil {
		t.Fatalf("kill = %v; output:\n%s", err, out)
	}
	srv.waitExit(t)
	if strings.Contains(out.String(), "pid "+strconv.Itoa(client.pid())+" ") {
		t.Errorf("the client (pid %d) was named as a holder:\n%s", client.pid(), out)
	}
	cp, err := procs.Get(client.pid())
	if err != nil || client.exited() {
		t.Fatalf("client is gone after kill (%v)", err)
	}
	if !procs.OS().Alive(cp.PID, cp.StartTicks) {
		t.Fatal("client is not alive after kill")
	}
}

// TestKillPIDReuseGuard: the inventory names the listener with a start time
// that no longer matches (as if it had exited and its pid been reused), so
// it must not be signalled.
func TestKillPIDReuseGuard(t *testing.T) {
	p := freePort(t)
	h := startHelper(t, "listen", "127.0.0.1:"+portStr(p))
	opts, out := realKill(t, p, 200*time.Millisecond)
	opts.Factory.Take = func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error) {
		snap, err := sockets.Take(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range snap.Sockets {
			for j := range snap.Sockets[i].Owners {
				snap.Sockets[i].Owners[j].StartTicks++ // "the process we saw" is not the one there now
			}
		}
		return snap, nil
	}
	err := killRun(context.Background(), opts)
	if got := exitCodeOf(err); got != 3 {
		t.Fatalf("kill with a stale start time = %v (exit %d); want exit 3; output:\n%s", err, got, out)
	}
	if !strings.Contains(out.String(), "pid now belongs to another process") {
		t.Errorf("output does not explain the reuse:\n%s", out)
	}
	if h.exited() || h.file() != "ready" {
		t.Fatalf("the listener was signalled (file %q, exited %v)", h.file(), h.exited())
	}
}

func TestKillNothingListening(t *testing.T) {
	p := freePort(t)
	opts, out := realKill(t, p, time.Second)
	err := killRun(context.Background(), opts)
	if got := exitCodeOf(err); got != 1 {
		t.Fatalf("kill of a free port: exit %d (%v); want 1", got, err)
	}
	if !strings.Contains(out.String(), "nothing is listening on port "+portStr(p)) {
		t.Errorf("output: %q", out)
	}
}

// fakeSignaller records signals instead of sending them; processes it
// signalled count as gone.
type fakeSignaller struct{ sent map[int][]syscall.Signal }

func (f *fakeSignaller) Signal(pid int, start uint64, sig syscall.Signal) error {
	if f.sent == nil {
		f.sent = map[int][]syscall.Signal{}
	}
	f.sent[pid] = append(f.sent[pid], sig)
	return nil
}

func (f *fakeSignaller) Alive(pid int, start uint64) bool { return len(f.sent[pid]) == 0 }

// fakeInventory holds port 3000 with the given owners until all of them
// were signalled.
func fakeInventory(fs *fakeSignaller, owners ...procs.Process) func(context.Context, sockets.Filter) (*sockets.Snapshot, error) {
	return func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error) {
		var socks []sockets.Socket
		for _, o := range owners {
			if len(fs.sent[o.PID]) > 0 {
				continue
			}
			s := sockets.Socket{Proto: sockets.TCP, State: sockets.Listen,
				Local: netip.MustParseAddrPort("127.0.0.1:3000"), UID: o.UID}
			if !f.NoOwners {
				s.Owners = []procs.Process{o}
			}
			socks = append(socks, s)
		}
		return &sockets.Snapshot{Sockets: socks}, nil
	}
}

func fakeKill(t *testing.T, in string, uid int, owners ...procs.Process) (*KillOptions, *fakeSignaller, *syncBuffer, *syncBuffer) {
	t.Helper()
	io, out, errb := testIO(in)
	fs := &fakeSignaller{}
	f := &Factory{IO: io, Take: fakeInventory(fs, owners...)}
	tg, _ := ports.ParseTarget("3000")
	return &KillOptions{IO: io, Factory: f, Targets: []ports.Target{tg}, Signal: syscall.SIGTERM, Timeout: time.Second,
		Guard: &procs.Guard{Signaller: fs, Self: 500, Parent: 400, UID: uid},
		Poll:  time.Millisecond, KillWait: time.Second}, fs, out, errb
}

func TestKillRefusals(t *testing.T) {
	tests := []struct {
		name  string
		uid   int
		owner procs.Process
		want  string
	}{
		{"init", 0, procs.Process{PID: 1, Name: "systemd", UID: 0}, "init"},
		{"itself", 1000, procs.Process{PID: 500, Name: "homeport", UID: 1000}, "homeport itself"},
		{"parent", 1000, procs.Process{PID: 400, Name: "bash", UID: 1000}, "parent"},
		{"other user", 1000, procs.Process{PID: 700, Name: "postgres", UID: 106, User: "postgres"}, "sudo homeport kill 3000"},
		{"docker-proxy", 0, procs.Process{PID: 800, Name: "docker-proxy", UID: 0,
			Cmdline: []string{"/usr/bin/docker-proxy", "-proto", "tcp", "-host-ip", "0.0.0.0", "-host-port", "3000"}},
			"docker stop $(docker ps -q --filter publish=3000)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, fs, out, _ := fakeKill(t, "", tt.uid, tt.owner)
			opts.Yes = true
			err := killRun(context.Background(), opts)
			if got := exitCodeOf(err); got != 3 {
				t.Fatalf("kill = %v (exit %d); want exit 3", err, got)
			}
			if len(fs.sent) != 0 {
				t.Fatalf("signals were sent: %v", fs.sent)
			}
			var ee *ExitError
			errors.As(err, &ee)
			if !strings.Contains(out.String()+ee.Hint, tt.want) {
				t.Errorf("output and hint lack %q:\n%s\nhint: %s", tt.want, out, ee.Hint)
			}
		})
	}
}

func TestKillNeedsConfirmation(t *testing.T) {
	owner := procs.Process{PID: 4242, Name: "node", UID: 1000, User: "dev", Cmdline: []string{"node", "server.js"}}

	t.Run("no terminal, no --yes", func(t *testing.T) {
		opts, fs, _, _ := fakeKill(t, "y\n", 1000, owner)
		err := killRun(context.Background(), opts)
		if got := exitCodeOf(err); got != 2 {
			t.Fatalf("kill without a terminal = %v (exit %d); want exit 2", err, got)
		}
		if len(fs.sent) != 0 {
			t.Fatalf("signals were sent: %v", fs.sent)
		}
		if !strings.Contains(err.(*ExitError).Hint, "--yes") {
			t.Errorf("hint %q does not mention --yes", err.(*ExitError).Hint)
		}
	})
	t.Run("terminal, answered no", func(t *testing.T) {
		opts, fs, out, errb := fakeKill(t, "n\n", 1000, owner)
		opts.IO.InTTY, opts.IO.ErrTTY = true, true
		err := killRun(context.Background(), opts)
		if got := exitCodeOf(err); got != exitKillDeclined || len(fs.sent) != 0 {
			t.Fatalf("kill answered no = exit %d, sent %v; want exit %d (declined), nothing sent", got, fs.sent, exitKillDeclined)
		}
		if !strings.Contains(errb.String(), "stop 1 process with SIGTERM? [y/N]") {
			t.Errorf("no question on stderr: %q", errb)
		}
		if !strings.Contains(out.String(), "pid 4242 node (user dev) listening on 127.0.0.1:3000: node server.js") {
			t.Errorf("the process was not shown before the question:\n%s", out)
		}
	})
	t.Run("terminal, answered yes", func(t *testing.T) {
		opts, fs, out, _ := fakeKill(t, "y\n", 1000, owner)
		opts.IO.InTTY, opts.IO.ErrTTY = true, true
		if err := killRun(context.Background(), opts); err != nil {
			t.Fatalf("kill answered yes = %v\n%s", err, out)
		}
		if got := fs.sent[4242]; len(got) != 1 || got[0] != syscall.SIGTERM {
			t.Fatalf("sent %v; want one SIGTERM to 4242", fs.sent)
		}
	})
	t.Run("dry run", func(t *testing.T) {
		opts, fs, out, _ := fakeKill(t, "", 1000, owner)
		opts.DryRun = true
		if err := killRun(context.Background(), opts); err != nil {
			t.Fatalf("kill --dry-run = %v", err)
		}
		if len(fs.sent) != 0 {
			t.Fatalf("dry run sent %v", fs.sent)
		}
		if !strings.Contains(out.String(), "dry run: would send SIGTERM to 1 process, then SIGKILL after 1s\n") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("dry run with SIGKILL", func(t *testing.T) {
		opts, _, out, _ := fakeKill(t, "", 1000, owner)
		opts.DryRun, opts.Signal = true, syscall.SIGKILL
		if err := killRun(context.Background(), opts); err != nil {
			t.Fatalf("kill --dry-run --signal 9 = %v", err)
		}
		if !strings.Contains(out.String(), "dry run: would send SIGKILL to 1 process\n") {
			t.Errorf("output:\n%s", out)
		}
	})
}

// TestKillAllOwners: forked workers share one listening socket; all of them
// are signalled.
func TestKillAllOwners(t *testing.T) {
	a := procs.Process{PID: 4242, Name: "gunicorn", UID: 1000}
	b := procs.Process{PID: 4243, Name: "gunicorn", UID: 1000}
	opts, fs, out, _ := fakeKill(t, "", 1000, a, b)
	opts.Yes = true
	if err := killRun(context.Background(), opts); err != nil {
		t.Fatalf("kill = %v\n%s", err, out)
	}
	if len(fs.sent[4242]) != 1 || len(fs.sent[4243]) != 1 {
		t.Fatalf("sent %v; want both workers signalled", fs.sent)
	}
}

// TestBadInputExit2 runs the whole command line.
func TestBadInputExit2(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"kill", "0"}, `"0" is not a port`},
		{[]string{"kill", "99999"}, `"99999" is not a port`},
		{[]string{"kill", "3000", "--timeout", "-1s"}, "negative"},
		{[]string{"kill", "3000", "--signal", "BOGUS"}, "unknown signal"},
		{[]string{"kill"}, "needs a port"},
		{[]string{"free", "--range", "9-3"}, "backwards"},
		{[]string{"free", "--range", "0-10"}, "not a port"},
		{[]string{"free", "--count", "0"}, "--count"},
		{[]string{"wait", "3000", "--timeout", "-1s"}, "negative"},
		{[]string{"wait", "3000", "--status", "700"}, "status code"},
		{[]string{"wait", "53/udp"}, "UDP"},
		{[]string{"wait"}, "needs a target"},
		{[]string{"wait", "3000", "--"}, "nothing after --"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			io, _, errb := testIO("")
			if got := Main(tt.args, io); got != 2 {
				t.Fatalf("homeport %v: exit %d; want 2 (stderr %q)", tt.args, got, errb)
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("homeport %v: stderr %q lacks %q", tt.args, errb, tt.want)
			}
		})
	}
}

// TestKillHiddenOwner: a listener whose owner cannot be seen (another user's,
// homeport not root) is not "free": exit 3 with a sudo hint.
func TestKillHiddenOwner(t *testing.T) {
	io, out, _ := testIO("")
	fs := &fakeSignaller{}
	take := func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error) {
		s := sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("0.0.0.0:80"), UID: 33}
		return &sockets.Snapshot{Sockets: []sockets.Socket{s}, Hidden: 1}, nil
	}
	tg, _ := ports.ParseTarget("80")
	opts := &KillOptions{IO: io, Factory: &Factory{IO: io, Take: take}, Targets: []ports.Target{tg}, Yes: true,
		Signal: syscall.SIGTERM, Timeout: time.Second, Guard: &procs.Guard{Signaller: fs, Self: 500, Parent: 400, UID: 1000},
		Poll: time.Millisecond, KillWait: time.Second}
	err := killRun(context.Background(), opts)
	if got := exitCodeOf(err); got != 3 {
		t.Fatalf("kill of a hidden holder = %v (exit %d); want 3", err, got)
	}
	if len(fs.sent) != 0 {
		t.Fatalf("sent %v", fs.sent)
	}
	if h := err.(*ExitError).Hint; !strings.Contains(h, "sudo homeport kill 80") {
		t.Errorf("hint %q lacks 'sudo homeport kill 80'", h)
	}
	if !strings.Contains(out.String(), "cannot see") {
		t.Errorf("output:\n%s", out)
	}
}

// TestKillSharedSocket: a worker inherited the listening socket (as forked
// workers do), so the port has two owners; both get SIGTERM.
func TestKillSharedSocket(t *testing.T) {
	p := freePort(t)
	out2 := t.TempDir() + "/worker"
	h := startHelper(t, "shared", "127.0.0.1:"+portStr(p), "HOMEPORT_HELPER_OUT2="+out2)
	b, err := os.ReadFile(out2)
	if err != nil {
		t.Fatal(err)
	}
	wpid, err := strconv.Atoi(strings.TrimPrefix(string(b), "ready "))
	if err != nil {
		t.Fatalf("worker wrote %q", b)
	}
	wp, err := procs.Get(wpid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The worker is our grandchild: stop it by its pid, but only if it
		// is still the process we started.
		_ = procs.OS().Signal(wpid, wp.StartTicks, syscall.SIGKILL)
	})
	opts, out := realKill(t, p, 30*time.Second)
	if err := killRun(context.Background(), opts); err != nil {
		t.Fatalf("kill = %v; output:\n%s", err, out)
	}
	if got := h.waitFile(t, func(s string) bool { return s != "ready" }); got != syscall.SIGTERM.String() {
		t.Errorf("listener got %q; want %q", got, syscall.SIGTERM.String())
	}
	if b, _ := os.ReadFile(out2); string(b) != syscall.SIGTERM.String() {
		t.Errorf("worker got %q; want %q", b, syscall.SIGTERM.String())
	}
	// kill returns once the port is free: each process has exited or is
	// still finishing its exit, and the report says which.
	for _, pid := range []int{h.pid(), wpid} {
		prefix := "pid " + strconv.Itoa(pid) + " cli.test: "
		if !strings.Contains(out.String(), prefix+"exited on SIGTERM") && !strings.Contains(out.String(), prefix+"stopped listening on SIGTERM") {
			t.Errorf("no outcome for pid %d:\n%s", pid, out)
		}
	}
	if !strings.Contains(out.String(), "port "+portStr(p)+" is free") {
		t.Errorf("port not reported free:\n%s", out)
	}
}

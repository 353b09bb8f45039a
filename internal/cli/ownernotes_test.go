package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// fakeSystemNote answers like procs.SystemProcessNote on Windows, for pid 4.
func fakeSystemNote(pid int, port uint16) (procs.Note, bool) {
	if pid != 4 {
		return procs.Note{}, false
	}
	return procs.Note{Reason: fmt.Sprintf("pid 4 is the Windows kernel (System): port %d is held by http.sys", port),
		Hint: "find the service with `netsh http show servicestate view=requestq`"}, true
}

// exitedPID returns the PID of a child that has run and been reaped: a PID
// that no longer exists (until the system recycles it, far later).
func exitedPID(t *testing.T) int {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^$")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

// windowsNotes are Windows' notes over a fake process table, in which gone
// has exited, leaving kids, and every other PID runs.
func windowsNotes(gone int, kids ...procs.Process) *OwnerNotes {
	get := func(pid int) (*procs.Process, error) {
		if pid == gone {
			return nil, fmt.Errorf("pid %d: %w", pid, procs.ErrGone)
		}
		return &procs.Process{PID: pid}, nil
	}
	return &OwnerNotes{Windows: true, System: fakeSystemNote,
		Orphan: orphanNote(get, func(int) ([]procs.Process, error) { return kids, nil })}
}

func TestOrphanNote(t *testing.T) {
	kid := procs.Process{PID: 777, Name: "node.exe"}
	note := orphanNote(procs.Get, func(int) ([]procs.Process, error) { return []procs.Process{kid}, nil })
	if n, ok := note(os.Getpid(), 3000); ok {
		t.Errorf("orphan note for a running process (this test): %+v", n)
	}
	gone := exitedPID(t)
	n, ok := note(gone, 3000)
	if !ok {
		t.Fatalf("no orphan note for exited pid %d", gone)
	}
	if !strings.Contains(n.Reason, fmt.Sprintf("pid %d, which opened port 3000, has exited", gone)) ||
		!strings.Contains(n.Hint, "node.exe (pid 777)") {
		t.Errorf("orphan note = %+v; want the exited pid and its child named", n)
	}
	// A process table that cannot be read is no orphan.
	broken := orphanNote(func(int) (*procs.Process, error) { return nil, errors.New("access denied") },
		func(int) ([]procs.Process, error) { return nil, nil })
	if n, ok := broken(gone, 3000); ok {
		t.Errorf("orphan note when the process table fails: %+v", n)
	}
	if SystemOwnerNotes().Orphan != nil {
		t.Errorf("SystemOwnerNotes() has an orphan check outside Windows")
	}
}

func TestWhoWindowsNotes(t *testing.T) {
	gone := exitedPID(t)
	system := procs.Process{PID: 4, Name: "System", UID: -1}
	socks := []sockets.Socket{
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("0.0.0.0:80"), UID: -1, Owners: []procs.Process{system}},
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("127.0.0.1:3000"), UID: -1, Owners: []procs.Process{{PID: gone, UID: -1}}},
		{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("127.0.0.1:5000"), UID: -1},
		listener("127.0.0.1:8080", false, node(4242)),
	}
	tests := []struct {
		name  string
		notes *OwnerNotes
		port  string
		want  []string
		not   []string
	}{
		{"system on 80", windowsNotes(gone), "80", []string{
			"80/tcp is held by System (pid 4), listening on all interfaces: 0.0.0.0\n",
			"\n  pid 4 is the Windows kernel (System): port 80 is held by http.sys\n",
			"\n  hint: find the service with `netsh http show servicestate view=requestq`\n"}, nil},
		{"orphan with a child", windowsNotes(gone, procs.Process{PID: 777, Name: "node.exe"}), "3000", []string{
			fmt.Sprintf("3000/tcp is held by a process that has exited (pid %d), listening on 127.0.0.1 only", gone),
			fmt.Sprintf("  pid %d, which opened port 3000, has exited", gone),
			"hint: its child node.exe (pid 777) is still running and holds it"}, nil},
		{"orphan without children", windowsNotes(gone), "3000", []string{"hint: no process started by it is left to find"}, nil},
		{"no owner on windows", windowsNotes(gone), "5000", []string{
			"5000/tcp is held by a process homeport cannot read (run from an elevated prompt to see which)"},
			[]string{"namespace", "sudo"}},
		{"no owner on linux", &OwnerNotes{}, "5000", []string{"5000/tcp is held by a process outside this PID namespace"}, nil},
		{"ordinary owner", windowsNotes(gone), "8080", []string{"8080/tcp is held by node (pid 4242, user dev)"}, []string{"hint"}},
		{"pid 4 on linux is a process", &OwnerNotes{}, "80", []string{"80/tcp is held by System (pid 4)"}, []string{"http.sys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, _ := fakeFactory(socks, 0)
			tg, _ := ports.ParseTarget(tt.port)
			opts := &WhoOptions{IO: f.IO, Factory: f, Targets: []ports.Target{tg}, Now: time.Now, Notes: tt.notes}
			if err := whoRun(context.Background(), opts); err != nil {
				t.Fatalf("who %s = %v", tt.port, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("who %s printed %q; want it to contain %q", tt.port, out, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out.String(), w) {
					t.Errorf("who %s printed %q; want no %q", tt.port, out, w)
				}
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		f, out, _ := fakeFactory(socks, 0)
		tg, _ := ports.ParseTarget("80")
		opts := &WhoOptions{IO: f.IO, Factory: f, Targets: []ports.Target{tg}, Now: time.Now, Notes: windowsNotes(gone), JSON: true}
		if err := whoRun(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		var got []whoJSON
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("--json printed %q: %v", out, err)
		}
		if len(got) != 1 || len(got[0].Notes) != 1 || got[0].Notes[0].PID != 4 || !strings.Contains(got[0].Notes[0].Hint, "netsh http") {
			t.Errorf("--json = %+v; want one note on pid 4 with the netsh hint", got)
		}
	})
}

// deniedSignaller refuses every signal as the OS does for another user's
// or an elevated process.
type deniedSignaller struct{ tries int }

func (d *deniedSignaller) Signal(pid int, start uint64, sig syscall.Signal) error {
	d.tries++
	return fmt.Errorf("pid %d: %w", pid, procs.ErrPermission)
}

func (d *deniedSignaller) Alive(int, uint64) bool { return true }

func TestKillWindowsNotes(t *testing.T) {
	gone := exitedPID(t)
	tests := []struct {
		name     string
		owner    procs.Process
		notes    *OwnerNotes
		wantOut  []string
		wantHint string
	}{
		{"system", procs.Process{PID: 4, Name: "System", UID: -1}, windowsNotes(gone),
			[]string{"pid 4 System listening on 127.0.0.1:3000", "  not stopped: pid 4 is the Windows kernel (System): port 3000 is held by http.sys",
				"  hint: find the service with `netsh http show servicestate"},
			"netsh http show servicestate"},
		{"orphan", procs.Process{PID: gone, UID: -1}, windowsNotes(gone, procs.Process{PID: 777, Name: "node.exe"}),
			[]string{fmt.Sprintf("pid %d (exited) listening on 127.0.0.1:3000", gone), "has exited",
				fmt.Sprintf("port 3000 is still held by pid %d\n", gone)},
			"its child node.exe (pid 777) is still running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, fs, out, _ := fakeKill(t, "", -1, tt.owner)
			opts.Yes, opts.Notes = true, tt.notes
			err := killRun(context.Background(), opts)
			if got := exitCodeOf(err); got != 3 {
				t.Fatalf("kill = %v (exit %d); want exit 3\n%s", err, got, out)
			}
			if len(fs.sent) != 0 {
				t.Fatalf("signals were sent: %v", fs.sent)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if h := err.(*ExitError).Hint; !strings.Contains(h, tt.wantHint) {
				t.Errorf("hint %q lacks %q", h, tt.wantHint)
			}
		})
	}
}

func TestKillPermissionHint(t *testing.T) {
	owner := procs.Process{PID: 4242, Name: "node", UID: -1}
	for _, tt := range []struct {
		name  string
		notes *OwnerNotes
		want  string
		not   string
	}{
		{"windows", windowsNotes(0), "run `homeport kill 3000` from an elevated prompt (Run as administrator)", "sudo"},
		{"linux", &OwnerNotes{}, "sudo homeport kill 3000", "elevated"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts, _, out, _ := fakeKill(t, "", -1, owner)
			ds := &deniedSignaller{}
			opts.Guard.Signaller, opts.Yes, opts.Notes = ds, true, tt.notes
			opts.Timeout = 10 * time.Millisecond
			err := killRun(context.Background(), opts)
			if got := exitCodeOf(err); got != 3 || ds.tries == 0 {
				t.Fatalf("kill = %v (exit %d, %d tries); want a try and exit 3\n%s", err, got, ds.tries, out)
			}
			text := out.String() + "\nhint: " + err.(*ExitError).Hint
			if !strings.Contains(text, "permission denied ("+tt.want+")") || !strings.Contains(err.(*ExitError).Hint, tt.want) {
				t.Errorf("output and hint lack %q:\n%s", tt.want, text)
			}
			if strings.Contains(text, tt.not) {
				t.Errorf("output and hint mention %q:\n%s", tt.not, text)
			}
		})
	}
}

func TestKillHiddenOwnerWindows(t *testing.T) {
	io, out, _ := testIO("")
	take := func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error) {
		s := sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("0.0.0.0:5000"), UID: -1}
		return &sockets.Snapshot{Sockets: []sockets.Socket{s}}, nil
	}
	tg, _ := ports.ParseTarget("5000")
	opts := &KillOptions{IO: io, Factory: &Factory{IO: io, Take: take}, Targets: []ports.Target{tg}, Yes: true,
		Signal: syscall.SIGTERM, Timeout: time.Second, Guard: &procs.Guard{Signaller: &fakeSignaller{}, Self: 500, Parent: 400, UID: -1},
		Poll: time.Millisecond, KillWait: time.Second, Notes: windowsNotes(0)}
	err := killRun(context.Background(), opts)
	if got := exitCodeOf(err); got != 3 {
		t.Fatalf("kill of a hidden holder = %v (exit %d); want 3", err, got)
	}
	if h := err.(*ExitError).Hint; !strings.Contains(h, "from an elevated prompt") || strings.Contains(h, "sudo") {
		t.Errorf("hint %q; want the elevated prompt, not sudo", h)
	}
	if !strings.Contains(out.String(), "port 5000 is held by a process homeport cannot read") || strings.Contains(out.String(), "namespace") {
		t.Errorf("output:\n%s", out)
	}
}

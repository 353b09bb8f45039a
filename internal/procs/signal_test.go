package procs

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

// fakeSignaller records what reaches it, so the refusal rules are tested
// without any real process being signalled.
type fakeSignaller struct {
	sent []int
}

func (f *fakeSignaller) Signal(pid int, startTicks uint64, sig syscall.Signal) error {
	f.sent = append(f.sent, pid)
	return nil
}

func (f *fakeSignaller) Alive(pid int, startTicks uint64) bool { return false }

func TestGuardRefusals(t *testing.T) {
	const self, parent, me, other = 5000, 4000, 1000, 1001
	// On Windows pid 0 is the System Idle Process, and the refusal says so
	// (SystemProcessNote); elsewhere it names a process group.
	pid0 := "process groups"
	if isWindows {
		pid0 = "System Idle Process"
	}
	tests := []struct {
		name     string
		uid      int // the guard's effective uid
		p        Process
		refused  string // substring of the reason; "" means allowed
		wantHint bool
	}{
		{name: "pid 1", uid: 0, p: Process{PID: 1, UID: 0}, refused: "init"},
		{name: "pid 0", uid: 0, p: Process{PID: 0, UID: 0}, refused: pid0},
		{name: "negative pid", uid: 0, p: Process{PID: -1, UID: 0}, refused: "process groups"},
		{name: "itself", uid: me, p: Process{PID: self, UID: me}, refused: "homeport itself"},
		{name: "itself as root", uid: 0, p: Process{PID: self, UID: 0}, refused: "homeport itself"},
		{name: "parent", uid: me, p: Process{PID: parent, UID: me}, refused: "parent", wantHint: true},
		{name: "other user", uid: me, p: Process{PID: 7000, UID: other, User: "postgres"}, refused: "user postgres", wantHint: true},
		{name: "other user without name", uid: me, p: Process{PID: 7000, UID: other}, refused: "user 1001", wantHint: true},
		{name: "unknown owner", uid: me, p: Process{PID: 7000, UID: -1}, refused: "owner cannot be read", wantHint: true},
		{name: "other user as root", uid: 0, p: Process{PID: 7000, UID: other}},
		{name: "own process", uid: me, p: Process{PID: 7000, UID: me}},
		{name: "pid 2 as root", uid: 0, p: Process{PID: 2, UID: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeSignaller{}
			g := &Guard{Signaller: fake, Self: self, Parent: parent, UID: tt.uid}
			err := g.Signal(&tt.p, syscall.SIGTERM)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("Signal(pid %d) = %v; want nil", tt.p.PID, err)
				}
				if len(fake.sent) != 1 || fake.sent[0] != tt.p.PID {
					t.Fatalf("signaller got %v; want [%d]", fake.sent, tt.p.PID)
				}
				return
			}
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("Signal(pid %d) = %v; want a *RefusedError", tt.p.PID, err)
			}
			if !strings.Contains(re.Reason, tt.refused) {
				t.Errorf("reason %q; want it to mention %q", re.Reason, tt.refused)
			}
			if tt.wantHint && re.Hint == "" {
				t.Errorf("refusal of pid %d has no hint", tt.p.PID)
			}
			if len(fake.sent) != 0 {
				t.Errorf("a refused process reached the signaller: %v", fake.sent)
			}
		})
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		name, in string
		want     syscall.Signal
		wantErr  bool
	}{
		{name: "short name", in: "TERM", want: syscall.SIGTERM},
		{name: "sig prefix", in: "SIGKILL", want: syscall.SIGKILL},
		{name: "lower case", in: "int", want: syscall.SIGINT},
		{name: "mixed case prefix", in: "SigHup", want: syscall.SIGHUP},
		{name: "number", in: "15", want: syscall.Signal(15)},
		{name: "number 9", in: "9", want: syscall.Signal(9)},
		{name: "empty", in: "", wantErr: true},
		{name: "zero", in: "0", wantErr: true},
		{name: "negative", in: "-9", wantErr: true},
		{name: "too big", in: "65", wantErr: true},
		{name: "unknown", in: "FOO", wantErr: true},
		{name: "bare SIG", in: "SIG", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSignal(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSignal(%q) = %v, nil; want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSignal(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"TERM", "SIGKILL", "15", "0", "-1", "sig", "", "999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err != nil {
			return
		}
		if sig < 1 || sig > 64 {
			t.Fatalf("ParseSignal(%q) = %d; want 1-64 or an error", s, sig)
		}
	})
}

func TestSignalName(t *testing.T) {
	if got := SignalName(syscall.SIGTERM); got != "SIGTERM" {
		t.Errorf("SignalName(SIGTERM) = %q; want SIGTERM", got)
	}
	if got := SignalName(syscall.Signal(42)); got != "signal 42" {
		t.Errorf("SignalName(42) = %q; want signal 42", got)
	}
}

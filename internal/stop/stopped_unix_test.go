//go:build unix

package stop

import (
	"slices"
	"syscall"
	"testing"
	"time"

	"homeport/internal/procs"
)

// TestFreeStoppedProcess: a stopped process (SIGSTOP, Ctrl-Z) acts on
// SIGTERM only once resumed: homeport sends SIGCONT after it, so the
// process exits on SIGTERM instead of being SIGKILLed after the timeout.
func TestFreeStoppedProcess(t *testing.T) {
	s := startStandin(t, "plain", "tcp:127.0.0.1:0")
	s.stopped(t)
	r := free(t, Request{Targets: tcp(s.ports[0]), Timeout: 30 * time.Second})
	v := victim(t, r, s.pid())
	if k := v.Outcome.Kind; k != ExitedOnSignal && k != StoppedListening || v.Outcome.Signal != syscall.SIGTERM {
		t.Errorf("outcome %v on %s; want exited on SIGTERM", k, procs.SignalName(v.Outcome.Signal))
	}
	if !v.Outcome.WasStopped {
		t.Error("the outcome does not say it was stopped")
	}
	if got := s.signals(); !slices.Equal(got, []string{"TERM"}) {
		t.Errorf("stand-in got %q; want [TERM]", got)
	}
}

// stopped waits until the stand-in is in state T.
func (s *standin) stopped(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !s.process(t).Stopped() {
		if time.Now().After(deadline) {
			t.Fatal("the stand-in did not stop on SIGSTOP")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

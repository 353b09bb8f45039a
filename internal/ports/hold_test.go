package ports

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func newTestHolds(t *testing.T) *Holds {
	t.Helper()
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	res, err := NewHolds(time.Minute, CurrentHolder(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestHoldsKeepPickersApart(t *testing.T) {
	res := newTestHolds(t)
	r := []Range{{20000, 29999}}
	seen := map[uint16]bool{}
	for range 30 {
		got, err := Free(FreeOptions{Ranges: r, Holds: res})
		if err != nil {
			t.Fatal(err)
		}
		if seen[got[0]] {
			t.Fatalf("port %d handed out twice", got[0])
		}
		seen[got[0]] = true
	}
}

func TestHoldEndsOnExpiryAndHolderExit(t *testing.T) {
	res := newTestHolds(t)
	now := time.Now()
	res.now = func() time.Time { return now }
	holderUp := true
	res.alive = func(Holder) bool { return holderUp }
	ok := func(uint16) bool { return true }

	r, err := res.hold(20001, "", ok)
	if err != nil || r == nil {
		t.Fatalf("first reserve = %v, %v", r, err)
	}
	// While the reserver holds the lock, nobody else gets in.
	if r2, err := res.hold(20001, "", ok); err != nil || r2 != nil {
		t.Fatalf("reserve while locked = %v, %v; want nil, nil", r2, err)
	}
	r.Unlock()
	if r2, err := res.hold(20001, "", ok); err != nil || r2 != nil {
		t.Fatalf("reserve of a standing reservation = %v, %v; want nil, nil", r2, err)
	}
	holderUp = false
	r3, err := res.hold(20001, "", ok)
	if err != nil || r3 == nil {
		t.Fatalf("reserve after the holder exited = %v, %v; want a reservation", r3, err)
	}
	r3.Unlock()
	holderUp = true
	now = now.Add(res.TTL)
	r4, err := res.hold(20001, "", ok)
	if err != nil || r4 == nil {
		t.Fatalf("reserve after expiry = %v, %v; want a reservation", r4, err)
	}
	r4.Release()
	if r5, err := res.hold(20001, "", ok); err != nil || r5 == nil {
		t.Fatalf("reserve after release = %v, %v; want a reservation", r5, err)
	} else {
		r5.Release()
	}
}

// TestHoldDeadHolderReal uses a real holder process: a reservation
// made for it stands while it runs and ends when it exits.
func TestHoldDeadHolderReal(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })

	res := newTestHolds(t)
	res.Holder = CurrentHolder(cmd.Process.Pid)
	if res.Holder.PID == 0 {
		t.Fatal("no start time for the holder")
	}
	ok := func(uint16) bool { return true }
	r, err := res.hold(20002, "", ok)
	if err != nil || r == nil {
		t.Fatalf("reserve = %v, %v", r, err)
	}
	r.Unlock()
	if r2, _ := res.hold(20002, "", ok); r2 != nil {
		t.Fatal("reservation of a running holder did not stand")
	}
	_ = cmd.Process.Kill()
	<-done
	r3, err := res.hold(20002, "", ok)
	if err != nil || r3 == nil {
		t.Fatalf("reserve after the holder died = %v, %v; want a reservation", r3, err)
	}
	r3.Release()
}

func TestRuntimeDirRefusesOpenDir(t *testing.T) {
	x := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", x)
	if err := os.Mkdir(x+"/homeport", 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(x+"/homeport", 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := RuntimeDir(); err == nil {
		t.Fatal("RuntimeDir accepted a world-writable directory")
	}
}

//go:build !linux && !windows

package procs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// osSignaller checks the start time, then signals through os.Process. Outside
// Linux there is no pidfd: a small window remains in which a PID could be
// recycled between the check and the signal.
type osSignaller struct{}

func (osSignaller) Signal(pid int, startTicks uint64, sig syscall.Signal) error {
	if pid <= 0 {
		return fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	p, err := Get(pid)
	if err != nil {
		return err
	}
	if p.StartTicks != startTicks {
		return fmt.Errorf("pid %d: %w", pid, ErrReused)
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		return fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	defer proc.Release()
	if sig == syscall.SIGKILL {
		err = proc.Kill()
	} else {
		err = proc.Signal(sig)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrProcessDone):
		return fmt.Errorf("pid %d: %w", pid, ErrGone)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("pid %d: %w", pid, ErrPermission)
	}
	return fmt.Errorf("signalling pid %d: %w", pid, err)
}

func (osSignaller) Alive(pid int, startTicks uint64) bool {
	p, err := Get(pid)
	if err != nil {
		return !errors.Is(err, ErrGone)
	}
	return p.StartTicks == startTicks && p.State != "Z"
}

// sigCont resumes a stopped process (Guard.Continue).
const sigCont = syscall.SIGCONT

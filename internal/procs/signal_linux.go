package procs

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// osSignaller signals through a pidfd (pidfd_open(2), pidfd_send_signal(2),
// Linux 5.3+). The pidfd pins one process: once it is open, a recycled PID
// cannot redirect the signal. The start time is checked AFTER opening it, so
// "the process behind this fd is the one we were shown" holds from the check
// to the signal with no window in between.
type osSignaller struct{}

func (osSignaller) Signal(pid int, startTicks uint64, sig syscall.Signal) error {
	if pid <= 0 {
		// pidfd_open rejects these, but kill(2) would read them as process
		// groups: never let one through the fallback below.
		return fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("pid %d: %w", pid, ErrGone)
	case errors.Is(err, unix.ENOSYS):
		// Kernels before 5.3: check, then kill(2). A small window remains
		// in which the PID could be recycled; nothing better exists there.
		if err := checkStart(pid, startTicks); err != nil {
			return err
		}
		return mapSignalErr(pid, unix.Kill(pid, sig))
	case err != nil:
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if err := checkStart(pid, startTicks); err != nil {
		return err
	}
	return mapSignalErr(pid, unix.PidfdSendSignal(fd, sig, nil, 0))
}

// Alive asks the kernel through a pidfd, which becomes readable only once the
// whole thread group has exited. /proc/<pid>/stat alone is not enough: the
// main thread of a multi-threaded process may be a zombie ("Z") while other
// threads still run, its files (and listening sockets) still open — Go's race
// runtime, for one, lingers a second at exit like that.
func (osSignaller) Alive(pid int, startTicks uint64) bool {
	if pid <= 0 {
		return false
	}
	fd, err := unix.PidfdOpen(pid, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return false
	case err != nil:
		// No pidfd (kernels before 5.3): the zombie state is the best
		// sign there is.
		p, err := Get(pid)
		if err != nil {
			return !errors.Is(err, ErrGone)
		}
		return p.StartTicks == startTicks && p.State != "Z" && p.State != "X"
	}
	defer unix.Close(fd)
	p, err := Get(pid)
	if err != nil {
		// Anything but "gone" (a read error) counts as alive: homeport
		// must not report a process as stopped when it cannot tell.
		return !errors.Is(err, ErrGone)
	}
	if p.StartTicks != startTicks {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err != nil || n == 0 || fds[0].Revents&unix.POLLIN == 0
	}
}

// checkStart returns ErrReused when pid is now another process than the one
// that started at startTicks. A zombie main thread is not taken as gone:
// other threads may still run (see Alive), and a signal to a dying process
// is harmless.
func checkStart(pid int, startTicks uint64) error {
	p, err := Get(pid)
	if err != nil {
		return err
	}
	if p.StartTicks != startTicks {
		return fmt.Errorf("pid %d: %w", pid, ErrReused)
	}
	return nil
}

func mapSignalErr(pid int, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("pid %d: %w", pid, ErrGone)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("pid %d: %w", pid, ErrPermission)
	}
	return fmt.Errorf("signalling pid %d: %w", pid, err)
}

// sigCont resumes a stopped process (Guard.Continue).
const sigCont = unix.SIGCONT

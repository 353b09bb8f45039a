package procs

import "syscall"

// osSignaller stops processes the Windows way (kill_windows.go): a polite
// WM_CLOSE where the process has a window, TerminateProcess otherwise, on a
// handle whose creation time was checked first, so a recycled PID is never
// hit. os.Process cannot do this: its Signal says "not supported by
// windows" for anything but os.Kill.
type osSignaller struct{}

func (osSignaller) Signal(pid int, startTicks uint64, sig syscall.Signal) error {
	return windowsSignal(pid, startTicks, sig)
}

func (osSignaller) Alive(pid int, startTicks uint64) bool { return windowsAlive(pid, startTicks) }

// sigCont is 0: Windows processes are not stopped by signals, so
// Guard.Continue has nothing to send.
const sigCont syscall.Signal = 0

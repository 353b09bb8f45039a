package procs

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows has no signals. windowsSignal maps them the way `taskkill` does:
//
//   - SIGKILL: TerminateProcess, like `taskkill /F`.
//   - any other signal: a polite close first, WM_CLOSE to the process's
//     top-level windows, like `taskkill` without /F. A console program
//     (node, python, a Go server) has no window, and Ctrl-C cannot be sent
//     to a console homeport is not attached to, so it is terminated like
//     `taskkill /F` would have to.
//
// The process handle is opened first and its creation time checked on that
// handle: the handle pins the process, so a recycled PID cannot be hit
// between the check and the termination (what a pidfd gives on Linux).
//
// It satisfies the Signaller contract: ErrGone, ErrReused, and ErrPermission
// (with "needs an elevated prompt") when Windows refuses. PIDs 0 and 4 are
// refused with a *RefusedError: they are the kernel, not processes one stops.
//
// signal_windows.go makes this the osSignaller of Windows: os.Process
// cannot do it, since its Signal returns "not supported by windows" for
// anything but SIGKILL.
func windowsSignal(pid int, startTicks uint64, sig syscall.Signal) error {
	if note, ok := SystemProcessNote(pid, 0); ok && isWindows {
		return &RefusedError{PID: pid, Reason: note.Reason, Hint: note.Hint}
	}
	if pid <= 0 || pid > 1<<32-1 {
		return fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE|windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.SYNCHRONIZE,
		false, uint32(pid))
	switch {
	case errors.Is(err, windows.ERROR_INVALID_PARAMETER):
		return fmt.Errorf("pid %d: %w", pid, ErrGone)
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return fmt.Errorf("pid %d: %w: it runs elevated or as another user; stopping it needs an elevated prompt (Run as administrator)", pid, ErrPermission)
	case err != nil:
		return fmt.Errorf("opening pid %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	if err := checkHandle(h, pid, startTicks); err != nil {
		return err
	}
	if sig != syscall.SIGKILL && closeWindows(uint32(pid)) > 0 {
		return nil
	}
	err = windows.TerminateProcess(h, 1)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		// Terminating a process that is exiting also says access denied.
		if exited(h) {
			return fmt.Errorf("pid %d: %w", pid, ErrGone)
		}
		return fmt.Errorf("pid %d: %w: stopping it needs an elevated prompt (Run as administrator)", pid, ErrPermission)
	}
	return fmt.Errorf("terminating pid %d: %w", pid, err)
}

// windowsAlive reports whether the process with this PID and creation time
// still runs.
func windowsAlive(pid int, startTicks uint64) bool {
	if pid <= 0 || pid > 1<<32-1 {
		return false
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		// Access denied means it exists; homeport must not report a
		// process as stopped when it cannot tell.
		return !errors.Is(err, windows.ERROR_INVALID_PARAMETER)
	}
	defer windows.CloseHandle(h)
	return checkHandle(h, pid, startTicks) == nil
}

// checkHandle returns ErrGone when the process behind h has exited and
// ErrReused when it is not the one that started at startTicks.
func checkHandle(h windows.Handle, pid int, startTicks uint64) error {
	if exited(h) {
		return fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	var created, exit, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exit, &kernel, &user); err != nil {
		return fmt.Errorf("reading the start time of pid %d: %w", pid, err)
	}
	if uint64(created.HighDateTime)<<32|uint64(created.LowDateTime) != startTicks {
		return fmt.Errorf("pid %d: %w", pid, ErrReused)
	}
	return nil
}

func exited(h windows.Handle) bool {
	ev, err := windows.WaitForSingleObject(h, 0)
	return err == nil && ev == windows.WAIT_OBJECT_0
}

var (
	moduser32                    = windows.NewLazySystemDLL("user32.dll")
	procEnumWindows              = moduser32.NewProc("EnumWindows")
	procGetWindowThreadProcessId = moduser32.NewProc("GetWindowThreadProcessId")
	procPostMessageW             = moduser32.NewProc("PostMessageW")
	procIsWindowVisible          = moduser32.NewProc("IsWindowVisible")
)

const wmClose = 0x0010

// enum is the state of the one EnumWindows callback: Windows allows a
// process only so many callbacks, so it is made once and calls are
// serialised.
var enum struct {
	sync.Mutex
	pid   uint32
	hwnds []uintptr
	cb    uintptr
}

func enumWindow(hwnd, _ uintptr) uintptr {
	var owner uint32
	procGetWindowThreadProcessId.Call(hwnd, uintptr(unsafe.Pointer(&owner)))
	if owner == enum.pid {
		if visible, _, _ := procIsWindowVisible.Call(hwnd); visible != 0 {
			enum.hwnds = append(enum.hwnds, hwnd)
		}
	}
	return 1 // go on
}

// closeWindows posts WM_CLOSE to the visible top-level windows of pid and
// returns how many it reached.
func closeWindows(pid uint32) int {
	if procEnumWindows.Find() != nil {
		return 0
	}
	enum.Lock()
	defer enum.Unlock()
	if enum.cb == 0 {
		enum.cb = windows.NewCallback(enumWindow)
	}
	enum.pid, enum.hwnds = pid, enum.hwnds[:0]
	procEnumWindows.Call(enum.cb, 0)
	n := 0
	for _, hwnd := range enum.hwnds {
		if ok, _, _ := procPostMessageW.Call(hwnd, wmClose, 0, 0); ok != 0 {
			n++
		}
	}
	return n
}

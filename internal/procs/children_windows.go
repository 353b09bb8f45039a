package procs

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// children lists the processes whose recorded parent is pid. A PID is
// recycled on Windows too: a child older than the process that now has
// pid is not its child, so when pid runs, children created before it are
// left out.
func children(pid int) ([]Process, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	defer windows.CloseHandle(snap)
	var parentStart uint64
	if p, err := Get(pid); err == nil {
		parentStart = p.StartTicks
	}
	var out []Process
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		if int(e.ParentProcessID) != pid || int(e.ProcessID) == pid {
			continue
		}
		c, err := Get(int(e.ProcessID))
		if err != nil {
			continue // exited meanwhile
		}
		if parentStart != 0 && c.StartTicks != 0 && c.StartTicks < parentStart {
			continue // the child of an earlier process with the same pid
		}
		out = append(out, *c)
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return out, fmt.Errorf("listing processes: %w", err)
	}
	return out, nil
}

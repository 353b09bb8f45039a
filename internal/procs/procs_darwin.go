package procs

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// get reads a process through sysctl kern.proc.pid (what ps uses) and its
// arguments through kern.procargs2, which the kernel refuses for other
// users' processes unless homeport runs as root: those keep their name only.
func get(pid int) (*Process, error) {
	if pid < 0 {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		// A PID that does not exist comes back as an empty answer, which
		// x/sys reports as EIO.
		if errors.Is(err, unix.EIO) || errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
		}
		return nil, fmt.Errorf("sysctl kern.proc.pid.%d: %w", pid, err)
	}
	if int(k.Proc.P_pid) != pid {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	p := &Process{
		PID:   pid,
		PPID:  int(k.Eproc.Ppid),
		Name:  unix.ByteSliceToString(k.Proc.P_comm[:]),
		State: darwinState(k.Proc.P_stat),
		UID:   int(k.Eproc.Pcred.P_ruid),
	}
	p.User = UserName(p.UID)
	st := k.Proc.P_starttime
	p.Start = time.Unix(int64(st.Sec), int64(st.Usec)*1000)
	// The start time in microseconds identifies the process with its PID.
	p.StartTicks = uint64(st.Sec)*1e6 + uint64(st.Usec)
	if b, err := unix.SysctlRaw("kern.procargs2", pid); err == nil {
		if args, err := parseProcArgs2(b); err == nil && len(args) > 0 {
			p.Cmdline = args
		}
	}
	return p, nil
}

// darwinState maps p_stat (sys/proc.h) to ps's letters.
func darwinState(s int8) string {
	switch s {
	case 1: // SIDL: being created
		return "I"
	case 2: // SRUN
		return "R"
	case 3: // SSLEEP
		return "S"
	case 4: // SSTOP
		return "T"
	case 5: // SZOMB
		return "Z"
	}
	return ""
}

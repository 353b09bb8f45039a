package procs

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// stillActive is what GetExitCodeProcess says of a process that runs
// (STILL_ACTIVE).
const stillActive = 259

// get reads a process through a toolhelp snapshot (name and parent, for any
// process) and, where OpenProcess allows it, the process itself (image
// path, command line, owner, start time). Another user's process, or one of
// the system's, opened without an elevated prompt, shows only what the
// snapshot tells, like Task Manager does.
func get(pid int) (*Process, error) {
	if pid < 0 || pid > 1<<32-1 {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	p := &Process{PID: pid, UID: -1}
	found, err := fromSnapshot(p)
	if err != nil {
		return nil, err
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		if !found || errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
			return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
		}
		// Access denied (System, services, elevated processes): the
		// snapshot's facts are all there is.
		return p, nil
	}
	defer windows.CloseHandle(h)

	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err == nil && code != stillActive {
		// Exited; the process object lives on only because someone holds
		// a handle to it.
		return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	if path, err := imagePath(h); err == nil && path != "" {
		p.Cmdline = []string{path}
		if p.Name == "" {
			p.Name = filepath.Base(path)
		}
	}
	cl, err := commandLine(h)
	if err != nil {
		cl, err = commandLineFromPEB(uint32(pid))
	}
	if err == nil && cl != "" {
		if args, err := windows.DecomposeCommandLine(cl); err == nil && len(args) > 0 {
			p.Cmdline = args
		}
	}
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err == nil {
		p.Start = time.Unix(0, created.Nanoseconds())
		// The creation time in 100 ns units identifies the process with its
		// PID, as the start time in clock ticks does on Linux.
		p.StartTicks = uint64(created.HighDateTime)<<32 | uint64(created.LowDateTime)
	}
	p.User = owner(h)
	return p, nil
}

// fromSnapshot fills the name and parent of p from a toolhelp snapshot and
// reports whether p.PID was in it.
func fromSnapshot(p *Process) (bool, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return false, fmt.Errorf("listing processes: %w", err)
	}
	defer windows.CloseHandle(snap)
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		if int(e.ProcessID) == p.PID {
			p.Name = windows.UTF16ToString(e.ExeFile[:])
			p.PPID = int(e.ParentProcessID)
			return true, nil
		}
	}
	if errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return false, nil
	}
	return false, fmt.Errorf("listing processes: %w", err)
}

func imagePath(h windows.Handle) (string, error) {
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return "", err
	}
	return windows.UTF16ToString(buf[:n]), nil
}

// commandLine reads the command line through NtQueryInformationProcess
// (ProcessCommandLineInformation, Windows 8.1 and later), which needs no
// more access than PROCESS_QUERY_LIMITED_INFORMATION. The answer is a
// UNICODE_STRING followed by its characters.
func commandLine(h windows.Handle) (string, error) {
	buf := make([]byte, 4096)
	for range 4 {
		var n uint32
		err := windows.NtQueryInformationProcess(h, windows.ProcessCommandLineInformation,
			unsafe.Pointer(&buf[0]), uint32(len(buf)), &n)
		switch {
		case err == nil:
			return (*windows.NTUnicodeString)(unsafe.Pointer(&buf[0])).String(), nil
		case errors.Is(err, windows.STATUS_INFO_LENGTH_MISMATCH) && int(n) > len(buf):
			buf = make([]byte, n)
		default:
			return "", err
		}
	}
	return "", errors.New("command line keeps growing")
}

// commandLineFromPEB reads the command line out of the process's memory,
// the way Process Explorer did before Windows 8.1: the PEB points to the
// process parameters, which hold it as a UNICODE_STRING. It needs
// PROCESS_VM_READ, which is granted for one's own processes. Wine 8.0 has
// no ProcessCommandLineInformation, so this is what runs there.
func commandLineFromPEB(pid uint32) (string, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.PROCESS_VM_READ, false, pid)
	if err != nil {
		return "", err
	}
	defer windows.CloseHandle(h)
	var pbi windows.PROCESS_BASIC_INFORMATION
	if err := windows.NtQueryInformationProcess(h, windows.ProcessBasicInformation,
		unsafe.Pointer(&pbi), uint32(unsafe.Sizeof(pbi)), nil); err != nil {
		return "", err
	}
	read := func(addr uintptr, dst unsafe.Pointer, size uintptr) error {
		var n uintptr
		if err := windows.ReadProcessMemory(h, addr, (*byte)(dst), size, &n); err != nil {
			return err
		}
		if n != size {
			return errors.New("short read of process memory")
		}
		return nil
	}
	var peb windows.PEB
	if err := read(uintptr(unsafe.Pointer(pbi.PebBaseAddress)), unsafe.Pointer(&peb), unsafe.Sizeof(peb)); err != nil {
		return "", err
	}
	var params windows.RTL_USER_PROCESS_PARAMETERS
	if err := read(uintptr(unsafe.Pointer(peb.ProcessParameters)), unsafe.Pointer(&params), unsafe.Sizeof(params)); err != nil {
		return "", err
	}
	cl := params.CommandLine
	if cl.Length == 0 || cl.Length%2 != 0 {
		return "", nil
	}
	buf := make([]uint16, cl.Length/2)
	if err := read(uintptr(unsafe.Pointer(cl.Buffer)), unsafe.Pointer(&buf[0]), uintptr(cl.Length)); err != nil {
		return "", err
	}
	return windows.UTF16ToString(buf), nil
}

// owner returns the account that runs the process, as DOMAIN\user.
func owner(h windows.Handle) string {
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return ""
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return ""
	}
	account, domain, _, err := tu.User.Sid.LookupAccount("")
	if err != nil {
		return tu.User.Sid.String()
	}
	if domain == "" {
		return account
	}
	return domain + `\` + account
}

package procs

import (
	"fmt"
	"runtime"
)

// isWindows is true where the PIDs below mean what the notes say.
const isWindows = runtime.GOOS == "windows"

// Windows' PIDs that are not programs one can stop.
const (
	WindowsIdlePID   = 0 // System Idle Process
	WindowsSystemPID = 4 // System: the kernel, and http.sys in it
)

// Note explains an owner that is not an ordinary process, for `who`, `kill`
// and the dashboard.
type Note struct {
	Reason string // what the owner is, in a sentence
	Hint   string // what to do instead, with the exact command
}

// SystemProcessNote explains Windows' PIDs 0 and 4 as owners of port
// (0: unknown). ok is false for any other PID, and on other systems.
//
// PID 4 holding a port is nearly always http.sys, the kernel's HTTP server,
// on behalf of a service that registered a URL with it: IIS (W3SVC) on 80
// and 443, WinRM on 5985/47001, Web Deployment, SQL Server Reporting,
// BranchCache, Windows Media sharing. Killing "System" is neither possible
// nor wanted; stopping the service that registered the URL frees the port.
func SystemProcessNote(pid int, port uint16) (Note, bool) {
	if !isWindows {
		return Note{}, false
	}
	switch pid {
	case WindowsIdlePID:
		return Note{
			Reason: "pid 0 is the System Idle Process: Windows names it for connections that no process holds any more (TIME_WAIT), which close by themselves within minutes",
		}, true
	case WindowsSystemPID:
		where := "a port"
		if port != 0 {
			where = fmt.Sprintf("port %d", port)
		}
		reason := fmt.Sprintf("pid 4 is the Windows kernel (System): %s is held by http.sys, the kernel's HTTP server, for a service that registered it", where)
		switch port {
		case 80, 443:
			reason += " (on 80 and 443 usually IIS, the World Wide Web Publishing Service, or SQL Server Reporting Services)"
		case 5985, 5986, 47001:
			reason += " (on this port Windows Remote Management, WinRM)"
		}
		return Note{
			Reason: reason,
			Hint: "find the service with `netsh http show servicestate view=requestq` " +
				"and stop it from an elevated prompt (IIS: `net stop w3svc`; WinRM: `net stop winrm`; " +
				"every http.sys user at once: `net stop http`)",
		}, true
	}
	return Note{}, false
}

// OrphanNote explains a socket whose owner, by Windows' socket table, is a
// process that has exited: the socket lives on in processes that inherited
// it (children started with handle inheritance, as cmd.exe and npm scripts
// do). children are what Children(pid) found; the note names them.
func OrphanNote(pid int, port uint16, children []Process) Note {
	n := Note{Reason: fmt.Sprintf("pid %d, which opened port %d, has exited; the socket lives on in a process that inherited it", pid, port)}
	switch len(children) {
	case 0:
		n.Hint = "no process started by it is left to find; the port frees itself when the last holder exits " +
			"(`Get-Process | Where-Object Parent -eq " + fmt.Sprint(pid) + "` in PowerShell 7 lists children too)"
	case 1:
		c := children[0]
		n.Hint = fmt.Sprintf("its child %s (pid %d) is still running and holds it: stop that one", c.Name, c.PID)
	default:
		n.Hint = fmt.Sprintf("its %d children still running hold it:", len(children))
		for _, c := range children {
			n.Hint += fmt.Sprintf(" %s (pid %d)", c.Name, c.PID)
		}
	}
	return n
}

// Children returns the processes whose parent is pid, on Windows, where
// a process keeps its parent's PID after the parent exits. Elsewhere it
// returns ErrNotSupported: Unix reparents orphans, and the Linux owner scan
// finds the processes that hold a socket directly.
func Children(pid int) ([]Process, error) { return children(pid) }

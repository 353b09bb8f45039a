package procs

// Cwd returns the working directory of a process: where a server was
// started, which tells one checkout's `npm run dev` from another's. It
// returns an error wrapping ErrGone for a process that has exited, and
// ErrNotSupported where the OS does not reveal it to homeport.
func Cwd(pid int) (string, error) { return cwd(pid) }

// MountNS identifies the mount namespace of a process ("mnt:[4026531841]"
// on Linux), "" when unknown: two processes in one namespace with one
// working directory are in one project.
func MountNS(pid int) string { return mountNS(pid) }

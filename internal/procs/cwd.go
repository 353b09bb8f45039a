package procs

// Cwd returns the working directory of a process: where a server was
// started, which tells one checkout's `npm run dev` from another's. It
// returns an error wrapping ErrGone for a process that has exited, and
// ErrNotSupported where the OS does not reveal it to homeport.
func Cwd(pid int) (string, error) { return cwd(pid) }

//go:build !linux

package procs

// cwd is Linux-only for now: macOS has it through proc_pidinfo (cgo or
// lsof), Windows only by reading the target's PEB.
func cwd(int) (string, error) { return "", ErrNotSupported }

func mountNS(int) string { return "" }

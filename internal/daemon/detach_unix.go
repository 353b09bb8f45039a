//go:build unix

package daemon

import "syscall"

// detachAttr puts the daemon in a session of its own: the terminal's
// Ctrl-C and hang-up do not reach it.
func detachAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

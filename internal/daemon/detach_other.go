//go:build !unix

package daemon

import "syscall"

// detachAttr: a Windows child already outlives its console's Ctrl-C when
// started without one; nothing more to set.
func detachAttr() *syscall.SysProcAttr { return nil }

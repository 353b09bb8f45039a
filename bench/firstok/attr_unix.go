//go:build unix

package main

import "syscall"

// sysProcAttr puts the server in its own process group, so that a terminal's
// Ctrl+C reaches firstok only.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

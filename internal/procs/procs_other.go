//go:build !linux && !windows && !darwin

package procs

import "fmt"

func get(pid int) (*Process, error) {
	return nil, fmt.Errorf("pid %d: %w", pid, ErrNotSupported)
}

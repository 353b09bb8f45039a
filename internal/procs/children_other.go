//go:build !windows

package procs

func children(int) ([]Process, error) { return nil, ErrNotSupported }

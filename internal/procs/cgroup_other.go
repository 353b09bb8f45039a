//go:build !linux

package procs

func cgroupOf(int) (Cgroup, error) { return Cgroup{UserUID: -1}, ErrNotSupported }

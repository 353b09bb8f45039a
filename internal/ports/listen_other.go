//go:build !windows

package ports

func isAddrInUseOS(error) bool { return false }

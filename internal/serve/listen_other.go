//go:build !windows

package serve

func isAddrInUseOS(error) bool { return false }

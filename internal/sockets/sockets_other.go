//go:build !linux && !windows && !darwin

package sockets

// newImpl reports that this OS has no backend: Take returns ErrNotSupported.
func newImpl() osImpl { return nil }

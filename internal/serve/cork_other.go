//go:build !linux

package serve

import "net"

// cork is a no-op where TCP_CORK does not exist.
func cork(*net.TCPConn, bool) {}

package serve

import (
	"net"
	"syscall"
)

// cork sets TCP_CORK on c: while it is on, the kernel sends only full
// segments, so the response headers and the file's first bytes leave
// together and sendfile's data goes out in full-sized segments, as nginx's
// tcp_nopush does. Turning it off sends what is left.
func cork(c *net.TCPConn, on bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	v := 0
	if on {
		v = 1
	}
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, v)
	})
}

package ports

import (
	"errors"
	"syscall"
)

// WSAEADDRINUSE: Go reports Winsock's own number, not syscall.EADDRINUSE.
const wsaeaddrinuse = syscall.Errno(10048)

func isAddrInUseOS(err error) bool { return errors.Is(err, wsaeaddrinuse) }

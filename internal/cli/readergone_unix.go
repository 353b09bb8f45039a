//go:build unix

package cli

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// readerGone returns a channel that is closed when w is a pipe whose reader
// has closed it (`homeport ports --watch | head -1`): the watch then ends
// at once, instead of at the next change it would write. It returns nil
// (never ready) for anything but a pipe.
func readerGone(w io.Writer) <-chan struct{} {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return nil
	}
	gone := make(chan struct{})
	go func() {
		// With no events asked for, poll reports only POLLERR and POLLHUP:
		// the write end of a pipe gets POLLERR once no reader is left.
		fds := []unix.PollFd{{Fd: int32(f.Fd())}}
		for {
			n, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil || fds[0].Revents&unix.POLLNVAL != 0 {
				return // cannot tell here: the next write will
			}
			if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
				close(gone)
				return
			}
		}
	}()
	return gone
}

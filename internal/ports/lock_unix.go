//go:build unix

package ports

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// TryLock takes an exclusive flock(2) on f without waiting. The lock belongs
// to the open file: closing f, or the process dying, releases it.
func TryLock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return ErrLocked
		}
		return err
	}
}

// checkPrivateDir refuses a directory that another user owns or that others
// may write: in a shared /tmp, someone could otherwise plant lock files.
func checkPrivateDir(dir string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("refusing to use %s: it belongs to uid %d", dir, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("refusing to use %s: others may write to it (chmod 700 %s)", dir, dir)
	}
	return nil
}

//go:build !unix && !windows

package ports

import (
	"errors"
	"io/fs"
	"os"
)

var errLocked = errors.New("locked by another process")

// tryLock: no file locks on this OS; Free falls back to the bind check.
func tryLock(f *os.File) error { return errors.ErrUnsupported }

func checkPrivateDir(dir string, fi fs.FileInfo) error { return nil }

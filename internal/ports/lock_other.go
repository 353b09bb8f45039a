//go:build !unix && !windows

package ports

import (
	"errors"
	"io/fs"
	"os"
)

// TryLock: no file locks on this OS; Free falls back to the bind check.
func TryLock(f *os.File) error { return errors.ErrUnsupported }

func checkPrivateDir(dir string, fi fs.FileInfo) error { return nil }

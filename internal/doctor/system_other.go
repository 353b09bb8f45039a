//go:build !linux

package doctor

import (
	"errors"
	"os"
)

var errNotSupported = errors.New("not supported on this operating system")

func sysctl(name string) (string, error) { return "", errNotSupported }

func canBindPrivileged() bool { return os.Geteuid() <= 0 }

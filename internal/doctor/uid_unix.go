//go:build unix

package doctor

import "os"

func uid() int { return os.Geteuid() }

package procs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// errProcArgs is wrapped by every error parseProcArgs2 returns.
var errProcArgs = errors.New("malformed kern.procargs2")

// parseProcArgs2 reads the argument vector out of macOS's kern.procargs2
// sysctl (see procs_darwin.go). It is OS-neutral so that it is tested and
// fuzzed everywhere. The layout, from xnu's kern_sysctl.c (sysctl_procargsx):
//
//	int32 argc (host byte order: little-endian on every Mac Go supports)
//	the executable's path, NUL-terminated
//	NUL padding up to a pointer boundary
//	argc arguments, each NUL-terminated
//	the environment, then more (not read)
//
// The kernel cuts the buffer at the size asked for, so a truncated last
// argument is dropped rather than guessed at.
func parseProcArgs2(b []byte) ([]string, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes", errProcArgs, len(b))
	}
	argc := int(int32(binary.LittleEndian.Uint32(b)))
	if argc < 0 || argc > len(b) {
		return nil, fmt.Errorf("%w: argc %d", errProcArgs, argc)
	}
	b = b[4:]
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return nil, fmt.Errorf("%w: no end to the executable path", errProcArgs)
	}
	b = b[i:]
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	args := make([]string, 0, argc)
	for len(args) < argc {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			break // truncated
		}
		args = append(args, string(b[:i]))
		b = b[i+1:]
	}
	return args, nil
}

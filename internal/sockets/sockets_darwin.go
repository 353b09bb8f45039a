package sockets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"

	"homeport/internal/procs"
)

// darwinImpl lists sockets through lsof, which ships with macOS and reads
// the kernel's per-process file tables (proc_pidfdinfo) for us. One run
// yields sockets and owners together: inventory keeps the owners beside the
// sockets it returns and owners completes them through procs.Get.
//
// lsof shows only the current user's processes unless run as root; their
// sockets are then missing altogether, not ownerless. lsof does not report
// IPV6_V6ONLY; macOS's default is off, so V6Only stays false.
type darwinImpl struct {
	lsof string            // the lsof binary
	held [][]procs.Process // held[i] hold the i-th socket inventory returned
}

func newImpl() osImpl { return &darwinImpl{lsof: "/usr/sbin/lsof"} }

func (d *darwinImpl) inventory(ctx context.Context, f *Filter) ([]Socket, string, error, error) {
	cmd := exec.CommandContext(ctx, d.lsof, lsofArgs(f)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// lsof exits 1 when it found nothing to list, and says nothing.
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || len(bytes.TrimSpace(stderr.Bytes())) > 0 {
			return nil, "", nil, fmt.Errorf("running %s: %w: %s", d.lsof, err, bytes.TrimSpace(stderr.Bytes()))
		}
	}
	found, err := parseLsof(bytes.NewReader(out), lsofKeep(f))
	if err != nil {
		return nil, "", nil, fmt.Errorf("reading lsof's output: %w", err)
	}
	socks := make([]Socket, len(found))
	d.held = make([][]procs.Process, len(found))
	for i, s := range found {
		socks[i] = s.Socket
		d.held[i] = s.owners
	}
	return socks, "lsof", nil, nil
}

func (d *darwinImpl) owners(ctx context.Context, socks []Socket, pids []int, early bool) (int, error) {
	if len(socks) != len(d.held) {
		return 0, fmt.Errorf("owners of %d sockets asked, but the inventory listed %d", len(socks), len(d.held))
	}
	full := make(map[int]*procs.Process)
	for i := range socks {
		for _, o := range d.held[i] {
			p, ok := full[o.PID]
			if !ok {
				if err := ctx.Err(); err != nil {
					return 0, err
				}
				// procs.Get adds the command line and start time; when
				// the process is gone or hidden, lsof's facts remain.
				p = &o
				if got, err := procs.Get(o.PID); err == nil {
					p = got
				}
				full[o.PID] = p
			}
			socks[i].Owners = append(socks[i].Owners, *p)
		}
	}
	return 0, nil
}

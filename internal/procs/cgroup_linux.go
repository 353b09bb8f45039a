package procs

import (
	"fmt"
	"os"
	"strconv"
)

func cgroupOf(pid int) (Cgroup, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return Cgroup{UserUID: -1}, fmt.Errorf("pid %d: %w", pid, goneOr(err))
	}
	defer f.Close()
	c, err := ParseCgroup(f)
	if err != nil {
		return c, fmt.Errorf("reading /proc/%d/cgroup: %w", pid, err)
	}
	return c, nil
}

//go:build linux

package doctor

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func sysctl(name string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + strings.TrimPrefix(name, "/"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// canBindPrivileged: root, or CAP_NET_BIND_SERVICE (bit 10) in the
// effective set.
func canBindPrivileged() bool {
	if os.Geteuid() == 0 {
		return true
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<unix.CAP_NET_BIND_SERVICE) != 0
		}
	}
	return false
}

package metrics

import (
	"os"
	"syscall"
)

// userHZ is the kernel's USER_HZ, the unit of /proc's clock ticks: 100 on
// every Linux architecture Go supports.
const userHZ = 100

func readProcess(v *[pCount]float64, ok *[pCount]bool) {
	set := func(i int, x float64) { v[i], ok[i] = x, true }
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		if s, err := parseStat(b); err == nil {
			set(pCPU, float64(s.UTime+s.STime)/userHZ)
			set(pVirtual, float64(s.VSize))
			set(pResident, float64(s.RSS)*float64(os.Getpagesize()))
			if f, err := os.Open("/proc/stat"); err == nil {
				if bt, err := parseBootTime(f); err == nil {
					set(pStart, float64(bt)+float64(s.StartTime)/userHZ)
				}
				f.Close()
			}
		}
	}
	if f, err := os.Open("/proc/self/fd"); err == nil {
		if names, err := f.Readdirnames(-1); err == nil {
			set(pOpenFDs, float64(len(names)-1)) // less the one reading it
		}
		f.Close()
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		set(pMaxFDs, float64(rl.Cur))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) == nil {
		set(pVirtualMax, float64(rl.Cur))
	}
	if f, err := os.Open("/proc/self/net/netstat"); err == nil {
		if in, out, err := parseNetstat(f); err == nil {
			set(pNetReceive, float64(in))
			set(pNetTransmit, float64(out))
		}
		f.Close()
	}
}

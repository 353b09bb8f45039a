package procs

import (
	"fmt"
	"time"
)

// UptimeText is a process's running time as every listing shows it: 45s,
// 12m, 3h (up to two days), 5d.
func UptimeText(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(max(d, 0).Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// Uptime is UptimeText of p's running time at now; "" when its start time is
// not known.
func (p *Process) Uptime(now time.Time) string {
	if p.Start.IsZero() {
		return ""
	}
	return UptimeText(now.Sub(p.Start))
}

package procs

import (
	"testing"
	"time"
)

func TestUptimeText(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"zero", 0, "0s"},
		{"clock skew", -3 * time.Second, "0s"},
		{"seconds", 45 * time.Second, "45s"},
		{"minutes", 12*time.Minute + 59*time.Second, "12m"},
		{"hours", 3 * time.Hour, "3h"},
		{"under two days", 47 * time.Hour, "47h"},
		{"days", 5*24*time.Hour + time.Hour, "5d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UptimeText(tt.d); got != tt.want {
				t.Errorf("UptimeText(%v) = %q; want %q", tt.d, got, tt.want)
			}
		})
	}
}

func TestProcessUptime(t *testing.T) {
	now := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	p := Process{Start: now.Add(-90 * time.Second)}
	if got := p.Uptime(now); got != "1m" {
		t.Errorf("Uptime = %q; want %q", got, "1m")
	}
	if got := (&Process{}).Uptime(now); got != "" {
		t.Errorf("Uptime without a start time = %q; want \"\"", got)
	}
}

package ports

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// TestSystemReservedWindows asks this machine's netsh. Wine's netsh knows
// neither command and prints nothing, which must come back as an
// ErrNetshOutput error (callers then show no exclusions), never as a
// silent "nothing is excluded".
func TestSystemReservedWindows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wine := windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
	sys := SystemReserved()
	ex, err := sys.Excluded(ctx, "tcp")
	dyn, derr := sys.Dynamic(ctx, "tcp")
	if wine {
		if !errors.Is(err, ErrNetshOutput) || !errors.Is(derr, ErrNetshOutput) {
			t.Errorf("under Wine: Excluded = %v, %v; Dynamic = %v, %v; want ErrNetshOutput from both", ex, err, dyn, derr)
		}
		return
	}
	if err != nil || derr != nil {
		t.Fatalf("Excluded = %v, %v; Dynamic = %v, %v", ex, err, dyn, derr)
	}
	if dyn.Len() < 255 {
		t.Errorf("Dynamic = %v; Windows allows no fewer than 255 dynamic ports", dyn)
	}
}

package cli

import (
	"encoding/json"
	"testing"

	"homeport/internal/ports"
)

// TestFreeSkipsWindowsExclusions runs `homeport free` through its command
// with a provider that excludes most of the asked range: no printed port
// may be excluded.
func TestFreeSkipsWindowsExclusions(t *testing.T) {
	ex := []ports.Exclusion{{Range: ports.Range{Lo: 23500, Hi: 23579}}, {Range: ports.Range{Lo: 23590, Hi: 23599}, Administered: true}}
	for i := range 10 {
		io, out, errb := testIO("")
		f := &Factory{IO: io}
		var opts *FreeOptions
		cmd := NewCmdFree(f, func(o *FreeOptions) error {
			opts = o
			o.Reserved = ports.FixedReserved{Exclusions: map[string][]ports.Exclusion{"tcp": ex}}
			return freeRun(o)
		})
		cmd.SetArgs([]string{"--range", "23500-23599", "--count", "5", "--hold", "0", "--json"})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("free #%d = %v (stderr %q)", i, err, errb)
		}
		if opts == nil {
			t.Fatal("free did not run")
		}
		var got []uint16
		if err := json.Unmarshal([]byte(out.String()), &got); err != nil || len(got) != 5 {
			t.Fatalf("free #%d printed %q (%v); want 5 ports", i, out, err)
		}
		for _, p := range got {
			if e, ok := ports.ExcludedAt(ex, p); ok {
				t.Fatalf("free #%d printed %d, inside the excluded %v", i, p, e.Range)
			}
		}
	}
}

func TestFreeDefaultsToSystemReserved(t *testing.T) {
	io, _, _ := testIO("")
	var got ports.ReservedRanges
	cmd := NewCmdFree(&Factory{IO: io}, func(o *FreeOptions) error { got = o.Reserved; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Errorf("FreeOptions.Reserved = nil; want ports.SystemReserved()")
	}
}

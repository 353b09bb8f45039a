package ports

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// failingReserved is a provider whose netsh fails.
type failingReserved struct{}

func (failingReserved) Excluded(context.Context, string) ([]Exclusion, error) {
	return nil, errors.New("netsh: exit status 1")
}

func (failingReserved) Dynamic(context.Context, string) (Range, error) {
	return Range{}, errors.New("netsh: exit status 1")
}

// TestFreeSkipsExcluded asks again and again for ports of a range whose
// first half Windows excludes: none may come from that half, whatever the
// random start.
func TestFreeSkipsExcluded(t *testing.T) {
	r := Range{20100, 20199}
	ex := []Exclusion{{Range: Range{20100, 20139}}, {Range: Range{20150, 20159}, Administered: true}}
	reserved := FixedReserved{Exclusions: map[string][]Exclusion{"tcp": ex}}
	for i := range 30 {
		got, err := Free(FreeOptions{Ranges: []Range{r}, Count: 5, Reserved: reserved})
		if err != nil {
			t.Fatalf("Free #%d = %v", i, err)
		}
		for _, p := range got {
			if e, ok := ExcludedAt(ex, p); ok || !r.Contains(p) {
				t.Fatalf("Free #%d returned %d, inside the excluded %v (or outside %v)", i, p, e.Range, r)
			}
		}
	}
	// With a name: the same port as without exclusions, when that port
	// is not excluded; the next one that is not, when it is.
	named, err := Free(FreeOptions{Ranges: []Range{r}, Name: "api", Reserved: FixedReserved{}})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := FixedReserved{Exclusions: map[string][]Exclusion{"tcp": {{Range: Range{named[0] ^ 1, named[0] ^ 1}}}}}
	if got, err := Free(FreeOptions{Ranges: []Range{r}, Name: "api", Reserved: elsewhere}); err != nil || got[0] != named[0] {
		t.Errorf("Free(name api, another port excluded) = %v, %v; want %d as without exclusions", got, err, named[0])
	}
	onIt := FixedReserved{Exclusions: map[string][]Exclusion{"tcp": {{Range: Range{named[0], named[0]}}}}}
	if got, err := Free(FreeOptions{Ranges: []Range{r}, Name: "api", Reserved: onIt}); err != nil || got[0] == named[0] {
		t.Errorf("Free(name api, its port %d excluded) = %v, %v; want another port", named[0], got, err)
	}
}

func TestFreeAllExcluded(t *testing.T) {
	r := Range{20200, 20209}
	reserved := FixedReserved{Exclusions: map[string][]Exclusion{"tcp": {{Range: Range{20150, 20299}}}}}
	got, err := Free(FreeOptions{Ranges: []Range{r}, Reserved: reserved})
	if !errors.Is(err, ErrNoFreePort) || !strings.Contains(err.Error(), "excludes every port") {
		t.Fatalf("Free(every port excluded) = %v, %v; want ErrNoFreePort naming the exclusion", got, err)
	}
}

// TestFreeDefaultRangesFollowDynamic: by default, free looks below the
// dynamic range the provider reports (netsh's on Windows).
func TestFreeDefaultRangesFollowDynamic(t *testing.T) {
	reserved := FixedReserved{DynamicRange: Range{20000, 65535}}
	got, err := Free(FreeOptions{Count: 20, Reserved: reserved})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p < RegisteredRange.Lo || p >= 20000 {
			t.Errorf("Free() with the dynamic range 20000-65535 returned %d; want 1024-19999", p)
		}
	}
}

// TestFreeReservedFails: an unreadable provider excludes nothing.
func TestFreeReservedFails(t *testing.T) {
	got, err := Free(FreeOptions{Ranges: []Range{{20300, 20399}}, Count: 2, Reserved: failingReserved{}})
	if err != nil || len(got) != 2 {
		t.Fatalf("Free(provider failing) = %v, %v; want 2 ports", got, err)
	}
}

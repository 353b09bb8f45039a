package ports

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ex(lo, hi uint16, admin bool) Exclusion {
	return Exclusion{Range: Range{lo, hi}, Administered: admin}
}

func TestParseExcludedPortRanges(t *testing.T) {
	tests := []struct {
		name string
		file string // in testdata/netsh, or
		in   string // inline
		want []Exclusion
		err  bool
	}{
		{
			name: "english", file: "excluded-en.txt",
			want: []Exclusion{ex(1026, 1125, false), ex(5357, 5357, false), ex(47001, 47001, false),
				ex(50000, 50059, true), ex(62850, 62949, false)},
		},
		{name: "english, no ranges", file: "excluded-en-empty.txt", want: nil},
		{
			name: "german in cp850", file: "excluded-de-cp850.txt",
			want: []Exclusion{ex(5357, 5357, false), ex(49711, 49810, false), ex(50000, 50059, true)},
		},
		{
			name: "spanish table alone", file: "excluded-es.txt",
			want: []Exclusion{ex(1025, 1124, false), ex(5357, 5357, false), ex(24266, 24365, false), ex(50000, 50059, false)},
		},
		{
			name: "chinese in gbk", file: "excluded-zh-gbk.txt",
			want: []Exclusion{ex(1607, 1706, false), ex(5985, 5985, false), ex(50000, 50059, true)},
		},
		{name: "rows without a header", in: "  80 80\n 443 443 *\n", want: []Exclusion{ex(80, 80, false), ex(443, 443, true)}},
		{name: "a line with three numbers is no row", in: "----\n 1 2 3\n", want: nil},
		{name: "a line with a word after the numbers is no row", in: "----\n 1 2 x\n", want: nil},
		{name: "command not found", in: "The following command was not found: int ipv4 show excludedportrange.\r\n", err: true},
		{name: "empty", in: "", err: true},
		{name: "backwards range", in: "----\n 5000 4000\n", err: true},
		{name: "beyond 65535", in: "----\n 65535 65536\n", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := netshInput(t, tt.in, tt.file)
			got, err := ParseExcludedPortRanges(strings.NewReader(in))
			if tt.err {
				if !errors.Is(err, ErrNetshOutput) {
					t.Fatalf("ParseExcludedPortRanges(%q) = %v, %v; want an ErrNetshOutput", in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExcludedPortRanges(%q) = %v", in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseExcludedPortRanges(%q) mismatch (-want +got):\n%s", in, diff)
			}
		})
	}
}

func TestParseDynamicPortRange(t *testing.T) {
	tests := []struct {
		name string
		file string
		in   string
		want Range
		err  bool
	}{
		{name: "english", file: "dynamic-en.txt", want: Range{49152, 65535}},
		{name: "german in cp850", file: "dynamic-de-cp850.txt", want: Range{49152, 65535}},
		{name: "japanese in shift-jis", file: "dynamic-ja-sjis.txt", want: Range{49152, 65535}},
		{name: "changed by an installer", file: "dynamic-vs-changed.txt", want: Range{1024, 65534}},
		{name: "log prefixes", in: "vhd: Start Port      : 10000\nvhd: Number of Ports : 1000\n", want: Range{10000, 10999}},
		{name: "one port", in: "a : 65535\nb : 1\n", want: Range{65535, 65535}},
		{name: "no count", in: "Start Port : 49152\n", err: true},
		{name: "empty", in: "", err: true},
		{name: "past 65535", in: "Start Port : 49152\nNumber of Ports : 16385\n", err: true},
		{name: "zero ports", in: "Start Port : 49152\nNumber of Ports : 0\n", err: true},
		{name: "start zero", in: "Start Port : 0\nNumber of Ports : 10\n", err: true},
		{name: "huge number", in: "Start Port : 99999999999\nNumber of Ports : 1\n", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := netshInput(t, tt.in, tt.file)
			got, err := ParseDynamicPortRange(strings.NewReader(in))
			if tt.err {
				if !errors.Is(err, ErrNetshOutput) {
					t.Fatalf("ParseDynamicPortRange(%q) = %v, %v; want an ErrNetshOutput", in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseDynamicPortRange(%q) = %v, %v; want %v", in, got, err, tt.want)
			}
		})
	}
}

// TestNetshReserved runs the netsh provider over the fixtures through a fake
// netsh that checks the arguments it is given.
func TestNetshReserved(t *testing.T) {
	files := map[string]string{
		"int ipv4 show excludedportrange protocol=tcp": "excluded-en.txt",
		"int ipv6 show excludedportrange protocol=tcp": "excluded-de-cp850.txt",
		"int ipv4 show excludedportrange protocol=udp": "excluded-en-empty.txt",
		"int ipv6 show excludedportrange protocol=udp": "excluded-en-empty.txt",
		"int ipv4 show dynamicport tcp":                "dynamic-vs-changed.txt",
	}
	n := &netshReserved{run: func(_ context.Context, args ...string) ([]byte, error) {
		f, ok := files[strings.Join(args, " ")]
		if !ok {
			return nil, errors.New("netsh: unexpected arguments " + strings.Join(args, " "))
		}
		return os.ReadFile("testdata/netsh/" + f)
	}}
	ctx := context.Background()
	got, err := n.Excluded(ctx, "tcp")
	if err != nil {
		t.Fatal(err)
	}
	// IPv4's, then IPv6's that IPv4 does not list.
	want := []Exclusion{ex(1026, 1125, false), ex(5357, 5357, false), ex(47001, 47001, false),
		ex(50000, 50059, true), ex(62850, 62949, false), ex(49711, 49810, false)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Excluded(tcp) mismatch (-want +got):\n%s", diff)
	}
	if got, err := n.Excluded(ctx, "udp"); err != nil || len(got) != 0 {
		t.Errorf("Excluded(udp) = %v, %v; want none", got, err)
	}
	if got, err := n.Dynamic(ctx, "tcp"); err != nil || got != (Range{1024, 65534}) {
		t.Errorf("Dynamic(tcp) = %v, %v; want 1024-65534", got, err)
	}
	if _, err := n.Dynamic(ctx, "udp"); err == nil {
		t.Errorf("Dynamic(udp) with a netsh that fails: no error")
	}
	if _, err := n.Excluded(ctx, "sctp"); err == nil {
		t.Errorf("Excluded(sctp): no error")
	}
}

func TestExcludedHelpers(t *testing.T) {
	exs := []Exclusion{ex(50000, 50059, true), ex(62850, 62949, false)}
	if e, ok := ExcludedAt(exs, 62893); !ok || e.Range != (Range{62850, 62949}) {
		t.Errorf("ExcludedAt(62893) = %v, %v", e, ok)
	}
	if _, ok := ExcludedAt(exs, 62950); ok {
		t.Errorf("ExcludedAt(62950) found an exclusion")
	}
	got := WithoutExcluded([]Range{{49152, 65535}, {3000, 3010}}, exs)
	want := []Range{{49152, 49999}, {50060, 62849}, {62950, 65535}, {3000, 3010}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("WithoutExcluded mismatch (-want +got):\n%s", diff)
	}
	msg := exs[1].Explain(62893)
	for _, w := range []string{"62893", "62850-62949", "Hyper-V", "access forbidden", "netsh int ipv4 show excludedportrange"} {
		if !strings.Contains(msg, w) {
			t.Errorf("Explain(62893) = %q; want it to name %q", msg, w)
		}
	}
	if !strings.Contains(exs[0].Explain(50001), "administrator") {
		t.Errorf("Explain of an administered range does not say so: %q", exs[0].Explain(50001))
	}
	if m := ExplainDynamic(62893, DynamicRange); !strings.Contains(m, "49152-65535") {
		t.Errorf("ExplainDynamic(62893) = %q", m)
	}
	if m := ExplainDynamic(3000, DynamicRange); m != "" {
		t.Errorf("ExplainDynamic(3000) = %q; want nothing", m)
	}
}

func TestFixedAndKernelReserved(t *testing.T) {
	ctx := context.Background()
	var f ReservedRanges = FixedReserved{Exclusions: map[string][]Exclusion{"tcp": {ex(1, 2, false)}}}
	if got, _ := f.Excluded(ctx, "tcp"); len(got) != 1 {
		t.Errorf("FixedReserved.Excluded(tcp) = %v", got)
	}
	if got, _ := f.Dynamic(ctx, "tcp"); got != DynamicRange {
		t.Errorf("FixedReserved.Dynamic = %v; want the default %v", got, DynamicRange)
	}
	if runtime.GOOS == "windows" {
		return // reserved_windows_test.go
	}
	sys := SystemReserved()
	if got, err := sys.Excluded(ctx, "tcp"); err != nil || len(got) != 0 {
		t.Errorf("SystemReserved().Excluded on this OS = %v, %v; want none", got, err)
	}
	if got, err := sys.Dynamic(ctx, "tcp"); err != nil || got != EphemeralRange(os.DirFS("/")) {
		t.Errorf("SystemReserved().Dynamic = %v, %v; want the kernel's %v", got, err, EphemeralRange(os.DirFS("/")))
	}
}

func FuzzParseExcludedPortRanges(f *testing.F) {
	for _, name := range []string{"excluded-en.txt", "excluded-de-cp850.txt", "excluded-zh-gbk.txt", "excluded-es.txt"} {
		b, err := os.ReadFile("testdata/netsh/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("----\n 5000 4000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseExcludedPortRanges(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, e := range got {
			if e.Lo > e.Hi {
				t.Fatalf("ParseExcludedPortRanges(%q) returned backwards range %v", b, e)
			}
		}
	})
}

func FuzzParseDynamicPortRange(f *testing.F) {
	for _, name := range []string{"dynamic-en.txt", "dynamic-de-cp850.txt", "dynamic-ja-sjis.txt"} {
		b, err := os.ReadFile("testdata/netsh/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseDynamicPortRange(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		if got.Lo < 1 || got.Lo > got.Hi {
			t.Fatalf("ParseDynamicPortRange(%q) = %v", b, got)
		}
	})
}

// netshInput is a case's netsh output: the captured file when one is named,
// the inline text otherwise.
func netshInput(t *testing.T, in, file string) string {
	t.Helper()
	if file == "" {
		return in
	}
	b, err := os.ReadFile("testdata/netsh/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

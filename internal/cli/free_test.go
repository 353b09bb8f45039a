package cli

import (
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestFree50ParallelProcesses runs 50 real `homeport free` processes at once
// over a 100-port range: reservations must hand out 50 distinct ports.
func TestFree50ParallelProcesses(t *testing.T) {
	dir := t.TempDir()
	const n = 50
	hs := make([]*helper, n)
	outs := make([]*strings.Builder, n)
	for i := range hs {
		// Started by hand (not startHelper) so all 50 run at once.
		h := &helper{done: make(chan struct{})}
		cmd := newHelperCmd("main", "free\x1f--range\x1f23000-23099", "XDG_RUNTIME_DIR="+dir)
		outs[i] = &strings.Builder{}
		cmd.Stdout = outs[i]
		h.cmd = cmd
		hs[i] = h
	}
	for _, h := range hs {
		if err := h.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	var got []int
	for i, h := range hs {
		if err := h.cmd.Wait(); err != nil {
			t.Fatalf("homeport free #%d: %v", i, err)
		}
		p, err := strconv.Atoi(strings.TrimSpace(outs[i].String()))
		if err != nil {
			t.Fatalf("homeport free #%d printed %q", i, outs[i])
		}
		got = append(got, p)
	}
	slices.Sort(got)
	if distinct := slices.Compact(slices.Clone(got)); len(distinct) != n {
		t.Fatalf("50 parallel homeport free got %d distinct ports: %v", len(distinct), got)
	}
}

// TestFreeSkipsHeldPorts: a port held only on [::1], only on 0.0.0.0 or only
// on 127.0.0.1 is never printed.
func TestFreeSkipsHeldPorts(t *testing.T) {
	for _, tt := range []struct{ name, network, host string }{
		{"[::1] only", "tcp6", "::1"},
		{"0.0.0.0 only", "tcp4", "0.0.0.0"},
		{"127.0.0.1 only", "tcp4", "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen(tt.network, net.JoinHostPort(tt.host, "0"))
			if err != nil {
				t.Skipf("no %s here: %v", tt.host, err)
			}
			defer ln.Close()
			p := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
			t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
			io, out, errb := testIO("")
			if got := Main([]string{"free", "--range", p}, io); got != 1 {
				t.Fatalf("free --range %s with the port held on %s: exit %d, printed %q; want exit 1", p, tt.host, got, out)
			}
			if !strings.Contains(errb.String(), "no free port") {
				t.Errorf("stderr %q lacks 'no free port'", errb)
			}
		})
	}
}

func TestFreeNameAndJSON(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	run := func(args ...string) string {
		t.Helper()
		io, out, errb := testIO("")
		if got := Main(args, io); got != 0 {
			t.Fatalf("homeport %v: exit %d, stderr %q", args, got, errb)
		}
		return out.String()
	}
	a := run("free", "--name", "api", "--range", "24000-24999")
	if b := run("free", "--name", "api", "--range", "24000-24999"); a != b {
		t.Errorf("free --name api said %q, then %q", a, b)
	}
	var got []int
	if err := json.Unmarshal([]byte(run("free", "--count", "3", "--json", "--range", "24000-24999")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(slices.Compact(slices.Sorted(slices.Values(got)))) != 3 {
		t.Errorf("free --count 3 --json = %v; want 3 distinct ports", got)
	}
	for _, p := range got {
		if p < 24000 || p > 24999 {
			t.Errorf("port %d outside --range 24000-24999", p)
		}
	}
}

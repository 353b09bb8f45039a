package ports

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The test binary doubles as a `homeport free` process: with
// HOMEPORT_PORTS_FREE set to "lo-hi", it picks one port with reservations and
// prints it (see TestFreeParallelProcesses).
func TestMain(m *testing.M) {
	if spec := os.Getenv("HOMEPORT_PORTS_FREE"); spec != "" {
		r, err := ParseRange(spec)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		res, err := NewHolds(DefaultTTL, CurrentHolder(os.Getppid()))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		got, err := Free(FreeOptions{Ranges: []Range{r}, Holds: res})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(got[0])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdOn listens on addr:0 and returns the port; skips when the machine has
// no such address (no IPv6).
func holdOn(t *testing.T, network, addr string) uint16 {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// TestFreeNeverReturnsHeldPort holds a port on one address only and asks Free
// for a port from a range holding just that port and one free neighbour.
func TestFreeNeverReturnsHeldPort(t *testing.T) {
	for _, tt := range []struct{ name, network, addr string }{
		{"held on [::1] only", "tcp6", "[::1]:0"},
		{"held on 0.0.0.0 only", "tcp4", "0.0.0.0:0"},
		{"held on 127.0.0.1 only", "tcp4", "127.0.0.1:0"},
		{"held on [::] only", "tcp6", "[::]:0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := holdOn(t, tt.network, tt.addr)
			if Bindable(p) {
				t.Fatalf("Bindable(%d) = true while it is %s", p, tt.name)
			}
			got, err := Free(FreeOptions{Ranges: []Range{{p, p}}})
			if err == nil {
				t.Fatalf("Free(range %d-%d) = %v; want ErrNoFreePort", p, p, got)
			}
			// With the held port in a bigger range, every pick skips it.
			for range 20 {
				got, err := Free(FreeOptions{Ranges: []Range{{p, p + 1}}})
				if err == nil && got[0] == p {
					t.Fatalf("Free returned port %d, %s", p, tt.name)
				}
			}
		})
	}
}

func TestBindableFreePort(t *testing.T) {
	// A port that was just free on 127.0.0.1 is almost surely free on all
	// addresses; Free must find some port in the ephemeral range.
	got, err := Free(FreeOptions{Ranges: []Range{DynamicRange}, Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] == got[1] || got[1] == got[2] || got[0] == got[2] {
		t.Fatalf("Free(count 3) = %v; want 3 distinct ports", got)
	}
	for _, p := range got {
		if !DynamicRange.Contains(p) {
			t.Errorf("port %d outside %v", p, DynamicRange)
		}
	}
}

func TestFreeNameIsStable(t *testing.T) {
	r := []Range{{20000, 29999}}
	a, err := Free(FreeOptions{Ranges: r, Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	res := newTestHolds(t)
	for range 3 {
		b, err := Free(FreeOptions{Ranges: r, Name: "api", Holds: res})
		if err != nil {
			t.Fatal(err)
		}
		// The reservation made for "api" does not stand in the way of "api".
		if b[0] != a[0] {
			t.Fatalf("Free(name api) = %d, then %d; want the same port", a[0], b[0])
		}
	}
	other, err := Free(FreeOptions{Ranges: r, Name: "web", Holds: res})
	if err != nil {
		t.Fatal(err)
	}
	if other[0] == a[0] {
		t.Errorf("names api and web both got %d", a[0])
	}
	// Taken: the next free one from there.
	holdPort(t, a[0])
	c, err := Free(FreeOptions{Ranges: r, Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if c[0] == a[0] {
		t.Fatalf("Free(name api) = %d while it is held", c[0])
	}
}

func holdPort(t *testing.T, p uint16) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(int(p)))
	if err != nil {
		t.Fatalf("cannot hold %d: %v", p, err)
	}
	t.Cleanup(func() { ln.Close() })
}

func TestFreeExhausted(t *testing.T) {
	p := holdOn(t, "tcp4", "127.0.0.1:0")
	_, err := Free(FreeOptions{Ranges: []Range{{p, p}}})
	if err == nil || !strings.Contains(err.Error(), "no free port") {
		t.Fatalf("Free over a held port = %v; want ErrNoFreePort", err)
	}
}

// TestFreeParallelProcesses runs 50 real processes at once, each picking one
// port from a 100-port range with reservations; no two may get the same port.
func TestFreeParallelProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 processes")
	}
	dir := t.TempDir()
	const n = 50
	cmds := make([]*exec.Cmd, n)
	outs := make([]*strings.Builder, n)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "HOMEPORT_PORTS_FREE=21000-21099", "XDG_RUNTIME_DIR="+dir)
		outs[i] = &strings.Builder{}
		cmd.Stdout = outs[i]
		cmd.Stderr = os.Stderr
		cmds[i] = cmd
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	var got []int
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("picker %d: %v", i, err)
		}
		sc := bufio.NewScanner(strings.NewReader(outs[i].String()))
		for sc.Scan() {
			p, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("picker %d printed %q", i, sc.Text())
			}
			got = append(got, p)
		}
	}
	slices.Sort(got)
	if len(got) != n || len(slices.Compact(slices.Clone(got))) != n {
		t.Fatalf("50 parallel pickers got %d ports, distinct %d: %v", len(got), len(slices.Compact(slices.Clone(got))), got)
	}
}

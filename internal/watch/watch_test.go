package watch

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"homeport/internal/procs"
	"homeport/internal/sockets"
)

func sock(addr string, inode uint64, pids ...int) sockets.Socket {
	s := sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort(addr), Inode: inode}
	for _, p := range pids {
		s.Owners = append(s.Owners, procs.Process{PID: p, Name: "p", StartTicks: uint64(p) * 10})
	}
	return s
}

// fakeTake returns the given inventories one after another.
func fakeTake(snaps ...[]sockets.Socket) func(context.Context, sockets.Filter) (*sockets.Snapshot, error) {
	i := 0
	return func(context.Context, sockets.Filter) (*sockets.Snapshot, error) {
		s := snaps[min(i, len(snaps)-1)]
		i++
		return &sockets.Snapshot{Sockets: s}, nil
	}
}

type ev struct {
	Kind  string
	Local string
	Inode uint64
	PIDs  []int
	Prev  []int
}

func summary(evs []Event) []ev {
	var out []ev
	for _, e := range evs {
		x := ev{Kind: e.Kind.String(), Local: e.Socket.Local.String(), Inode: e.Socket.Inode}
		for _, o := range e.Socket.Owners {
			x.PIDs = append(x.PIDs, o.PID)
		}
		if e.Previous != nil {
			for _, o := range e.Previous.Owners {
				x.Prev = append(x.Prev, o.PID)
			}
		}
		out = append(out, x)
	}
	return out
}

func TestPollEvents(t *testing.T) {
	tests := []struct {
		name string
		prev []sockets.Socket
		cur  []sockets.Socket
		want []ev
	}{
		{"nothing changed", []sockets.Socket{sock("127.0.0.1:80", 1, 10)}, []sockets.Socket{sock("127.0.0.1:80", 1, 10)}, nil},
		{"opened", nil, []sockets.Socket{sock("127.0.0.1:80", 1, 10)},
			[]ev{{Kind: "open", Local: "127.0.0.1:80", Inode: 1, PIDs: []int{10}}}},
		{"closed", []sockets.Socket{sock("127.0.0.1:80", 1, 10)}, nil,
			[]ev{{Kind: "close", Local: "127.0.0.1:80", Inode: 1, PIDs: []int{10}}}},
		{"reopened is a new socket",
			[]sockets.Socket{sock("127.0.0.1:80", 1, 10)}, []sockets.Socket{sock("127.0.0.1:80", 2, 10)},
			[]ev{{Kind: "close", Local: "127.0.0.1:80", Inode: 1, PIDs: []int{10}}, {Kind: "open", Local: "127.0.0.1:80", Inode: 2, PIDs: []int{10}}}},
		{"owner added",
			[]sockets.Socket{sock("127.0.0.1:80", 1, 10)}, []sockets.Socket{sock("127.0.0.1:80", 1, 10, 11)},
			[]ev{{Kind: "change", Local: "127.0.0.1:80", Inode: 1, PIDs: []int{10, 11}, Prev: []int{10}}}},
		{"owner replaced",
			[]sockets.Socket{sock("127.0.0.1:80", 1, 10)}, []sockets.Socket{sock("127.0.0.1:80", 1, 12)},
			[]ev{{Kind: "change", Local: "127.0.0.1:80", Inode: 1, PIDs: []int{12}, Prev: []int{10}}}},
		{"owner seen",
			[]sockets.Socket{sock("127.0.0.1:80", 1)}, []sockets.Socket{sock("127.0.0.1:80", 1, 10)},
			[]ev{{Kind: "change", Local: "127.0.0.1:80", Inode: 1, PIDs: []int{10}}}},
		{"same address other family",
			[]sockets.Socket{sock("0.0.0.0:80", 1, 10)}, []sockets.Socket{sock("0.0.0.0:80", 1, 10), sock("[::]:80", 3, 10)},
			[]ev{{Kind: "open", Local: "[::]:80", Inode: 3, PIDs: []int{10}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Options{Take: fakeTake(tt.prev, tt.cur)})
			first, err := p.Poll(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !first.Initial || len(first.Events) != 0 {
				t.Errorf("first poll: Initial %v, %d events; want Initial and none", first.Initial, len(first.Events))
			}
			u, err := p.Poll(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if u.Initial {
				t.Errorf("second poll is Initial")
			}
			if d := cmp.Diff(tt.want, summary(u.Events)); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

func TestKindText(t *testing.T) {
	for k, want := range map[Kind]string{Opened: "open", Closed: "close", Changed: "change", 0: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q; want %q", k, got, want)
		}
	}
}

// TestRunSeesRealListener watches the real inventory while this process
// opens and closes a listener.
func TestRunSeesRealListener(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hub := &Hub{}
	sub := hub.Subscribe(64)
	p := New(Options{Interval: 50 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, hub.Publish, func(err error) { t.Errorf("poll: %v", err) }) }()

	next := func(what string, ok func(Update) bool) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case u, open := <-sub.Updates():
				if !open {
					t.Fatalf("subscription ended while waiting for %s", what)
				}
				if ok(u) {
					return
				}
			case <-deadline:
				t.Fatalf("no update with %s after 30s", what)
			}
		}
	}
	next("the first snapshot", func(u Update) bool { return u.Initial })

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(ln.Addr().String())
	has := func(u Update, k Kind) bool {
		for _, e := range u.Events {
			if e.Kind == k && e.Socket.Local == addr && e.Socket.Proto == sockets.TCP {
				return len(e.Socket.Owners) > 0 && e.Socket.Owners[0].PID == os.Getpid()
			}
		}
		return false
	}
	next("an open event owned by this process", func(u Update) bool { return has(u, Opened) })
	ln.Close()
	next("a close event", func(u Update) bool { return has(u, Closed) })
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run = %v; want context.Canceled", err)
	}
}

func TestHubDropsSlowSubscriber(t *testing.T) {
	h := &Hub{}
	slow := h.Subscribe(1)
	fast := h.Subscribe(8)
	for i := range 3 {
		h.Publish(Update{Took: time.Duration(i)})
	}
	if !slow.Dropped() {
		t.Errorf("slow subscriber not dropped")
	}
	n := 0
	for range slow.Updates() {
		n++
	}
	if n != 1 {
		t.Errorf("slow subscriber got %d updates before the drop; want 1", n)
	}
	if fast.Dropped() || len(fast.Updates()) != 3 {
		t.Errorf("fast subscriber: dropped %v, %d updates; want kept with 3", fast.Dropped(), len(fast.Updates()))
	}
	if h.Len() != 1 {
		t.Errorf("hub has %d subscribers; want 1", h.Len())
	}

	// A new subscriber starts from the last snapshot, as Initial.
	late := h.Subscribe(1)
	u := <-late.Updates()
	if !u.Initial || u.Took != 2 || u.Events != nil {
		t.Errorf("late subscriber's first update = %+v; want the last one as Initial", u)
	}
	late.Close()
	if _, open := <-late.Updates(); open {
		t.Errorf("closed subscription still open")
	}
	h.Close()
	h.Publish(Update{}) // after Close: nothing, and no panic
	n = 0
	for range fast.Updates() {
		n++
	}
	if n != 3 {
		t.Errorf("fast subscriber drained %d updates after the hub closed; want 3", n)
	}
}

// BenchmarkPoll compares one poll of a warm Poller with one full inventory
// (what `homeport ports` does) on a fixture of 10,000 listeners over 100
// processes. Set HOMEPORT_BENCH_LISTENERS to change the size.
func BenchmarkPoll(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("the fixture is Linux-only")
	}
	startBenchFixture(b)
	ctx := context.Background()
	b.Run("watch", func(b *testing.B) {
		p := New(Options{})
		if _, err := p.Poll(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Poll(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("list", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sockets.List(ctx, sockets.Filter{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// startBenchFixture runs bench/benchtool's fixture until the benchmark
// ends, unless HOMEPORT_BENCH_FIXTURE=external says one already runs
// (bench/dashboard.sh).
func startBenchFixture(b *testing.B) {
	b.Helper()
	if os.Getenv("HOMEPORT_BENCH_FIXTURE") == "external" {
		return
	}
	n := os.Getenv("HOMEPORT_BENCH_LISTENERS")
	if n == "" {
		n = "10000"
	}
	bin := filepath.Join(b.TempDir(), "benchtool")
	build := exec.Command("go", "build", "-o", bin, "homeport/bench/benchtool")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building benchtool: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "fixture", "-listeners", n, "-procs", "100", "-idle", "0")
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "ready") {
		b.Fatalf("fixture did not start: %q", line)
	}
}

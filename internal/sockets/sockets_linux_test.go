package sockets

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	ssPIDRe   = regexp.MustCompile(`pid=(\d+)`)
	ssInodeRe = regexp.MustCompile(`ino:(\d+)`)
)

// runSS lists sockets with ss, the oracle, keyed like ssKey.
func runSS(t *testing.T) map[string][]int {
	t.Helper()
	out, err := exec.Command("ss", "-Htulnpe").Output()
	if err != nil {
		t.Fatalf("ss -Htulnpe: %v", err)
	}
	got := map[string][]int{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		ino := ssInodeRe.FindStringSubmatch(line)
		if ino == nil {
			continue
		}
		local := f[4]
		if strings.HasPrefix(local, "*:") { // ss prints a dual-stack [::] as *
			local = "[::]" + local[1:]
		}
		var pids []int
		for _, m := range ssPIDRe.FindAllStringSubmatch(line, -1) {
			p, _ := strconv.Atoi(m[1])
			if !slices.Contains(pids, p) {
				pids = append(pids, p)
			}
		}
		slices.Sort(pids)
		got[f[0]+" "+local+" "+ino[1]] = pids
	}
	return got
}

func ssKey(s *Socket) string {
	return fmt.Sprintf("%s %s %d", s.Proto, s.Local, s.Inode)
}

func ownerPIDs(s *Socket) []int {
	var pids []int
	for _, p := range s.Owners {
		pids = append(pids, p.PID)
	}
	slices.Sort(pids)
	return pids
}

// TestMatchesSS checks the inventory against ss on a fixture of every kind of
// listener: IPv4, IPv6, dual-stack and v6-only wildcards, UDP, SO_REUSEPORT
// groups across processes, sockets inherited by a child, an MPTCP listener
// from net.Listen, and an owner whose name contains ")" (which ss misreads).
func TestMatchesSS(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("ss (iproute2) is not installed")
	}
	first := startFixture(t, "reuse:0,tcp4:400,tcp6:300,name:a) b")
	specs := []string{
		fmt.Sprintf("reuse:%d,any4:300,dual:200,v6only:200", first.port),
		"udp4:300,udp6:200,golisten,inherit",
		"tcp4:300,name:nc (",
	}
	fixtures := []*fixture{first}
	for _, s := range specs {
		fixtures = append(fixtures, startFixture(t, s))
	}
	var ours []int
	for _, f := range fixtures {
		ours = append(ours, f.pids...)
	}

	snap, err := Take(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ss := runSS(t)

	// Compare the sockets owned by the fixture: the rest of the machine may
	// change between the two reads.
	mine := func(pids []int) bool {
		return slices.ContainsFunc(pids, func(p int) bool { return slices.Contains(ours, p) })
	}
	want := map[string][]int{}
	for k, pids := range ss {
		if mine(pids) {
			want[k] = pids
		}
	}
	got := map[string][]int{}
	names := map[int]string{}
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if pids := ownerPIDs(s); mine(pids) {
			got[ssKey(s)] = pids
			for _, p := range s.Owners {
				names[p.PID] = p.Name
			}
		}
	}
	if len(want) < 2200 {
		t.Fatalf("ss shows %d fixture sockets, want at least 2200", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inventory differs from ss -Htulnpe (-ss +homeport):\n%s", diff)
	}
	if n := names[first.pids[0]]; n != "a) b" {
		t.Errorf("name of pid %d = %q; want %q", first.pids[0], n, "a) b")
	}
	if n := names[fixtures[3].pids[0]]; n != "nc (" {
		t.Errorf("name of pid %d = %q; want %q", fixtures[3].pids[0], n, "nc (")
	}

	// The kinds the fixture made are told apart.
	var dual, v6only, shared, reuse int
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if !mine(ownerPIDs(s)) {
			continue
		}
		if s.DualStack() {
			dual++
		}
		if s.Local.Addr().IsUnspecified() && s.Local.Addr().Is6() && s.V6Only {
			v6only++
		}
		if len(s.Owners) == 2 {
			shared++
		}
		// Other fixture sockets may get the same number in another family
		// or protocol.
		if int(s.Port()) == first.port && s.Proto == TCP && s.Local.Addr() == netip.MustParseAddr("127.0.0.1") {
			reuse++
		}
	}
	if dual != 200 || v6only != 200 {
		t.Errorf("dual-stack = %d, v6-only = %d; want 200 and 200", dual, v6only)
	}
	if shared < 501 { // 500 UDP + the MPTCP listener are shared with the child
		t.Errorf("%d sockets with two owners; want at least 501 (inherited)", shared)
	}
	if reuse != 2 {
		t.Errorf("%d sockets on SO_REUSEPORT port %d; want 2", reuse, first.port)
	}
}

// TestProcNetMatchesNetlink checks that the /proc/net fallback reads the same
// sockets as sock_diag (but the v6-only flag, which /proc/net lacks).
func TestProcNetMatchesNetlink(t *testing.T) {
	f := startFixture(t, "tcp4:50,tcp6:50,dual:20,v6only:20,udp4:30,udp6:30")
	mineSnap, err := Take(context.Background(), Filter{PIDs: f.pids})
	if err != nil {
		t.Fatal(err)
	}
	if len(mineSnap.Sockets) != 200 {
		t.Fatalf("fixture holds %d sockets; want 200", len(mineSnap.Sockets))
	}
	key := func(s *Socket) string { return ssKey(s) + " " + s.State.String() }
	for _, filter := range []Filter{{}, {Port: uint16(f.port)}, {TCP: true}, {UDP: true}, {All: true}} {
		nl := &linuxImpl{procRoot: "/proc"}
		pr := &linuxImpl{procRoot: "/proc", forceProc: true}
		a, src, _, err := nl.inventory(context.Background(), &filter)
		if err != nil || src != "netlink sock_diag" {
			t.Fatalf("netlink inventory: %v (source %q)", err, src)
		}
		b, src, _, err := pr.inventory(context.Background(), &filter)
		if err != nil || src != "/proc/net" {
			t.Fatalf("/proc/net inventory: %v (source %q)", err, src)
		}
		in := func(socks []Socket) map[string]bool {
			m := map[string]bool{}
			for i := range socks {
				m[key(&socks[i])] = true
			}
			return m
		}
		ma, mb := in(a), in(b)
		for i := range mineSnap.Sockets {
			s := &mineSnap.Sockets[i]
			wanted := (filter.Port == 0 || s.Port() == filter.Port) &&
				(!filter.TCP || s.Proto == TCP) && (!filter.UDP || s.Proto == UDP)
			k := key(s)
			if ma[k] != wanted || mb[k] != wanted {
				t.Errorf("filter %+v: %s in netlink %v, in /proc/net %v; want %v", filter, k, ma[k], mb[k], wanted)
			}
		}
	}
}

// TestOnePortStopsEarlyButFindsAllOwners asks about one port held by a
// process and the child that inherited the socket.
func TestOnePortFindsInheritedOwners(t *testing.T) {
	f := startFixture(t, "tcp4:1,inherit")
	snap, err := Take(context.Background(), Filter{Port: uint16(f.port)})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Sockets) != 1 {
		t.Fatalf("port %d: %d sockets; want 1", f.port, len(snap.Sockets))
	}
	got := ownerPIDs(&snap.Sockets[0])
	want := slices.Sorted(slices.Values(f.pids))
	if !slices.Equal(got, want) {
		t.Errorf("owners of port %d = %v; want %v", f.port, got, want)
	}
	o := snap.Sockets[0].Owners[0]
	if o.Start.IsZero() || o.UID < 0 || o.User == "" || len(o.Cmdline) == 0 {
		t.Errorf("owner facts incomplete: %+v", o)
	}
	if d := time.Since(o.Start); d < -time.Minute || d > time.Hour {
		t.Errorf("owner started %v ago; want about now", d)
	}
}

// TestListenersComeAndGo lists sockets while processes open and close
// listeners: the listing never fails, and vanished processes are skipped.
func TestListenersComeAndGo(t *testing.T) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				f := startFixture(t, "tcp4:20,udp4:5")
				f.stop()
			}
		}()
	}
	deadline := time.Now().Add(3 * time.Second)
	n := 0
	for time.Now().Before(deadline) || n < 20 {
		if _, err := Take(context.Background(), Filter{All: n%2 == 0}); err != nil {
			t.Fatalf("Take during churn: %v", err)
		}
		n++
	}
	close(stop)
	wg.Wait()
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Take(ctx, Filter{}); err == nil {
		t.Error("Take with a cancelled context succeeded; want an error")
	}
}

// TestHiddenOwnersWhenNotRoot lists, as user nobody, sockets of a root
// process: they show no owner, and the snapshot counts the unreadable
// processes so the CLI can say "run with sudo".
func TestHiddenOwnersWhenNotRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	f := startFixture(t, "tcp4:3")
	// The test binary lives in a private build directory: copy it where
	// nobody may run it.
	dir, err := os.MkdirTemp("", "homeport-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sockets.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOMEPORT_TAKE_PORT="+strconv.Itoa(f.port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("listing as nobody: %v\n%s", err, out)
	}
	got := strings.TrimSpace(string(out))
	if !strings.HasPrefix(got, "sockets=1 owners=0 hidden=") || strings.HasSuffix(got, "hidden=0") {
		t.Errorf("as nobody: %q; want one socket, no owner, and hidden processes counted", got)
	}
}

// TestWantedStates: a listing asks TCP for LISTEN alone (anything more
// walks the kernel's whole established hash) and UDP for CLOSE too, where
// bound UDP sockets are.
func TestWantedStates(t *testing.T) {
	tests := []struct {
		name string
		f    Filter
		p    Proto
		want uint32
	}{
		{"tcp listeners", Filter{}, TCP, 1 << Listen},
		{"udp listeners", Filter{}, UDP, 1<<Listen | 1<<Close},
		{"tcp all", Filter{All: true}, TCP, statesAll},
		{"udp all", Filter{All: true}, UDP, statesAll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wantedStates(&tt.f, tt.p); got != tt.want {
				t.Errorf("wantedStates(%+v, %v) = %#x; want %#x", tt.f, tt.p, got, tt.want)
			}
		})
	}
}

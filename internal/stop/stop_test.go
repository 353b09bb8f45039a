package stop

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// free runs the real engine on one target.
func free(t *testing.T, req Request) *Report {
	t.Helper()
	if req.KillWait == 0 {
		req.KillWait = 30 * time.Second
	}
	r, err := (&Engine{}).Free(context.Background(), req)
	if err != nil {
		t.Fatalf("Free = %v", err)
	}
	return r
}

func tcp(port uint16) []Target { return []Target{{Port: port, Proto: sockets.TCP}} }

// victim returns the report's victim with pid.
func victim(t *testing.T, r *Report, pid int) *Victim {
	t.Helper()
	for _, v := range r.Victims {
		if v.Process.PID == pid {
			return v
		}
	}
	t.Fatalf("pid %d is not a victim; victims: %v", pid, pids(r))
	return nil
}

// heldBy lists the sockets left on p that pid holds. Another test package
// running beside this one may be handed the freed port number at once, so
// "free" is judged by the stand-in's sockets alone.
func heldBy(p *Port, pid int) []sockets.Socket {
	var out []sockets.Socket
	for _, s := range p.Left {
		if slices.ContainsFunc(s.Owners, func(o procs.Process) bool { return o.PID == pid }) {
			out = append(out, s)
		}
	}
	return out
}

func pids(r *Report) []int {
	var out []int
	for _, v := range r.Victims {
		out = append(out, v.Process.PID)
	}
	return out
}

func sigNames(sigs []syscall.Signal) []string {
	var out []string
	for _, s := range sigs {
		out = append(out, procs.SignalName(s))
	}
	return out
}

func TestFreeExitsOnTerm(t *testing.T) {
	s := startStandin(t, "plain", "tcp:127.0.0.1:0")
	r := free(t, Request{Targets: tcp(s.ports[0]), Timeout: 30 * time.Second})
	v := victim(t, r, s.pid())
	// Free returns once the port is free; the process may still be
	// finishing its exit then.
	if k := v.Outcome.Kind; k != ExitedOnSignal && k != StoppedListening {
		t.Errorf("outcome %v; want exited or stopped-listening", k)
	}
	if v.Outcome.Signal != syscall.SIGTERM {
		t.Errorf("went on %v; want SIGTERM", procs.SignalName(v.Outcome.Signal))
	}
	if got := s.signals(); !slices.Equal(got, []string{"TERM"}) {
		t.Errorf("stand-in got %q; want [TERM]", got)
	}
	if left := heldBy(r.Ports[0], s.pid()); len(left) > 0 {
		t.Errorf("port still held by the stand-in: %v", left)
	}
}

func TestFreeEscalatesToKill(t *testing.T) {
	s := startStandin(t, "stubborn", "tcp:127.0.0.1:0")
	r := free(t, Request{Targets: tcp(s.ports[0]), Timeout: 300 * time.Millisecond})
	v := victim(t, r, s.pid())
	if v.Outcome.Kind != Killed {
		t.Fatalf("outcome %v; want killed", v.Outcome.Kind)
	}
	if got, want := sigNames(v.Outcome.Sent), []string{"SIGTERM", "SIGKILL"}; !slices.Equal(got, want) {
		t.Errorf("sent %q; want %q", got, want)
	}
	if len(v.Outcome.Resisted) != 1 || v.Outcome.Resisted[0].Step.Signal != syscall.SIGTERM ||
		v.Outcome.Resisted[0].Next.Signal != syscall.SIGKILL {
		t.Errorf("resisted %+v; want SIGTERM, then SIGKILL", v.Outcome.Resisted)
	}
	if left := heldBy(r.Ports[0], s.pid()); len(left) > 0 {
		t.Errorf("port still held by the stand-in: %v", left)
	}
}

// TestFreePostgresFastShutdown: PostgreSQL's postmaster gets SIGINT (fast
// shutdown) first, not SIGTERM (smart shutdown, which waits for the client
// connected here) and never SIGKILL (crash recovery at the next start).
// The stand-in is testdata/standin.py in postgres mode: the real server
// will not run as root in the tests.
func TestFreePostgresFastShutdown(t *testing.T) {
	s := startStandin(t, "postgres", "tcp:127.0.0.1:0")
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.ports[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := free(t, Request{Targets: tcp(s.ports[0]), Timeout: 30 * time.Second})
	v := victim(t, r, s.pid())
	if v.Server == nil || v.Server.Name != "PostgreSQL" {
		t.Fatalf("server %+v; want PostgreSQL", v.Server)
	}
	if k := v.Outcome.Kind; k != ExitedOnSignal && k != StoppedListening {
		t.Errorf("outcome %v; want exited", k)
	}
	if got := s.signals(); !slices.Equal(got, []string{"INT"}) {
		t.Errorf("stand-in got %q; want [INT]", got)
	}
}

// TestFreePostgresSmartWaitsForClients: told to send SIGTERM, homeport
// sees the postmaster wait for its client, names the client, and moves on
// to SIGINT, which stops it cleanly, instead of SIGKILL.
func TestFreePostgresSmartWaitsForClients(t *testing.T) {
	s := startStandin(t, "postgres", "tcp:127.0.0.1:0")
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.ports[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := free(t, Request{Targets: tcp(s.ports[0]), Signal: syscall.SIGTERM, Timeout: 500 * time.Millisecond})
	v := victim(t, r, s.pid())
	if v.Outcome.Kind != ExitedOnSignal && v.Outcome.Kind != StoppedListening || v.Outcome.Signal != syscall.SIGINT {
		t.Fatalf("outcome %v on %s; want exited on SIGINT", v.Outcome.Kind, procs.SignalName(v.Outcome.Signal))
	}
	if got := s.signals(); !slices.Equal(got, []string{"TERM", "INT"}) {
		t.Errorf("stand-in got %q; want [TERM INT]", got)
	}
	if len(v.Outcome.Resisted) != 1 {
		t.Fatalf("resisted %+v; want SIGTERM", v.Outcome.Resisted)
	}
	rs := v.Outcome.Resisted[0]
	if rs.Step.Signal != syscall.SIGTERM || !rs.Step.WaitsForClients || rs.Next.Signal != syscall.SIGINT {
		t.Errorf("resisted %+v; want SIGTERM that waits for clients, then SIGINT", rs)
	}
	me := c.LocalAddr().(*net.TCPAddr).AddrPort()
	if len(rs.Clients) != 1 || rs.Clients[0].Remote != me || rs.Clients[0].Process == nil || rs.Clients[0].Process.PID != os.Getpid() {
		t.Errorf("clients %+v; want this test (pid %d) from %v", rs.Clients, os.Getpid(), me)
	}
}

// TestFreeUWSGIReloadsOnTerm: told SIGTERM, uWSGI before 2.1 reloads
// instead of stopping (the stand-in in uwsgi mode: uWSGI is not
// installed); homeport moves on to SIGINT, which stops it, not SIGKILL. By
// itself it sends SIGINT first.
func TestFreeUWSGIReloadsOnTerm(t *testing.T) {
	s := startStandin(t, "uwsgi", "tcp:127.0.0.1:0")
	r := free(t, Request{Targets: tcp(s.ports[0]), Signal: syscall.SIGTERM, Timeout: 300 * time.Millisecond})
	v := victim(t, r, s.pid())
	if k := v.Outcome.Kind; k != ExitedOnSignal && k != StoppedListening || v.Outcome.Signal != syscall.SIGINT {
		t.Fatalf("outcome %v on %s; want exited on SIGINT", k, procs.SignalName(v.Outcome.Signal))
	}
	if len(v.Outcome.Resisted) != 1 || v.Outcome.Resisted[0].Step.Stops {
		t.Errorf("resisted %+v; want SIGTERM, which does not stop it", v.Outcome.Resisted)
	}
	if got := s.signals(); !slices.Equal(got, []string{"TERM", "INT"}) {
		t.Errorf("stand-in got %q; want [TERM INT]", got)
	}

	s = startStandin(t, "uwsgi", "tcp:127.0.0.1:0")
	free(t, Request{Targets: tcp(s.ports[0]), Timeout: 30 * time.Second})
	if got := s.signals(); !slices.Equal(got, []string{"INT"}) {
		t.Errorf("by itself: stand-in got %q; want [INT]", got)
	}
}

// TestFreeUDPOnly: a bare port means every protocol, so a port that only
// UDP holds is found; naming TCP narrows it.
func TestFreeUDPOnly(t *testing.T) {
	s := startStandin(t, "plain", "udp:127.0.0.1:0")
	port := s.ports[0]
	if r := free(t, Request{Targets: tcp(port), DryRun: true}); r.Held() {
		t.Errorf("%d/tcp is held: %v", port, pids(r))
	}
	r := free(t, Request{Targets: []Target{{Port: port}}, Timeout: 30 * time.Second})
	v := victim(t, r, s.pid())
	if len(v.Holds) != 1 || v.Holds[0].Proto != sockets.UDP {
		t.Errorf("holds %v; want its UDP socket", v.Holds)
	}
	if left := heldBy(r.Ports[0], s.pid()); len(left) > 0 {
		t.Errorf("port still held by the stand-in: %v", left)
	}
}

// TestFreeNamesOtherPorts: the victim's other listeners go with it, and
// the plan says which.
func TestFreeNamesOtherPorts(t *testing.T) {
	s := startStandin(t, "plain", "tcp:127.0.0.1:0", "tcp:[::1]:0", "udp:127.0.0.1:0")
	r := free(t, Request{Targets: tcp(s.ports[0]), DryRun: true})
	v := victim(t, r, s.pid())
	var also []string
	for _, a := range v.Also {
		also = append(also, fmt.Sprintf("%s %v", a.Proto, a.Local))
	}
	want := []string{fmt.Sprintf("tcp [::1]:%d", s.ports[1]), fmt.Sprintf("udp 127.0.0.1:%d", s.ports[2])}
	slices.Sort(also)
	if diff := cmp.Diff(want, also); diff != "" {
		t.Errorf("Also (-want +got):\n%s", diff)
	}
	if s.exited() || len(s.signals()) > 0 {
		t.Error("a dry run signalled")
	}
}

// TestFreeExpect: a caller that showed a process (the dashboard) names it;
// a pid that now has another start time, or no longer holds the socket
// shown, is Changed and left alone.
func TestFreeExpect(t *testing.T) {
	s := startStandin(t, "plain", "tcp:127.0.0.1:0")
	p := s.process(t)
	r := free(t, Request{Targets: tcp(s.ports[0]), DryRun: true})
	inode := victim(t, r, s.pid()).Holds[0].Inode
	if inode == 0 {
		t.Fatal("the listener has no inode")
	}
	for _, tt := range []struct {
		name string
		x    Expect
	}{
		{"start ticks differ", Expect{PID: p.PID, StartTicks: p.StartTicks + 1, Inode: inode}},
		{"start time differs", Expect{PID: p.PID, Start: p.Start.Add(-time.Hour), Inode: inode}},
		{"another socket", Expect{PID: p.PID, StartTicks: p.StartTicks, Inode: inode + 1}},
		{"another pid", Expect{PID: 1, StartTicks: p.StartTicks}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := free(t, Request{Targets: tcp(s.ports[0]), Expect: []Expect{tt.x}, Timeout: time.Second})
			if len(r.Victims) != 1 || r.Victims[0].Outcome.Kind != Changed {
				t.Fatalf("victims %+v; want one, changed", r.Victims)
			}
			if len(r.Victims[0].Outcome.Sent) > 0 || len(s.signals()) > 0 || s.exited() {
				t.Fatal("a changed process was signalled")
			}
		})
	}
	r = free(t, Request{Targets: tcp(s.ports[0]), Expect: []Expect{{PID: p.PID, Start: p.Start, Inode: inode}}, Timeout: 30 * time.Second})
	if k := victim(t, r, s.pid()).Outcome.Kind; k != ExitedOnSignal && k != StoppedListening {
		t.Errorf("the expected process: outcome %v; want exited", k)
	}
}

// TestFreeInterrupted: Ctrl-C while waiting (ctx) sends nothing more; the
// report still says where the port stands.
func TestFreeInterrupted(t *testing.T) {
	s := startStandin(t, "stubborn", "tcp:127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for len(s.signals()) == 0 && !s.exited() {
			time.Sleep(2 * time.Millisecond)
		}
		cancel()
	}()
	r, err := (&Engine{}).Free(ctx, Request{Targets: tcp(s.ports[0]), Timeout: time.Minute})
	if err != nil {
		t.Fatalf("Free = %v", err)
	}
	v := victim(t, r, s.pid())
	if v.Outcome.Kind != StillRunning || !slices.Equal(sigNames(v.Outcome.Sent), []string{"SIGTERM"}) {
		t.Errorf("outcome %v, sent %q; want still-running after SIGTERM alone", v.Outcome.Kind, sigNames(v.Outcome.Sent))
	}
	if p := r.Ports[0]; !p.Checked || p.Free() {
		t.Errorf("port checked %v, left %v; want checked and still held", p.Checked, p.Left)
	}
	if s.exited() {
		t.Error("the stand-in was stopped after the interrupt")
	}
}

func TestFreeDeclined(t *testing.T) {
	s := startStandin(t, "plain", "tcp:127.0.0.1:0")
	asked := 0
	r := free(t, Request{Targets: tcp(s.ports[0]), Confirm: func(r *Report) bool {
		asked++
		if len(r.ToSignal()) != 1 {
			t.Errorf("asked about %d processes; want 1", len(r.ToSignal()))
		}
		return false
	}})
	if asked != 1 {
		t.Errorf("Confirm called %d times; want 1", asked)
	}
	if k := victim(t, r, s.pid()).Outcome.Kind; k != Declined {
		t.Errorf("outcome %v; want declined", k)
	}
	if len(s.signals()) > 0 || s.exited() {
		t.Error("a declined process was signalled")
	}
}

// fakeSignaller records signals; a process it signalled counts as gone.
type fakeSignaller struct{ sent map[int][]syscall.Signal }

func (f *fakeSignaller) Signal(pid int, start uint64, sig syscall.Signal) error {
	if f.sent == nil {
		f.sent = map[int][]syscall.Signal{}
	}
	f.sent[pid] = append(f.sent[pid], sig)
	return nil
}

func (f *fakeSignaller) Alive(pid int, start uint64) bool { return len(f.sent[pid]) == 0 }

// fakeInventory holds port 3000 with a socket per owner (none: one socket
// without a visible owner, of user uid) until its owner was signalled.
func fakeInventory(fs *fakeSignaller, uid int, owners ...procs.Process) func(context.Context, sockets.Filter) (*sockets.Snapshot, error) {
	return func(ctx context.Context, f sockets.Filter) (*sockets.Snapshot, error) {
		l := sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("127.0.0.1:3000"), UID: uid}
		if len(owners) == 0 {
			return &sockets.Snapshot{Sockets: []sockets.Socket{l}, Hidden: 1}, nil
		}
		var socks []sockets.Socket
		for i, o := range owners {
			if len(fs.sent[o.PID]) > 0 {
				continue
			}
			s := l
			s.UID, s.Inode = o.UID, uint64(100+i)
			if !f.NoOwners {
				s.Owners = []procs.Process{o}
			}
			socks = append(socks, s)
		}
		return &sockets.Snapshot{Sockets: socks}, nil
	}
}

func TestFreeRefusals(t *testing.T) {
	tests := []struct {
		name  string
		uid   int
		owner procs.Process
		want  procs.RefusalKind
	}{
		{"init", 0, procs.Process{PID: 1, Name: "systemd", UID: 0}, procs.RefuseInit},
		{"itself", 1000, procs.Process{PID: 500, Name: "homeport", UID: 1000}, procs.RefuseSelf},
		{"parent", 1000, procs.Process{PID: 400, Name: "bash", UID: 1000}, procs.RefuseParent},
		{"other user", 1000, procs.Process{PID: 700, Name: "postgres", UID: 106, User: "postgres"}, procs.RefuseOtherUser},
		{"unknown owner", 1000, procs.Process{PID: 700, Name: "postgres", UID: -1}, procs.RefuseUnknownOwner},
		{"docker-proxy", 0, procs.Process{PID: 800, Name: "docker-proxy", UID: 0}, procs.RefuseContainer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := &fakeSignaller{}
			e := &Engine{Take: fakeInventory(fs, tt.owner.UID, tt.owner), Guard: &procs.Guard{Signaller: fs, Self: 500, Parent: 400, UID: tt.uid}}
			r, err := e.Free(context.Background(), Request{Targets: tcp(3000), Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			v := victim(t, r, tt.owner.PID)
			if v.Outcome.Kind != Refused || v.Refused == nil || v.Refused.Kind != tt.want {
				t.Errorf("outcome %v, refusal %+v; want refused, kind %v", v.Outcome.Kind, v.Refused, tt.want)
			}
			if len(fs.sent) != 0 {
				t.Errorf("signals were sent: %v", fs.sent)
			}
			if p := r.Ports[0]; !p.Checked || p.Free() || len(r.NotFreed()) != 1 {
				t.Errorf("port: checked %v, left %v; want still held", p.Checked, p.Left)
			}
		})
	}
}

func TestFreeUnseenKinds(t *testing.T) {
	tests := []struct {
		name          string
		guard, socket int
		want          UnseenKind
	}{
		{"another user's", 1000, 0, UnseenOtherUser},
		{"own user, changed credentials", 65534, 65534, UnseenOwnUser},
		{"root sees no owner", 0, 0, UnseenNamespace},
		{"no users (Windows)", -1, -1, UnseenUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := &fakeSignaller{}
			e := &Engine{Take: fakeInventory(fs, tt.socket), Guard: &procs.Guard{Signaller: fs, Self: 500, Parent: 400, UID: tt.guard}}
			r, err := e.Free(context.Background(), Request{Targets: tcp(3000)})
			if err != nil {
				t.Fatal(err)
			}
			p := r.Ports[0]
			if len(p.Unseen) != 1 || p.Unseen[0].Kind != tt.want || p.Unseen[0].UID != tt.socket {
				t.Errorf("unseen %+v; want kind %v, uid %d", p.Unseen, tt.want, tt.socket)
			}
			if len(r.NotFreed()) != 1 {
				t.Error("a port with an unseen holder counts as freed")
			}
		})
	}
}

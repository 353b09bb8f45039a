package dashboard

import (
	"net/netip"
	"os"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"homeport/internal/api"
	"homeport/internal/procs"
	"homeport/internal/router"
	"homeport/internal/sockets"
)

// TestLabelerServices: the service on a port is named by its route, a run
// route before a persistent one; a UDP socket on a routed port is no
// service (the router speaks HTTP); a route's project is the row's.
func TestLabelerServices(t *testing.T) {
	tab := router.NewTable()
	for _, r := range []router.Route{
		{Name: "docs", Port: 4000, Kind: router.KindPersistent},
		{Name: "web", Port: 4000, Kind: router.KindRun, PID: 9, Project: "shop"},
		{Name: "alias", Port: 4000, Kind: router.KindRun, PID: 9, Project: "shop"},
		{Name: "db", Port: 5432, Kind: router.KindPersistent},
	} {
		if _, err := tab.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	sock := func(proto sockets.Proto, port uint16) sockets.Socket {
		return sockets.Socket{Proto: proto, State: sockets.Listen, Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), UID: -1}
	}
	l := newLabeler(tab, 0)
	rows := l.rows([]sockets.Socket{sock(sockets.TCP, 4000), sock(sockets.UDP, 4000), sock(sockets.TCP, 5432), sock(sockets.TCP, 6000)})
	type lab struct{ Service, Project string }
	var got []lab
	for _, r := range rows {
		got = append(got, lab{r.Service, r.Project})
	}
	want := []lab{{"alias", "shop"}, {"", ""}, {"db", ""}, {"", ""}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}

	// relabel names the listeners of the ports whose route changed, and
	// only those.
	before := l.index()
	if _, err := tab.Remove("db"); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Add(router.Route{Name: "metrics", Port: 6000, Kind: router.KindPersistent}); err != nil {
		t.Fatal(err)
	}
	changed := l.relabel([]sockets.Socket{sock(sockets.TCP, 4000), sock(sockets.TCP, 5432), sock(sockets.TCP, 6000), sock(sockets.UDP, 6000)}, before, l.index())
	got = got[:0]
	for _, r := range changed {
		got = append(got, lab{r.Local, r.Service})
	}
	want = []lab{{"127.0.0.1:5432", ""}, {"127.0.0.1:6000", "metrics"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("relabel (-want +got):\n%s", d)
	}
}

// BenchmarkRows: the JSON forms of a snapshot of 10,000 listeners of 100
// processes (this one, under 100 pids' keys), with and without their
// service and project, 100 of them on the ports of run routes; the page's
// snapshot and /api/v1/ports pay it.
func BenchmarkRows(b *testing.B) {
	tab := router.NewTable()
	for i := range 100 {
		// Run routes of this test's parent: every listener's owner
		// descends from a run, so its parents are asked too.
		if _, err := tab.Add(router.Route{Name: "svc-" + strconv.Itoa(i), Port: 20000 + i*100, Kind: router.KindRun, PID: os.Getppid(), Project: "p" + strconv.Itoa(i%7)}); err != nil {
			b.Fatal(err)
		}
	}
	me, err := procs.Get(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	socks := make([]sockets.Socket, 10000)
	for i := range socks {
		p := *me
		p.StartTicks += uint64(i % 100) // 100 processes, as far as the caches know
		socks[i] = sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(20000+i)), UID: 0, Owners: []procs.Process{p}}
	}
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			_ = api.Sockets(socks)
		}
	})
	b.Run("labelled", func(b *testing.B) {
		l := newLabeler(tab, 0)
		for b.Loop() {
			_ = l.rows(socks)
		}
	})
}

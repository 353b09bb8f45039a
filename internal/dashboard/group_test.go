package dashboard

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

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
	l := newLabeler(tab)
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
	before := l.services()
	if _, err := tab.Remove("db"); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Add(router.Route{Name: "metrics", Port: 6000, Kind: router.KindPersistent}); err != nil {
		t.Fatal(err)
	}
	changed := l.relabel([]sockets.Socket{sock(sockets.TCP, 4000), sock(sockets.TCP, 5432), sock(sockets.TCP, 6000), sock(sockets.UDP, 6000)}, before, l.services())
	got = got[:0]
	for _, r := range changed {
		got = append(got, lab{r.Local, r.Service})
	}
	want = []lab{{"127.0.0.1:5432", ""}, {"127.0.0.1:6000", "metrics"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("relabel (-want +got):\n%s", d)
	}
}

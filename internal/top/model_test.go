package top

import (
	"context"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/google/go-cmp/cmp"

	"homeport/internal/doctor"
	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
	"homeport/internal/stop"
	"homeport/internal/watch"
)

var t0 = time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)

func listener(addr string, inode uint64, p procs.Process) sockets.Socket {
	return sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort(addr),
		Inode: inode, UID: p.UID, Owners: []procs.Process{p}}
}

func proc(pid int, name, user string, args ...string) procs.Process {
	return procs.Process{PID: pid, Name: name, User: user, UID: 1000, StartTicks: uint64(pid),
		Start: t0.Add(-time.Hour), Cmdline: append([]string{name}, args...)}
}

var (
	node     = listener("127.0.0.1:3000", 1, proc(4242, "node", "dev", "server.js", "--port", "3000"))
	postgres = listener("0.0.0.0:5432", 2, proc(811, "postgres", "postgres", "-D", "/var/lib/postgresql"))
	redis    = listener("[::1]:6379", 3, proc(900, "redis-server", "redis"))
)

// press makes the message of a key as the terminal sends it.
func press(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// newTestModel returns a model of a w×h terminal that has seen socks.
func newTestModel(t *testing.T, opts *Options, w, h int, socks ...sockets.Socket) *model {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	m := newModel(context.Background(), opts)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(pollMsg(watch.Update{At: t0, Snapshot: socks, Initial: true}))
	return m
}

func typeKeys(m *model, keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		_, cmd = m.Update(press(k))
	}
	return cmd
}

// ports lists the ports of the rows, in order.
func shownPorts(m *model) []uint16 {
	var out []uint16
	for _, r := range m.rows {
		out = append(out, r.sock.Port())
	}
	return out
}

// screen is the view without styles, one string a line.
func screen(m *model) []string {
	return strings.Split(ansi.Strip(m.View().Content), "\n")
}

var sgr = regexp.MustCompile(`\x1b\[([0-9;]*)m`)

// hasSGR reports whether line sets the SGR parameter p (alone or with
// others, as in "31;7").
func hasSGR(line, p string) bool {
	for _, m := range sgr.FindAllStringSubmatch(line, -1) {
		if slices.Contains(strings.Split(m[1], ";"), p) {
			return true
		}
	}
	return false
}

// styledAs reports whether text is drawn in line right after an SGR that
// sets p.
func styledAs(line, text, p string) bool {
	for _, loc := range sgr.FindAllStringSubmatchIndex(line, -1) {
		if strings.HasPrefix(line[loc[1]:], text) && slices.Contains(strings.Split(line[loc[2]:loc[3]], ";"), p) {
			return true
		}
	}
	return false
}

// markOf is a row's mark: + new, - closed, space otherwise.
func markOf(line string) byte { return ansi.Strip(line)[1] }

// lineWith returns the view's line (styles kept) that holds text.
func lineWith(t *testing.T, m *model, text string) string {
	t.Helper()
	for l := range strings.SplitSeq(m.View().Content, "\n") {
		if strings.Contains(ansi.Strip(l), text) {
			return l
		}
	}
	t.Fatalf("no line holds %q:\n%s", text, strings.Join(screen(m), "\n"))
	return ""
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name   string
		typed  string
		want   []uint16
		absent string
	}{
		{"process name", "post", []uint16{5432}, "redis-server"},
		{"case-insensitive", "NODE", []uint16{3000}, "postgres"},
		{"port", "6379", []uint16{6379}, "node"},
		{"address", "0.0.0.0", []uint16{5432}, "node"},
		{"ipv6 address", "::1", []uint16{6379}, "postgres"},
		{"user", "redis", []uint16{6379}, "postgres"},
		{"command line", "server.js", []uint16{3000}, "redis"},
		{"nothing", "nosuch", nil, "node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestModel(t, nil, 120, 30, node, postgres, redis)
			typeKeys(m, "/")
			for _, r := range tt.typed {
				typeKeys(m, string(r))
			}
			if d := cmp.Diff(tt.want, shownPorts(m)); d != "" {
				t.Errorf("filter %q: ports (-want +got):\n%s", tt.typed, d)
			}
			if got := strings.Join(screen(m), "\n"); strings.Contains(got, tt.absent) {
				t.Errorf("filter %q still shows %q:\n%s", tt.typed, tt.absent, got)
			}
			// enter keeps the filter, esc clears it.
			typeKeys(m, "enter")
			if m.mode != modeTable || m.filter == "" {
				t.Errorf("after enter: mode %v, filter %q; want the table with the filter kept", m.mode, m.filter)
			}
			typeKeys(m, "esc")
			if got := shownPorts(m); len(got) != 3 {
				t.Errorf("after esc: ports %v; want all three", got)
			}
		})
	}
}

func TestFilterBackspaceAndExposed(t *testing.T) {
	m := newTestModel(t, nil, 120, 30, node, postgres, redis)
	typeKeys(m, "/", "r", "x", "backspace")
	if got, want := shownPorts(m), []uint16{3000, 5432, 6379}; !cmp.Equal(got, want) {
		// "r" matches node's "server.js", postgres' user and redis.
		t.Errorf("after /r x backspace: ports %v; want %v", got, want)
	}
	typeKeys(m, "esc", "e")
	if got, want := shownPorts(m), []uint16{5432}; !cmp.Equal(got, want) {
		t.Errorf("exposed only: ports %v; want %v", got, want)
	}
	if title := screen(m)[0]; !strings.Contains(title, "exposed only") || !strings.Contains(title, "1 exposed") {
		t.Errorf("title = %q; want it to say exposed only and 1 exposed", title)
	}
	typeKeys(m, "e")
	if got := shownPorts(m); len(got) != 3 {
		t.Errorf("e again: ports %v; want all three", got)
	}
}

func TestSort(t *testing.T) {
	m := newTestModel(t, nil, 120, 30, redis, postgres, node)
	if got, want := shownPorts(m), []uint16{3000, 5432, 6379}; !cmp.Equal(got, want) {
		t.Fatalf("first order = %v; want by port %v", got, want)
	}
	steps := []struct {
		key  string
		by   column
		want []uint16
	}{
		{"s", colProto, []uint16{3000, 5432, 6379}}, // all tcp: by port
		{"s", colAddress, []uint16{5432, 3000, 6379}},
		{"s", colExposure, []uint16{5432, 3000, 6379}}, // "all interfaces (v4)" < "loopback"
		{"s", colProcess, []uint16{3000, 5432, 6379}},
		{"S", colProcess, []uint16{6379, 5432, 3000}},
		{"s", colPID, []uint16{3000, 6379, 5432}}, // reversed: 4242, 900, 811
		{"S", colPID, []uint16{5432, 6379, 3000}},
		{"s", colUser, []uint16{3000, 5432, 6379}},
		{"s", colUp, []uint16{3000, 5432, 6379}},
		{"s", colPort, []uint16{3000, 5432, 6379}},
	}
	for _, st := range steps {
		typeKeys(m, st.key)
		if m.sortBy != st.by {
			t.Fatalf("after %q: sorting by %s; want %s", st.key, columnNames[m.sortBy], columnNames[st.by])
		}
		if got := shownPorts(m); !cmp.Equal(got, st.want) {
			t.Errorf("sorted by %s (reverse %v): %v; want %v", columnNames[st.by], m.reverse, got, st.want)
		}
	}
	if title := screen(m)[0]; !strings.Contains(title, "sort port ↑") {
		t.Errorf("title = %q; want it to name the sort", title)
	}
}

func TestCursorFollowsSocket(t *testing.T) {
	m := newTestModel(t, nil, 120, 30, node, postgres, redis)
	typeKeys(m, "j", "down") // on redis
	if got := m.selected().sock.Port(); got != 6379 {
		t.Fatalf("selected %d; want 6379", got)
	}
	typeKeys(m, "k")
	typeKeys(m, "S") // reversed: redis, postgres, node; still on postgres
	if got := m.selected().sock.Port(); got != 5432 {
		t.Errorf("after reversing, selected %d; want 5432 still", got)
	}
}

func TestKillPrompt(t *testing.T) {
	var reqs []stop.Request
	opts := &Options{Kill: func(ctx context.Context, req stop.Request) (*stop.Report, error) {
		reqs = append(reqs, req)
		v := &stop.Victim{Process: node.Owners[0]}
		v.Outcome = stop.Outcome{Kind: stop.ExitedOnSignal, Signal: syscall.SIGTERM, After: 12 * time.Millisecond}
		return &stop.Report{
			Ports:   []*stop.Port{{Target: req.Targets[0], Sockets: []sockets.Socket{node}, Checked: true}},
			Victims: []*stop.Victim{v},
		}, nil
	}}
	m := newTestModel(t, opts, 120, 30, node, postgres, redis)

	// n, or any other key, stops nothing.
	typeKeys(m, "K")
	if m.mode != modeConfirm {
		t.Fatalf("after K: mode %v; want the question", m.mode)
	}
	status := screen(m)[29]
	if want := "stop node (pid 4242) on tcp 127.0.0.1:3000? [y/N]"; !strings.Contains(status, want) {
		t.Errorf("status line = %q; want %q", status, want)
	}
	if cmd := typeKeys(m, "n"); cmd != nil || len(reqs) != 0 {
		t.Fatalf("n stopped something")
	}
	if status := screen(m)[29]; !strings.Contains(status, "nothing stopped") {
		t.Errorf("after n: status %q; want nothing stopped", status)
	}

	// y stops exactly the process shown, on exactly that socket.
	typeKeys(m, "K")
	cmd := typeKeys(m, "y")
	if cmd == nil {
		t.Fatal("y returned no command")
	}
	if status := screen(m)[29]; !strings.Contains(status, "stopping node (pid 4242)") {
		t.Errorf("while stopping: status %q", status)
	}
	m.Update(cmd())
	if len(reqs) != 1 {
		t.Fatalf("kill called %d times; want once", len(reqs))
	}
	req := reqs[0]
	if len(req.Targets) != 1 || req.Targets[0].Port != 3000 || req.Targets[0].Proto != sockets.TCP {
		t.Errorf("targets = %+v; want tcp 3000", req.Targets)
	}
	other := listener("0.0.0.0:3000", 9, proc(1, "x", "x"))
	if acc := req.Targets[0].Accepts; acc == nil || !acc(&node) || acc(&other) {
		t.Errorf("the target accepts another listener of the port; want only 127.0.0.1:3000")
	}
	wantExpect := []stop.Expect{{PID: 4242, Start: node.Owners[0].Start, StartTicks: 4242, Inode: 1}}
	if d := cmp.Diff(wantExpect, req.Expect); d != "" {
		t.Errorf("expect (-want +got):\n%s", d)
	}
	status = screen(m)[29]
	for _, want := range []string{"node (pid 4242) exited on SIGTERM after 12ms", "tcp 127.0.0.1:3000 is free"} {
		if !strings.Contains(status, want) {
			t.Errorf("status line = %q; want %q", status, want)
		}
	}
}

func TestKillWithoutOwner(t *testing.T) {
	hidden := sockets.Socket{Proto: sockets.TCP, State: sockets.Listen, Local: netip.MustParseAddrPort("0.0.0.0:2024"), UID: 0}
	m := newTestModel(t, &Options{Kill: func(context.Context, stop.Request) (*stop.Report, error) {
		t.Error("kill called for a listener without a visible owner")
		return nil, nil
	}}, 120, 30, hidden)
	typeKeys(m, "K", "y")
	if status := screen(m)[29]; !strings.Contains(status, "not visible") {
		t.Errorf("status line = %q; want it to say the owner is not visible", status)
	}
}

func TestResize(t *testing.T) {
	long := listener("[::]:8080", 4, proc(5000, "java", "dev", strings.Split(strings.Repeat("-Dprop=value ", 30), " ")...))
	workers := listener("[::]:8443", 5, proc(3464, "nginx", "www-data", "nginx: master process"))
	workers.Owners = append(workers.Owners, proc(3467, "nginx", "www-data"))
	longName := listener("127.0.0.1:9000", 6, proc(123456, "prometheus-node", "prometheus"))
	sizes := []struct{ w, h int }{{80, 24}, {120, 30}, {200, 50}, {40, 10}}
	for _, sz := range sizes {
		m := newTestModel(t, nil, 100, 20, node, postgres, redis, long, workers, longName)
		m.Update(tea.WindowSizeMsg{Width: sz.w, Height: sz.h})
		lines := screen(m)
		if len(lines) != sz.h {
			t.Errorf("%dx%d: %d lines; want %d", sz.w, sz.h, len(lines), sz.h)
		}
		for i, l := range lines {
			if w := ansi.StringWidth(l); w > sz.w {
				t.Errorf("%dx%d: line %d is %d cells wide: %q", sz.w, sz.h, i, w, l)
			}
		}
		header := lines[1]
		for _, col := range []string{"PORT", "PROCESS"} {
			if !strings.Contains(header, col) {
				t.Errorf("%dx%d: header %q lacks %s", sz.w, sz.h, header, col)
			}
		}
		switch sz.w {
		case 80:
			for _, col := range []string{"PROTO", "ADDRESS", "EXPOSURE", "PID"} {
				if !strings.Contains(header, col) {
					t.Errorf("80 columns: header %q lacks %s", header, col)
				}
			}
		case 200:
			if !strings.Contains(header, "COMMAND") || !strings.Contains(header, "USER") || !strings.Contains(header, "UP") {
				t.Errorf("200 columns: header %q; want every column", header)
			}
			if !strings.Contains(lineWith(t, m, "3000"), "node server.js --port 3000") {
				t.Errorf("200 columns: the command line is cut: %q", lineWith(t, m, "3000"))
			}
		}
	}
}

func TestScrollKeepsCursorOnScreen(t *testing.T) {
	var socks []sockets.Socket
	for i := range 50 {
		socks = append(socks, listener(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(10000+i)).String(),
			uint64(100+i), proc(2000+i, "srv", "dev")))
	}
	m := newTestModel(t, nil, 80, 10, socks...)
	for range 30 {
		typeKeys(m, "j")
	}
	if !strings.Contains(strings.Join(screen(m), "\n"), "> ") || !strings.Contains(lineWith(t, m, "10030"), ">") {
		t.Errorf("the cursor's row 10030 is not on screen:\n%s", strings.Join(screen(m), "\n"))
	}
	typeKeys(m, "g")
	if got := m.selected().sock.Port(); got != 10000 {
		t.Errorf("g: selected %d; want 10000", got)
	}
	typeKeys(m, "G")
	if got := m.selected().sock.Port(); got != 10049 {
		t.Errorf("G: selected %d; want 10049", got)
	}
}

func TestColoursOfNewAndClosedRows(t *testing.T) {
	m := newTestModel(t, nil, 120, 30, node, postgres)
	at := t0.Add(time.Second)
	m.Update(pollMsg(watch.Update{At: at, Snapshot: []sockets.Socket{postgres, redis},
		Events: []watch.Event{{Kind: watch.Closed, Socket: node}, {Kind: watch.Opened, Socket: redis}}}))

	const green, red, yellow = "32", "31", "33" // SGR foreground colours
	if l := lineWith(t, m, "redis-server"); !hasSGR(l, green) || markOf(l) != '+' {
		t.Errorf("new row %q; want it green and marked +", l)
	}
	if l := lineWith(t, m, "4242"); !hasSGR(l, red) || markOf(l) != '-' {
		t.Errorf("closed row %q; want it red and marked -", l)
	}
	pg := lineWith(t, m, "postgres")
	if hasSGR(pg, green) || hasSGR(pg, red) {
		t.Errorf("unchanged row %q; want neither green nor red", pg)
	}
	if !styledAs(pg, "all interfaces (v4)", yellow) {
		t.Errorf("exposed row %q; want its exposure in the warning colour", pg)
	}
	if l := lineWith(t, m, "redis-server"); hasSGR(l, yellow) {
		t.Errorf("loopback row %q; want its exposure not in the warning colour", l)
	}

	// A few seconds on, the closed row is gone and the new one plain.
	m.Update(fadeMsg(at.Add(fade)))
	if got, want := shownPorts(m), []uint16{5432, 6379}; !cmp.Equal(got, want) {
		t.Errorf("after %v: ports %v; want %v", fade, got, want)
	}
	if l := lineWith(t, m, "redis-server"); hasSGR(l, green) || markOf(l) == '+' {
		t.Errorf("row %q is still marked new after %v", l, fade)
	}
}

func TestFadeTicks(t *testing.T) {
	m := newTestModel(t, nil, 120, 30, node)
	_, cmd := m.Update(pollMsg(watch.Update{At: t0.Add(time.Second), Snapshot: []sockets.Socket{node, redis},
		Events: []watch.Event{{Kind: watch.Opened, Socket: redis}}}))
	if cmd == nil {
		t.Fatal("a new row asked for no tick to fade it")
	}
	_, cmd = m.Update(pollMsg(watch.Update{At: t0.Add(2 * time.Second), Snapshot: []sockets.Socket{node, redis}}))
	if cmd != nil {
		t.Error("a second tick was asked for while one is on its way")
	}
}

func TestPanelsAndQuit(t *testing.T) {
	m := newTestModel(t, &Options{Take: func(context.Context, sockets.Filter) (*sockets.Snapshot, error) {
		client := sockets.Socket{Proto: sockets.TCP, State: sockets.Established,
			Local: netip.MustParseAddrPort("127.0.0.1:51000"), Remote: netip.MustParseAddrPort("127.0.0.1:3000"),
			Owners: []procs.Process{proc(777, "curl", "dev")}}
		server := sockets.Socket{Proto: sockets.TCP, State: sockets.Established,
			Local: netip.MustParseAddrPort("127.0.0.1:3000"), Remote: netip.MustParseAddrPort("127.0.0.1:51000"),
			Owners: node.Owners}
		return &sockets.Snapshot{Sockets: []sockets.Socket{node, client, server}}, nil
	}}, 120, 30, node, postgres)

	cmd := typeKeys(m, "enter")
	if m.mode != modeDetails || cmd == nil {
		t.Fatalf("enter: mode %v; want details and a command reading the connections", m.mode)
	}
	m.Update(cmd())
	text := strings.Join(screen(m), "\n")
	for _, want := range []string{"tcp 127.0.0.1:3000 · loopback", "owner  node (pid 4242)", "node server.js --port 3000",
		"started ", "connections (1):", "127.0.0.1:51000  curl (pid 777)"} {
		if !strings.Contains(text, want) {
			t.Errorf("details lack %q:\n%s", want, text)
		}
	}
	typeKeys(m, "esc", "?")
	if text := strings.Join(screen(m), "\n"); m.mode != modeHelp || !strings.Contains(text, "stop the selected listener") {
		t.Errorf("? shows no help:\n%s", text)
	}
	typeKeys(m, "esc")
	if m.mode != modeTable {
		t.Errorf("esc: mode %v; want the table", m.mode)
	}
	for _, k := range []string{"q", "ctrl+c"} {
		cmd := typeKeys(m, k)
		if cmd == nil {
			t.Fatalf("%s: no command; want quit", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s: %T; want tea.QuitMsg", k, cmd())
		}
	}
	// In the filter, q is a letter.
	typeKeys(m, "/")
	if cmd := typeKeys(m, "q"); cmd != nil || m.filter != "q" {
		t.Errorf("q in the filter: command %v, filter %q; want the letter typed", cmd, m.filter)
	}
}

func TestDoctorPanel(t *testing.T) {
	var asked []string
	m := newTestModel(t, &Options{Doctor: func(ctx context.Context, tg ports.Target) (*doctor.Report, error) {
		asked = append(asked, tg.String())
		return &doctor.Report{Target: tg.String(), Findings: []doctor.Finding{{Severity: doctor.High,
			Title: "listening on 0.0.0.0 only, not on ::1", Evidence: []string{"localhost resolves to ::1 first"},
			Fix: "bind [::] or 127.0.0.1 and ::1"}}}, nil
	}}, 120, 30, postgres, listener("198.18.0.5:8443", 7, proc(9, "caddy", "root")))
	cmd := typeKeys(m, "d")
	if m.mode != modeDoctor || cmd == nil {
		t.Fatalf("d: mode %v; want the doctor's panel and a command", m.mode)
	}
	if text := strings.Join(screen(m), "\n"); !strings.Contains(text, "checking") {
		t.Errorf("before the verdict the panel says:\n%s", text)
	}
	m.Update(cmd())
	text := strings.Join(screen(m), "\n")
	for _, want := range []string{"homeport doctor 5432", "✗ listening on 0.0.0.0 only, not on ::1",
		"localhost resolves to ::1 first", "fix: bind [::] or 127.0.0.1 and ::1"} {
		if !strings.Contains(text, want) {
			t.Errorf("doctor panel lacks %q:\n%s", want, text)
		}
	}
	// A listener bound to one address is diagnosed on that address.
	typeKeys(m, "esc", "j")
	if cmd := typeKeys(m, "d"); cmd != nil {
		m.Update(cmd())
	}
	if want := []string{"5432", "198.18.0.5:8443"}; !cmp.Equal(asked, want) {
		t.Errorf("doctor asked about %q; want %q", asked, want)
	}
}

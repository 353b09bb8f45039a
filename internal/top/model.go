package top

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"homeport/internal/doctor"
	"homeport/internal/sockets"
	"homeport/internal/stop"
	"homeport/internal/watch"
)

// fade is how long a new row stays green and a closed row red before it
// looks like the others, or goes.
const fade = 3 * time.Second

// The messages the model handles besides keys and the window size.
type (
	pollMsg    watch.Update // an inventory and its changes
	pollErrMsg struct{ err error }
	fadeMsg    time.Time // time to let marks older than fade go
	killMsg    struct {
		sock sockets.Socket
		rep  *stop.Report
		err  error
	}
	detailsMsg struct {
		key   key
		conns []sockets.Socket // connections to the port, with their clients
		err   error
	}
	doctorMsg struct {
		port uint16
		rep  *doctor.Report
		err  error
	}
)

// mode is what the keys act on.
type mode int

const (
	modeTable   mode = iota
	modeFilter       // typing the filter
	modeConfirm      // the kill question
	modeDetails      // the details panel of one row
	modeDoctor       // the doctor's verdict
	modeHelp         // the keys
)

// rowState marks the rows that changed lately.
type rowState int

const (
	live  rowState = iota
	added          // opened less than fade ago: green
	gone           // closed less than fade ago: red, then removed
)

// key identifies a socket across inventories, as the watcher does.
type key struct {
	proto sockets.Proto
	local netip.AddrPort
	inode uint64
}

func keyOf(s *sockets.Socket) key { return key{proto: s.Proto, local: s.Local, inode: s.Inode} }

type row struct {
	sock  sockets.Socket
	state rowState
}

// statusKind colours the status line.
type statusKind int

const (
	statusInfo statusKind = iota
	statusOK
	statusWarn
	statusError
)

type model struct {
	ctx  context.Context
	opts *Options

	width, height int
	now           time.Time
	started       bool // the first inventory arrived

	snap   []sockets.Socket
	opened map[key]time.Time // sockets that opened since the start, and when
	closed []closedRow       // sockets that closed lately
	hidden int

	rows   []row // what the table shows, filtered and sorted
	cursor int   // index in rows
	offset int   // first row on screen
	sel    key   // the selected socket, kept across updates
	total  int   // listeners in the last inventory
	expo   int   // of which exposed

	sortBy      column
	reverse     bool
	filter      string
	exposedOnly bool

	mode       mode
	target     *sockets.Socket // the row the kill question, details or doctor are about
	conns      []sockets.Socket
	connsErr   error
	connsReady bool
	doctorRep  *doctor.Report
	doctorErr  error // the doctor could not read the inventory
	busy       bool  // a kill is running

	status     string
	statusKind statusKind
	pollErr    error
	fading     bool // a fadeMsg is on its way
}

type closedRow struct {
	sock sockets.Socket
	at   time.Time
}

func newModel(ctx context.Context, opts *Options) *model {
	return &model{ctx: ctx, opts: opts, width: 80, height: 24, opened: map[key]time.Time{},
		exposedOnly: opts.Exposed, sortBy: colPort}
}

// Init starts nothing: the watcher sends the first inventory at once.
func (m *model) Init() tea.Cmd { return nil }

// Update applies one message.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.scroll()
	case pollMsg:
		return m, m.poll(watch.Update(msg))
	case pollErrMsg:
		m.pollErr = msg.err
	case fadeMsg:
		m.fading = false
		return m, m.expire(time.Time(msg))
	case killMsg:
		m.busy = false
		m.setStatus(killStatus(&msg.sock, msg.rep, msg.err))
	case detailsMsg:
		if m.mode == modeDetails && m.target != nil && keyOf(m.target) == msg.key {
			m.conns, m.connsErr, m.connsReady = msg.conns, msg.err, true
		}
	case doctorMsg:
		if m.mode == modeDoctor && m.target != nil && m.target.Port() == msg.port {
			m.doctorRep, m.doctorErr = msg.rep, msg.err
		}
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

// poll takes in an inventory: marks the sockets that opened and keeps
// those that closed for a while.
func (m *model) poll(u watch.Update) tea.Cmd {
	m.now, m.hidden, m.pollErr, m.started = u.At, u.Hidden, nil, true
	if u.Initial {
		clear(m.opened)
		m.closed = m.closed[:0]
	}
	for _, ev := range u.Events {
		k := keyOf(&ev.Socket)
		switch ev.Kind {
		case watch.Opened:
			m.opened[k] = u.At
		case watch.Closed:
			delete(m.opened, k)
			m.closed = append(m.closed, closedRow{sock: ev.Socket, at: u.At})
		}
	}
	m.snap = u.Snapshot
	return m.expire(u.At)
}

// expire lets marks older than fade go, rebuilds the rows, and asks to be
// called again while marks remain.
func (m *model) expire(now time.Time) tea.Cmd {
	if now.After(m.now) {
		m.now = now
	}
	for k, at := range m.opened {
		if m.now.Sub(at) >= fade {
			delete(m.opened, k)
		}
	}
	m.closed = slices.DeleteFunc(m.closed, func(c closedRow) bool { return m.now.Sub(c.at) >= fade })
	m.rebuild()
	if m.fading || len(m.opened)+len(m.closed) == 0 {
		return nil
	}
	m.fading = true
	return tea.Tick(fade/3, func(t time.Time) tea.Msg { return fadeMsg(t) })
}

// rebuild makes the rows from the last inventory and the closed sockets,
// filtered and sorted, and keeps the selection on the same socket.
func (m *model) rebuild() {
	m.rows = m.rows[:0]
	m.total, m.expo = len(m.snap), 0
	for i := range m.snap {
		s := &m.snap[i]
		if s.Exposed() {
			m.expo++
		}
		if !m.shows(s) {
			continue
		}
		st := live
		if _, ok := m.opened[keyOf(s)]; ok {
			st = added
		}
		m.rows = append(m.rows, row{sock: *s, state: st})
	}
	for _, c := range m.closed {
		if m.shows(&c.sock) {
			m.rows = append(m.rows, row{sock: c.sock, state: gone})
		}
	}
	by, rev := m.sortBy, m.reverse
	slices.SortStableFunc(m.rows, func(a, b row) int {
		c := compareBy(by, &a.sock, &b.sock, m.now)
		if rev {
			c = -c
		}
		if c != 0 {
			return c
		}
		return compareBy(colPort, &a.sock, &b.sock, m.now)
	})
	m.cursor = 0
	for i := range m.rows {
		if keyOf(&m.rows[i].sock) == m.sel {
			m.cursor = i
			break
		}
	}
	m.moveTo(m.cursor)
}

// shows applies the filter and the exposed-only switch.
func (m *model) shows(s *sockets.Socket) bool {
	if m.exposedOnly && !s.Exposed() {
		return false
	}
	return matches(s, m.filter)
}

// matches reports whether the filter text is in the socket's process name
// or command line, port, address or user (case-insensitive).
func matches(s *sockets.Socket, filter string) bool {
	f := strings.ToLower(strings.TrimSpace(filter))
	if f == "" {
		return true
	}
	for _, t := range [...]string{
		strconv.Itoa(int(s.Port())), sockets.FormatAddr(s.Local), s.UserText(), s.NamesText(), s.CommandText(),
	} {
		if strings.Contains(strings.ToLower(t), f) {
			return true
		}
	}
	return false
}

// compareBy orders two sockets by one column.
func compareBy(c column, a, b *sockets.Socket, now time.Time) int {
	switch c {
	case colProto:
		return cmp.Compare(a.Proto, b.Proto)
	case colAddress:
		return a.Local.Addr().Unmap().Compare(b.Local.Addr().Unmap())
	case colExposure:
		return cmp.Compare(a.ExposureText(), b.ExposureText())
	case colProcess:
		return cmp.Compare(strings.ToLower(a.NamesText()), strings.ToLower(b.NamesText()))
	case colPID:
		return cmp.Compare(firstPID(a), firstPID(b))
	case colUser:
		return cmp.Compare(a.UserText(), b.UserText())
	case colUp:
		// Shortest running first: the newest start first.
		return -cmp.Compare(startOf(a).UnixNano(), startOf(b).UnixNano())
	}
	return cmp.Compare(a.Port(), b.Port())
}

func firstPID(s *sockets.Socket) int {
	if len(s.Owners) == 0 {
		return 0
	}
	return s.Owners[0].PID
}

func startOf(s *sockets.Socket) time.Time {
	if len(s.Owners) == 0 {
		return time.Time{}
	}
	return s.Owners[0].Start
}

// moveTo moves the cursor to row i and keeps it on screen.
func (m *model) moveTo(i int) {
	m.cursor = max(0, min(i, len(m.rows)-1))
	if len(m.rows) > 0 {
		m.sel = keyOf(&m.rows[m.cursor].sock)
	}
	m.scroll()
}

// scroll keeps the cursor within the rows on screen.
func (m *model) scroll() {
	n := m.bodyHeight()
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+n {
		m.offset = m.cursor - n + 1
	}
	m.offset = max(0, min(m.offset, len(m.rows)-n))
}

func (m *model) selected() *row {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		return nil
	}
	return &m.rows[m.cursor]
}

func (m *model) setStatus(text string, kind statusKind) {
	m.status, m.statusKind = text, kind
}

// key acts on a key press in the current mode.
func (m *model) key(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	s := k.String()
	if s == "ctrl+c" {
		return m, tea.Quit
	}
	switch m.mode {
	case modeFilter:
		switch s {
		case "esc":
			m.filter, m.mode = "", modeTable
		case "enter":
			m.mode = modeTable
		case "backspace":
			if r := []rune(m.filter); len(r) > 0 {
				m.filter = string(r[:len(r)-1])
			}
		default:
			if k.Text != "" {
				m.filter += k.Text
			}
		}
		m.rebuild()
		return m, nil
	case modeConfirm:
		m.mode = modeTable
		if s == "y" || s == "Y" {
			return m, m.kill()
		}
		m.setStatus("nothing stopped", statusInfo)
		return m, nil
	case modeDetails, modeDoctor, modeHelp:
		switch s {
		case "q":
			return m, tea.Quit
		case "esc", "enter", "?", "backspace":
			m.mode = modeTable
		}
		return m, nil
	}

	switch s {
	case "q":
		return m, tea.Quit
	case "up", "k":
		m.moveTo(m.cursor - 1)
	case "down", "j":
		m.moveTo(m.cursor + 1)
	case "pgup":
		m.moveTo(m.cursor - m.bodyHeight())
	case "pgdown", "space":
		m.moveTo(m.cursor + m.bodyHeight())
	case "home", "g":
		m.moveTo(0)
	case "end", "G":
		m.moveTo(len(m.rows) - 1)
	case "/":
		m.mode = modeFilter
	case "esc":
		if m.filter != "" {
			m.filter = ""
			m.rebuild()
		}
	case "s":
		m.sortBy = (m.sortBy + 1) % colCommand // every column but the command
		m.rebuild()
	case "S":
		m.reverse = !m.reverse
		m.rebuild()
	case "e":
		m.exposedOnly = !m.exposedOnly
		m.rebuild()
	case "?":
		m.mode = modeHelp
	case "enter":
		return m, m.details()
	case "K":
		m.askKill()
	case "d":
		return m, m.doctor()
	}
	return m, nil
}

// askKill puts the question for the selected row, or says why not.
func (m *model) askKill() {
	r := m.selected()
	switch {
	case r == nil:
		return
	case m.busy:
		m.setStatus("a stop is already running", statusWarn)
	case m.opts.Kill == nil:
		m.setStatus("stopping processes is not available here", statusWarn)
	case r.state == gone:
		m.setStatus("that listener has already closed", statusInfo)
	case len(r.sock.Owners) == 0:
		m.setStatus("the owner of "+portName(&r.sock)+" is not visible; run homeport top as root to stop it", statusWarn)
	default:
		s := r.sock
		m.target, m.mode = &s, modeConfirm
	}
}

// kill frees the target's port from the processes the question named: only
// those, and only if they still hold that socket (stop.Expect).
func (m *model) kill() tea.Cmd {
	s := *m.target
	req := stop.Request{Targets: []stop.Target{{Port: s.Port(), Proto: s.Proto,
		Accepts: func(x *sockets.Socket) bool { return x.Local == s.Local }}}}
	for _, o := range s.Owners {
		req.Expect = append(req.Expect, stop.Expect{PID: o.PID, Start: o.Start, StartTicks: o.StartTicks, Inode: s.Inode})
	}
	m.busy = true
	m.setStatus("stopping "+ownerText(&s)+"…", statusInfo)
	ctx, kill := m.ctx, m.opts.Kill
	return func() tea.Msg {
		rep, err := kill(ctx, req)
		return killMsg{sock: s, rep: rep, err: err}
	}
}

// details opens the panel of the selected row and reads the connections to
// its port.
func (m *model) details() tea.Cmd {
	r := m.selected()
	if r == nil {
		return nil
	}
	s := r.sock
	m.target, m.mode, m.conns, m.connsErr, m.connsReady = &s, modeDetails, nil, nil, false
	if s.Proto != sockets.TCP {
		m.connsReady = true // a UDP socket has no connections to list
		return nil
	}
	take := m.opts.Take
	if take == nil {
		take = sockets.Take
	}
	ctx := m.ctx
	return func() tea.Msg {
		conns, err := connections(ctx, take, &s)
		return detailsMsg{key: keyOf(&s), conns: conns, err: err}
	}
}

// connections lists the established connections to s's port that s takes,
// each with its client's owner when the client runs here.
func connections(ctx context.Context, take func(context.Context, sockets.Filter) (*sockets.Snapshot, error), s *sockets.Socket) ([]sockets.Socket, error) {
	snap, err := take(ctx, sockets.Filter{TCP: true, All: true})
	if err != nil {
		return nil, err
	}
	byLocal := map[netip.AddrPort]*sockets.Socket{}
	for i := range snap.Sockets {
		byLocal[snap.Sockets[i].Local] = &snap.Sockets[i]
	}
	var out []sockets.Socket
	for i := range snap.Sockets {
		c := snap.Sockets[i]
		if c.State != sockets.Established || c.Port() != s.Port() || !s.Takes(c.Local.Addr()) {
			continue
		}
		// The client's end, when it is on this machine: its owners are
		// who is connected.
		if peer, ok := byLocal[c.Remote]; ok {
			c.Owners = peer.Owners
		} else {
			c.Owners = nil
		}
		out = append(out, c)
	}
	return out, nil
}

// doctor asks the doctor about the selected row's port.
func (m *model) doctor() tea.Cmd {
	r := m.selected()
	if r == nil {
		return nil
	}
	if m.opts.Doctor == nil {
		m.setStatus("the doctor is not available here", statusWarn)
		return nil
	}
	s := r.sock
	m.target, m.mode, m.doctorRep, m.doctorErr = &s, modeDoctor, nil, nil
	ctx, diagnose, t := m.ctx, m.opts.Doctor, doctorTarget(&s)
	return func() tea.Msg {
		rep, err := diagnose(ctx, t)
		return doctorMsg{port: s.Port(), rep: rep, err: err}
	}
}

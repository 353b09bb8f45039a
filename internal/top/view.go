package top

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"homeport/internal/doctor"
	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
	"homeport/internal/stop"
)

// column is one column of the table.
type column int

// The columns, in the order shown; the command comes last and takes what the
// others leave of the width.
const (
	colPort column = iota
	colProto
	colAddress
	colExposure
	colProcess
	colPID
	colUser
	colUp
	colCommand
	numColumns
)

var columnNames = [numColumns]string{"PORT", "PROTO", "ADDRESS", "EXPOSURE", "PROCESS", "PID", "USER", "UP", "COMMAND"}

// maxWidth caps the columns whose text can be long, so that one odd row
// does not push the others off the screen; 0: no cap.
var maxWidth = [numColumns]int{colAddress: 39, colExposure: 22, colProcess: 20, colPID: 13, colUser: 12}

// When the terminal is too narrow for every column, the command goes first
// (it gets what the others leave, if that is at least minCommand), then
// the columns of dropFirst; then the columns of minWidth are cut, down to
// their minimum, the one with the most to spare first; then those of
// dropLast go.
var (
	dropFirst = []column{colUp, colUser}
	minWidth  = [numColumns]int{colAddress: 9, colExposure: 14, colProcess: 8, colPID: 5}
	dropLast  = []column{colProto, colPID, colExposure, colAddress}
)

const (
	minCommand = 10
	gutter     = 3 // "> +": the cursor and the row's mark
	sep        = 2 // spaces between columns
)

// The styles: ANSI's basic colours, which every terminal has and ssh
// carries, downsampled or dropped (NO_COLOR) by the program's colour
// profile. Styling goes through x/ansi rather than lipgloss: lipgloss
// detects the colour profile of stdout when its package is initialised,
// which costs every homeport command the time of reading terminfo (and,
// inside tmux, of running `tmux info`).
var (
	styleBold     = ansi.Style{}.Bold()
	styleFaint    = ansi.Style{}.Faint()
	styleNew      = ansi.Style{}.ForegroundColor(ansi.Green)
	styleGone     = ansi.Style{}.ForegroundColor(ansi.Red)
	styleWarn     = ansi.Style{}.ForegroundColor(ansi.Yellow)
	styleOK       = ansi.Style{}.ForegroundColor(ansi.Green)
	styleError    = ansi.Style{}.ForegroundColor(ansi.Red).Bold()
	styleSelected = ansi.Style{}.Reverse(true)
)

// paint styles s; an empty style leaves it bare.
func paint(st ansi.Style, s string) string {
	if len(st) == 0 || s == "" {
		return s
	}
	return st.Styled(s)
}

// plus joins styles.
func plus(a, b ansi.Style) ansi.Style { return append(append(ansi.Style{}, a...), b...) }

// cellText is what a column shows for a socket.
func cellText(c column, s *sockets.Socket, now time.Time) string {
	switch c {
	case colPort:
		return strconv.Itoa(int(s.Port()))
	case colProto:
		return string(s.Proto)
	case colAddress:
		return s.Local.Addr().Unmap().String()
	case colExposure:
		return s.ExposureText()
	case colProcess:
		return oneLine.Replace(s.NamesText())
	case colPID:
		return s.PIDsText()
	case colUser:
		return s.UserText()
	case colUp:
		if len(s.Owners) == 0 {
			return ""
		}
		return s.Owners[0].Uptime(now)
	case colCommand:
		return oneLine.Replace(s.CommandText())
	}
	return ""
}

// Process names and command lines may hold newlines and tabs.
var oneLine = strings.NewReplacer("\n", "\\n", "\t", " ", "\r", "\\r")

// layout is the columns shown and their widths.
type layout struct {
	cols   []column
	widths []int
}

// fit chooses the columns and widths for texts (one slice of column texts a
// row) in width cells.
func fit(texts [][numColumns]string, width int) layout {
	var w [numColumns]int
	for c := range numColumns {
		w[c] = ansi.StringWidth(columnNames[c])
	}
	for _, t := range texts {
		for c := range numColumns {
			w[c] = max(w[c], ansi.StringWidth(t[c]))
		}
	}
	for c := range numColumns {
		if maxWidth[c] > 0 {
			w[c] = min(w[c], max(maxWidth[c], ansi.StringWidth(columnNames[c])))
		}
	}
	var shown [numColumns]bool
	for c := range numColumns {
		shown[c] = true
	}
	// used is the width of the shown columns but the command.
	used := func() int {
		n := gutter - sep
		for c := range colCommand {
			if shown[c] {
				n += w[c] + sep
			}
		}
		return n
	}
	if room := width - used() - sep; room >= minCommand {
		w[colCommand] = min(w[colCommand], room)
	} else {
		shown[colCommand] = false
	}
	for _, c := range dropFirst {
		if used() <= width {
			break
		}
		shown[c] = false
	}
	for used() > width {
		wide, slack := column(-1), 0
		for c := range numColumns {
			if shown[c] && minWidth[c] > 0 && w[c]-minWidth[c] > slack {
				wide, slack = c, w[c]-minWidth[c]
			}
		}
		if wide < 0 {
			break
		}
		w[wide]-- // a cell at a time from the one with the most to spare
	}
	for _, c := range dropLast {
		if used() <= width {
			break
		}
		shown[c] = false
	}
	var l layout
	for c := range numColumns {
		if shown[c] {
			l.cols = append(l.cols, c)
			l.widths = append(l.widths, w[c])
		}
	}
	return l
}

// bodyHeight is the number of table rows on screen: all but the title, the
// header and the status line.
func (m *model) bodyHeight() int { return max(1, m.height-3) }

// View draws the screen.
func (m *model) View() tea.View {
	var b strings.Builder
	b.WriteString(m.titleLine())
	b.WriteByte('\n')
	var body []string
	switch m.mode {
	case modeDetails:
		body = m.detailsLines()
	case modeDoctor:
		body = m.doctorLines()
	case modeHelp:
		body = m.helpLines()
	default:
		body = m.tableLines()
	}
	n := m.height - 2
	for i := range n {
		if i < len(body) {
			b.WriteString(body[i])
		}
		b.WriteByte('\n')
	}
	b.WriteString(m.statusLine())
	v := tea.NewView(b.String())
	v.AltScreen = true
	v.WindowTitle = "homeport top"
	return v
}

func (m *model) titleLine() string {
	parts := []string{paint(styleBold, "homeport top")}
	if !m.started {
		parts = append(parts, "reading the sockets…")
	} else {
		parts = append(parts, fmt.Sprintf("%d listening", m.total))
		if m.expo > 0 {
			parts = append(parts, paint(styleWarn, fmt.Sprintf("%d exposed", m.expo)))
		}
		if m.exposedOnly || m.filter != "" {
			parts = append(parts, fmt.Sprintf("%d shown", len(m.rows)))
		}
		if m.exposedOnly {
			parts = append(parts, "exposed only")
		}
		if m.filter != "" && m.mode != modeFilter {
			parts = append(parts, "filter "+strconv.Quote(m.filter))
		}
		dir := "↑"
		if m.reverse {
			dir = "↓"
		}
		parts = append(parts, "sort "+strings.ToLower(columnNames[m.sortBy])+" "+dir)
		// As root, what stays hidden (another PID namespace's
		// processes) sudo would not show either.
		if m.hidden > 0 && os.Geteuid() > 0 {
			parts = append(parts, paint(styleFaint, fmt.Sprintf("%d owners hidden (run with sudo)", m.hidden)))
		}
	}
	return ansi.Truncate(strings.Join(parts, " · "), m.width, "…")
}

func (m *model) tableLines() []string {
	texts := make([][numColumns]string, len(m.rows))
	for i := range m.rows {
		for c := range numColumns {
			texts[i][c] = cellText(c, &m.rows[i].sock, m.now)
		}
	}
	l := fit(texts, m.width)
	lines := make([]string, 0, m.bodyHeight()+1)
	var h strings.Builder
	h.WriteString(strings.Repeat(" ", gutter))
	for i, c := range l.cols {
		if i > 0 {
			h.WriteString(strings.Repeat(" ", sep))
		}
		h.WriteString(pad(columnNames[c], l.widths[i], i == len(l.cols)-1))
	}
	lines = append(lines, paint(styleBold, h.String()))
	if m.started && len(m.rows) == 0 {
		msg := "nothing is listening"
		if m.filter != "" || m.exposedOnly {
			msg = "no listener matches (esc clears the filter, e shows every exposure)"
		}
		return append(lines, paint(styleFaint, "   "+msg))
	}
	end := min(len(m.rows), m.offset+m.bodyHeight())
	for i := m.offset; i < end; i++ {
		lines = append(lines, m.rowLine(&m.rows[i], texts[i], l, i == m.cursor))
	}
	return lines
}

// pad cuts or pads s to w cells; the last column is not padded.
func pad(s string, w int, last bool) string {
	if ansi.StringWidth(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	if last {
		return s
	}
	return s + strings.Repeat(" ", w-ansi.StringWidth(s))
}

// rowLine draws one row: green while new, red once closed, the exposure of
// an exposed listener in the warning colour, the cursor's row reversed.
func (m *model) rowLine(r *row, t [numColumns]string, l layout, selected bool) string {
	var base ansi.Style
	mark := " "
	switch r.state {
	case added:
		base, mark = styleNew, "+"
	case gone:
		base, mark = styleGone, "-"
	}
	if selected {
		base = plus(base, styleSelected)
	}
	cursor := " "
	if selected {
		cursor = ">"
	}
	var b strings.Builder
	b.WriteString(paint(base, cursor+mark+" "))
	for i, c := range l.cols {
		last := i == len(l.cols)-1
		if i > 0 {
			b.WriteString(paint(base, strings.Repeat(" ", sep)))
		}
		st := base
		switch {
		case c == colExposure && r.state != gone && r.sock.Exposed():
			st = plus(st, styleWarn)
		case c == colExposure && r.state == live:
			st = plus(st, styleFaint)
		case c == colProcess && r.state == live:
			st = plus(st, styleBold)
		}
		text := pad(t[c], l.widths[i], last)
		if last && selected {
			// The cursor's bar runs to the edge.
			text += strings.Repeat(" ", max(0, l.widths[i]-ansi.StringWidth(text)))
		}
		b.WriteString(paint(st, text))
	}
	return b.String()
}

func (m *model) statusLine() string {
	var s string
	switch {
	case m.mode == modeFilter:
		s = "/" + m.filter + "█" + paint(styleFaint, "   enter keeps · esc clears")
	case m.mode == modeConfirm && m.target != nil:
		s = paint(plus(styleWarn, styleBold), fmt.Sprintf("stop %s on %s? [y/N]", ownerText(m.target), portName(m.target)))
	case m.pollErr != nil:
		s = paint(styleError, "could not list sockets: "+m.pollErr.Error())
	case m.status != "":
		st := ansi.Style{}
		switch m.statusKind {
		case statusOK:
			st = styleOK
		case statusWarn:
			st = styleWarn
		case statusError:
			st = styleError
		}
		s = paint(st, m.status)
	case m.mode == modeDetails || m.mode == modeDoctor || m.mode == modeHelp:
		s = paint(styleFaint, "esc back · q quit")
	default:
		s = paint(styleFaint, "/ filter · s sort · e exposed · enter details · K kill · d doctor · ? help · q quit")
	}
	return ansi.Truncate(s, m.width, "…")
}

// wrapLines wraps text to the width with an indent on every line.
func (m *model) wrapLines(indent, text string) []string {
	w := max(10, m.width-ansi.StringWidth(indent))
	var out []string
	for line := range strings.SplitSeq(ansi.Wrap(text, w, ""), "\n") {
		out = append(out, indent+line)
	}
	return out
}

func (m *model) detailsLines() []string {
	s := m.target
	if s == nil {
		return nil
	}
	head := fmt.Sprintf("%s %s · %s · %s port", s.Proto, sockets.FormatAddr(s.Local), s.ExposureText(), ports.ClassOf(s.Port()))
	st := styleBold
	if s.Exposed() {
		st = plus(styleBold, styleWarn)
	}
	lines := []string{paint(st, ansi.Truncate(head, m.width, "…")), ""}
	if len(s.Owners) == 0 {
		lines = append(lines, "owner  not visible to homeport (another user's process, or outside this PID namespace)")
	}
	for _, p := range s.Owners {
		user := p.User
		if user == "" && p.UID >= 0 {
			user = strconv.Itoa(p.UID)
		}
		line := fmt.Sprintf("owner  %s (pid %d", oneLine.Replace(p.Name), p.PID)
		if p.PPID > 0 {
			line += fmt.Sprintf(", parent %d", p.PPID)
		}
		line += ")"
		if user != "" {
			line += ", user " + user
		}
		lines = append(lines, paint(styleBold, ansi.Truncate(line, m.width, "…")))
		if !p.Start.IsZero() {
			lines = append(lines, fmt.Sprintf("       started %s, up %s", p.Start.Local().Format("2006-01-02 15:04:05"), p.Uptime(m.now)))
		}
		lines = append(lines, m.wrapLines("       ", oneLine.Replace(p.Command()))...)
	}
	lines = append(lines, "")
	switch {
	case s.Proto != sockets.TCP:
		lines = append(lines, paint(styleFaint, "connections: none (UDP has no connections)"))
	case !m.connsReady:
		lines = append(lines, paint(styleFaint, "connections: reading…"))
	case m.connsErr != nil:
		lines = append(lines, paint(styleError, "connections: could not list them: "+m.connsErr.Error()))
	case len(m.conns) == 0:
		lines = append(lines, "connections: none")
	default:
		lines = append(lines, fmt.Sprintf("connections (%d):", len(m.conns)))
		for i := range m.conns {
			c := &m.conns[i]
			line := "  " + sockets.FormatAddr(c.Remote)
			if o := ownerText(c); o != "" && len(c.Owners) > 0 {
				line += "  " + o
			}
			lines = append(lines, ansi.Truncate(line, m.width, "…"))
		}
	}
	return lines
}

func (m *model) doctorLines() []string {
	s := m.target
	if s == nil {
		return nil
	}
	t := doctorTarget(s)
	lines := []string{paint(styleBold, "homeport doctor "+t.String()), ""}
	rep := m.doctorRep
	if rep == nil {
		return append(lines, paint(styleFaint, "checking…"))
	}
	if m.doctorErr != nil {
		lines = append(lines, m.wrapLines("", paint(styleError, "could not read the sockets: "+m.doctorErr.Error()+
			"; this verdict rests on the connection attempts alone"))...)
	}
	if rep.OK {
		lines = append(lines, paint(styleOK, "✓ ")+rep.Target+" — "+rep.Verdict)
	}
	for _, f := range rep.Findings {
		mark := paint(styleError, "✗ ")
		if f.Severity <= doctor.Low {
			mark = paint(styleWarn, "! ")
		}
		lines = append(lines, mark+paint(styleBold, f.Title))
		for _, e := range f.Evidence {
			lines = append(lines, m.wrapLines("  ", e)...)
		}
		if f.Fix != "" {
			lines = append(lines, m.wrapLines("  fix: ", f.Fix)...)
		}
	}
	lines = append(lines, "")
	for _, l := range rep.Listeners {
		lines = append(lines, fmt.Sprintf("listen   %s on %s/%s", l.Process, sockets.FormatAddr(l.Addr), l.Proto))
	}
	for _, a := range rep.Attempts {
		res := string(a.Result)
		if a.Result == doctor.Connected {
			res = paint(styleOK, res)
		} else {
			res = paint(styleError, res)
		}
		lines = append(lines, fmt.Sprintf("connect  %s %s in %s", sockets.FormatAddr(a.Addr), res, a.Duration.Round(100*time.Microsecond)))
	}
	for i := range lines {
		lines[i] = ansi.Truncate(lines[i], m.width, "…")
	}
	return lines
}

var helpKeys = [][2]string{
	{"↑ ↓  j k", "move"},
	{"pgup pgdn g G", "page, first, last"},
	{"/", "filter by process, port, address or user (esc clears)"},
	{"s  S", "sort by the next column, reverse the order"},
	{"e", "exposed listeners only, or all"},
	{"enter", "details: command line, owners, start time, connections"},
	{"K", "stop the selected listener's process (asks first)"},
	{"d", "ask the doctor about the selected port"},
	{"?", "this help"},
	{"q  ctrl+c", "quit"},
}

func (m *model) helpLines() []string {
	lines := []string{paint(styleBold, "keys"), ""}
	for _, k := range helpKeys {
		lines = append(lines, ansi.Truncate(fmt.Sprintf("  %-14s %s", k[0], k[1]), m.width, "…"))
	}
	lines = append(lines, "")
	return append(lines, m.wrapLines("  ", "New listeners are green (+) for a few seconds, closed ones red (-) before they go; "+
		"an exposure in yellow is a listener other machines may reach.")...)
}

// portName is "tcp 127.0.0.1:3000".
func portName(s *sockets.Socket) string {
	return string(s.Proto) + " " + sockets.FormatAddr(s.Local)
}

// ownerText is "node (pid 4242)" or "node (pids 4242,4243)"; "" without a
// visible owner.
func ownerText(s *sockets.Socket) string {
	if len(s.Owners) == 0 {
		return ""
	}
	word := "pid"
	if len(s.Owners) > 1 {
		word = "pids"
	}
	return fmt.Sprintf("%s (%s %s)", oneLine.Replace(s.NamesText()), word, s.PIDsText())
}

// doctorTarget is what to diagnose for a listener, as `homeport doctor`
// would be asked: its port (on localhost), or its own address when it is
// bound to one; "/udp" for UDP.
func doctorTarget(s *sockets.Socket) ports.Target {
	text := strconv.Itoa(int(s.Port()))
	if a := s.Local.Addr().Unmap(); !a.IsUnspecified() && !a.IsLoopback() {
		text = sockets.FormatAddr(s.Local)
	}
	if s.Proto == sockets.UDP {
		text += "/udp"
	}
	t, err := ports.ParseTarget(text)
	if err != nil {
		// Not reached: the text is made of a valid address and port.
		return ports.Target{Port: s.Port(), Proto: string(s.Proto)}
	}
	return t
}

// killStatus tells in one line what came of a kill.
func killStatus(s *sockets.Socket, rep *stop.Report, err error) (string, statusKind) {
	if err != nil {
		return "could not stop " + ownerText(s) + ": " + err.Error(), statusError
	}
	var parts []string
	kind := statusOK
	for _, v := range rep.Victims {
		name := fmt.Sprintf("%s (pid %d)", oneLine.Replace(v.Process.Name), v.Process.PID)
		if v.Process.Name == "" {
			name = fmt.Sprintf("pid %d", v.Process.PID)
		}
		o := &v.Outcome
		switch {
		case v.Note != nil:
			parts, kind = append(parts, name+": "+v.Note.Reason), statusWarn
		case v.Refused != nil:
			t := "not stopping " + name + ": " + v.Refused.Reason
			if v.Refused.Hint != "" {
				t += "; " + v.Refused.Hint
			}
			parts, kind = append(parts, t), statusWarn
		default:
			t, k := outcomeText(name, o)
			parts = append(parts, t)
			kind = max(kind, k)
		}
	}
	for _, p := range rep.Ports {
		switch {
		case !p.Held():
			parts = append(parts, "nothing listened there any more")
		case p.Free():
			parts = append(parts, portName(s)+" is free")
		case p.Checked:
			parts, kind = append(parts, portName(s)+" is still held"), max(kind, statusWarn)
		}
	}
	return strings.Join(parts, "; "), kind
}

func outcomeText(name string, o *stop.Outcome) (string, statusKind) {
	switch o.Kind {
	case stop.ExitedOnSignal:
		return fmt.Sprintf("%s exited on %s after %s", name, procs.SignalName(o.Signal), o.After.Round(time.Millisecond)), statusOK
	case stop.Killed:
		return fmt.Sprintf("%s did not stop in time; killed with SIGKILL", name), statusWarn
	case stop.StoppedListening:
		return fmt.Sprintf("%s stopped listening (it still runs)", name), statusOK
	case stop.PermissionDenied:
		return fmt.Sprintf("not allowed to signal %s; run homeport top with sudo", name), statusError
	case stop.StillRunning:
		return fmt.Sprintf("%s still runs after SIGKILL", name), statusError
	case stop.Gone:
		return fmt.Sprintf("%s had already exited", name), statusInfo
	case stop.Changed:
		return fmt.Sprintf("%s is no longer the process shown; nothing sent", name), statusWarn
	case stop.Failed:
		return fmt.Sprintf("signalling %s failed: %v", name, o.Err), statusError
	}
	return "nothing stopped", statusInfo
}

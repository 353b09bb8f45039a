package cli

import (
	"bufio"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// table writes rows as aligned columns with a header on a terminal, and as
// tab-separated values without a header into a pipe. Into a pipe, rows are
// written as they come: a listing of 10,000 sockets then needs no memory for
// the table.
type table struct {
	io     *IO
	w      *bufio.Writer
	header []string
	rows   [][]cell
}

// cell is a value with an optional style (colour on a terminal only).
type cell struct {
	text  string
	style string
}

func newTable(o *IO, header ...string) *table {
	return &table{io: o, w: bufio.NewWriterSize(o.Out, 32<<10), header: header}
}

// row adds a row. The cells are copied: callers may reuse the slice.
func (t *table) row(cells ...cell) {
	if t.io.OutTTY {
		t.rows = append(t.rows, append([]cell(nil), cells...))
		return
	}
	for i, c := range cells {
		if i > 0 {
			t.w.WriteByte('\t')
		}
		// The replacer allocates a buffer on every call: most cells have
		// nothing to replace, and 10,000 rows have 100,000 cells.
		if strings.ContainsAny(c.text, "\t\n") {
			pipeCell.WriteString(t.w, c.text)
		} else {
			t.w.WriteString(c.text)
		}
	}
	t.w.WriteByte('\n')
}

// Cells never contain the column separators: a process name or command line
// may hold tabs and newlines.
var (
	pipeCell = strings.NewReplacer("\t", " ", "\n", " ")
	ttyCell  = strings.NewReplacer("\n", "\\n", "\t", " ")
)

// minLastColumn is the narrowest the last column (a command line) is cut to
// on a narrow terminal: below it, the row wraps instead.
const minLastColumn = 10

func (t *table) flush() error {
	w := t.w
	if !t.io.OutTTY {
		return w.Flush()
	}
	// On a terminal, pad by hand: tabwriter cannot measure ANSI escapes,
	// and columns are measured in display cells, so that a CJK or emoji
	// process name (two cells a rune) keeps the columns aligned.
	last := len(t.header) - 1
	for _, r := range t.rows {
		for i := range r {
			r[i].text = ttyCell.Replace(r[i].text)
		}
	}
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = runewidth.StringWidth(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], runewidth.StringWidth(c.text))
			}
		}
	}
	if t.io.Width > 0 && last >= 0 {
		// The last column takes what the others leave of the terminal.
		used := 0
		for _, wd := range widths[:last] {
			used += wd + 2
		}
		if room := max(t.io.Width-used, minLastColumn); widths[last] > room {
			widths[last] = room
			for _, r := range t.rows {
				if last < len(r) {
					r[last].text = truncate(r[last].text, room)
				}
			}
		}
	}
	b := w
	for i, h := range t.header {
		b.WriteString(t.io.paint(styleBold, h))
		if i < last {
			b.WriteString(strings.Repeat(" ", widths[i]-runewidth.StringWidth(h)+2))
		}
	}
	b.WriteByte('\n')
	var line strings.Builder
	for _, r := range t.rows {
		line.Reset()
		for i, c := range r {
			line.WriteString(t.io.paint(c.style, c.text))
			if i < last {
				line.WriteString(strings.Repeat(" ", max(widths[i]-runewidth.StringWidth(c.text), 0)+2))
			}
		}
		// Empty last cells leave no padding at the end of the line.
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return w.Flush()
}

// exposureText says who can reach a socket, marking dual-stack listeners.
func exposureText(s *sockets.Socket) string { return s.ExposureText() }

func exposureStyle(s *sockets.Socket) string {
	if s.Exposure() == sockets.Loopback {
		return styleDim
	}
	return styleAmber
}

// pidsText lists the owners' PIDs: "4242" or "4242,4243".
func pidsText(s *sockets.Socket) string { return s.PIDsText() }

// namesText lists the owners' distinct names.
func namesText(s *sockets.Socket) string { return s.NamesText() }

// userOf names the user of a socket: its first owner's, else the socket's uid.
func userOf(s *sockets.Socket) string { return s.UserText() }

// commandText is the first owner's command line.
func commandText(s *sockets.Socket) string { return s.CommandText() }

// truncate shortens s to n display cells with an ellipsis: a CJK rune or an
// emoji takes two cells, a combining mark none.
func truncate(s string, n int) string {
	if n <= 1 {
		return s
	}
	return runewidth.Truncate(s, n, "…")
}

// sinceText formats a start time: the clock time today, the date otherwise.
func sinceText(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04")
	}
	if y1 == y2 {
		return t.Format("Jan 2 15:04")
	}
	return t.Format("2006-01-02")
}

// upText is a short duration: 45s, 12m, 3h, 5d.
func upText(d time.Duration) string { return procs.UptimeText(d) }

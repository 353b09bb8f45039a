package cli

import (
	"encoding/json"
	"io"
	"os"
	"strconv"

	"golang.org/x/term"
)

// IO is where a command reads and writes. Data goes to Out, everything else
// (status, progress, warnings, errors) to Err.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer

	// OutTTY and ErrTTY report whether Out and Err are terminals: a terminal
	// gets aligned tables, colour and spinners; a pipe gets plain columns.
	OutTTY, ErrTTY, InTTY bool

	// Color is true when colour is wanted on Out: a terminal, and NO_COLOR
	// unset (https://no-color.org).
	Color bool
	// ErrColor is the same for Err.
	ErrColor bool

	// Width is the number of columns of the terminal on Out (0: not a
	// terminal, or unknown). Tables fit their last column into it.
	Width int
}

// System returns the process's standard streams.
func System() *IO {
	isTTY := func(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
	o := &IO{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		InTTY: isTTY(os.Stdin), OutTTY: isTTY(os.Stdout), ErrTTY: isTTY(os.Stderr),
	}
	_, noColor := os.LookupEnv("NO_COLOR")
	o.Color = o.OutTTY && !noColor && os.Getenv("TERM") != "dumb"
	o.ErrColor = o.ErrTTY && !noColor && os.Getenv("TERM") != "dumb"
	if o.OutTTY {
		o.Width = terminalWidth(os.Stdout)
	}
	return o
}

// terminalWidth is the width of the terminal f: $COLUMNS when set (as ls and
// less honour it), else what the terminal says, else 80.
func terminalWidth(f *os.File) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
		return w
	}
	return 80
}

// widthOf is the width of the terminal w writes to, read anew at each call
// so that a resized window is followed; 80 when w is no terminal.
func widthOf(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		return terminalWidth(f)
	}
	return 80
}

// writeJSON writes v as indented JSON, the form every --json output takes.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ANSI styles used on a terminal.
const (
	styleReset = "\x1b[0m"
	styleBold  = "\x1b[1m"
	styleDim   = "\x1b[2m"
	styleRed   = "\x1b[31m"
	styleGreen = "\x1b[32m"
	styleAmber = "\x1b[33m"
)

// paint wraps s in style when colour is on.
func (o *IO) paint(style, s string) string {
	if !o.Color || s == "" || style == "" {
		return s
	}
	return style + s + styleReset
}

package cli

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// serviceColors are the colours of services' prefixes, in the file's
// order (as foreman and docker compose give each service its own).
var serviceColors = []string{"\x1b[36m", "\x1b[35m", "\x1b[34m", "\x1b[33m", "\x1b[32m", "\x1b[96m", "\x1b[95m", "\x1b[94m"}

// lineMux writes whole lines of several sources to one stream, each line
// after its source's prefix, so that two services' output never mixes
// within a line.
type lineMux struct {
	mu    sync.Mutex
	out   io.Writer
	width int // of the widest prefix name
	color bool
}

// source returns a writer whose lines go out as "name | line".
func (m *lineMux) source(name, style string) *prefixed {
	return &prefixed{mux: m, name: name, style: style}
}

func (m *lineMux) head(name, style string) string {
	h := fmt.Sprintf("%-*s |", m.width, name)
	if m.color && style != "" {
		h = style + h + styleReset
	}
	return h
}

type prefixed struct {
	mux   *lineMux
	name  string
	style string
	part  []byte // a line not ended yet
}

// Write writes p's complete lines at once; a last line without its
// newline waits for the next Write, or Flush.
func (w *prefixed) Write(p []byte) (int, error) {
	w.mux.mu.Lock()
	defer w.mux.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.part = append(w.part, p...)
			// A line that never ends (a progress bar's \r) is not held
			// back for ever.
			if len(w.part) > 64<<10 {
				w.emit(w.part)
				w.part = w.part[:0]
			}
			break
		}
		line := p[:i]
		if len(w.part) > 0 {
			line = append(w.part, line...)
			w.part = w.part[:0]
		}
		w.emit(line)
		p = p[i+1:]
	}
	return n, nil
}

func (w *prefixed) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	fmt.Fprintf(w.mux.out, "%s %s\n", w.mux.head(w.name, w.style), line)
}

// Flush writes a last line that did not end.
func (w *prefixed) Flush() {
	w.mux.mu.Lock()
	defer w.mux.mu.Unlock()
	if len(w.part) > 0 {
		w.emit(w.part)
		w.part = w.part[:0]
	}
}

package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// openPTY opens a real pseudo-terminal of cols columns: the master end to
// read what was drawn, the terminal end to draw on.
func openPTY(t *testing.T, cols int) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: uint16(cols)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// On an 80-column terminal every spinner line fits in 79 columns: a line
// that wraps leaves its first half on the screen at each redraw.
func TestWaitSpinnerFitsTheTerminal(t *testing.T) {
	master, tty := openPTY(t, 80)
	var targets []string
	for range 5 {
		targets = append(targets, "localhost:"+portStr(freePort(t)))
	}
	io, _, _ := testIO("")
	io.Err, io.ErrTTY = tty, true
	done := make(chan error, 1)
	go func() { done <- waitRun(context.Background(), waitOpts(t, io, 700*time.Millisecond, targets...)) }()

	var drawn strings.Builder
	buf := make([]byte, 4096)
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(drawn.String(), "waiting for") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no spinner lines after 20s: %q", drawn.String())
		}
		master.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := master.Read(buf)
		drawn.Write(buf[:n])
	}
	<-done
	for _, line := range strings.Split(drawn.String(), "\r\x1b[K") {
		line = strings.TrimRight(line, "\r\n")
		if !strings.Contains(line, "waiting for") {
			continue
		}
		if n := utf8.RuneCountInString(line); n > 79 {
			t.Errorf("spinner line of %d columns on an 80-column terminal: %q", n, line)
		}
	}
}

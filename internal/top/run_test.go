package top

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"homeport/internal/sockets"
)

// lockedBuffer is the program's output, read while it writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// restored reports whether out ends the alternate screen and shows the
// cursor again after it last entered the alternate screen.
func restored(out string) bool {
	i := strings.LastIndex(out, "\x1b[?1049h")
	return i >= 0 && strings.Contains(out[i:], "\x1b[?1049l") && strings.Contains(out[i:], "\x1b[?25h")
}

func TestRunRestoresTheTerminalWhenTheWatcherPanics(t *testing.T) {
	out := &lockedBuffer{}
	polls := 0
	opts := Options{
		Interval: 10 * time.Millisecond,
		Watch: func(context.Context, sockets.Filter) (*sockets.Snapshot, error) {
			polls++
			if polls == 3 {
				panic("inventory exploded")
			}
			return &sockets.Snapshot{Sockets: []sockets.Socket{node}}, nil
		},
		In:  strings.NewReader(""),
		Out: out,
		Env: []string{"TERM=xterm-256color"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got any
	func() {
		defer func() { got = recover() }()
		_ = Run(ctx, opts)
	}()
	if got == nil || !strings.Contains(got.(string), "inventory exploded") {
		t.Fatalf("Run did not pass the panic on: %v", got)
	}
	if !restored(out.String()) {
		t.Errorf("the terminal was left in the alternate screen or without a cursor:\n%q", tail(out.String()))
	}
}

func TestRunEndsWithItsContext(t *testing.T) {
	out := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe() // a terminal nobody types on
	defer w.Close()
	var mu sync.Mutex
	polls := 0
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Interval: 10 * time.Millisecond, In: r, Out: out, Env: []string{"TERM=xterm"},
			Watch: func(context.Context, sockets.Filter) (*sockets.Snapshot, error) {
				mu.Lock()
				polls++
				mu.Unlock()
				return &sockets.Snapshot{Sockets: []sockets.Socket{node}}, nil
			}})
	}()
	// Running: the watcher polls, and the screen is the alternate one.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := polls
		mu.Unlock()
		if n >= 3 && strings.Contains(out.String(), "\x1b[?1049h") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s, %d polls and the output %q", n, tail(out.String()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v; want nil when its context ends (Ctrl-C reached homeport)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still runs 30s after its context ended")
	}
	if !restored(out.String()) {
		t.Errorf("the terminal was not restored:\n%q", tail(out.String()))
	}
}

func tail(s string) string { return s[max(0, len(s)-400):] }

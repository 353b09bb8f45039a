package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"homeport/internal/watch"
)

// TestPortsWatchJSONPipe runs `homeport ports --watch --json` with its
// output into a pipe, as `| jq` would read it: a listener that opens and
// closes gives one "open" and one "close" line, each within 2 s, and when
// the reader goes away the stream ends quietly with status 0.
func TestPortsWatchJSONPipe(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	for p2 == p1 {
		p2 = freePort(t)
	}
	args := strings.Join([]string{"ports", "--watch", "--json", "--interval", "100ms",
		"--port", fmt.Sprintf("%d,%d", p1, p2)}, "\x1f")
	cmd := newHelperCmd("main", args)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// A line as a reader sees it.
	type line struct {
		Event  string     `json:"event"`
		At     time.Time  `json:"at"`
		Socket jsonSocket `json:"socket"`
	}
	lines := make(chan line)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e line
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Errorf("a line is not JSON: %v: %q", err, sc.Text())
				return
			}
			lines <- e
		}
	}()
	next := func(within time.Duration) line {
		t.Helper()
		select {
		case e, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended; stderr: %s", stderr.String())
			}
			return e
		case <-time.After(within):
			t.Fatalf("no event within %v; stderr: %s", within, stderr.String())
		}
		return line{}
	}
	want := func(e line, kind string, port uint16) {
		t.Helper()
		if e.Event != kind || e.Socket.Port != port || e.At.IsZero() {
			t.Fatalf("got %s of port %d at %v; want %s of port %d, with its time", e.Event, e.Socket.Port, e.At, kind, port)
		}
	}

	// The first line is the listener there at the start: a sign that the
	// watcher took its first inventory (before it, nothing else is shown).
	sentinel, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p2))
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	done := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // our own child, by its pid
		<-done
	})
	want(next(30*time.Second), "listening", p2)

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p1))
	if err != nil {
		t.Fatal(err)
	}
	e := next(2 * time.Second)
	want(e, "open", p1)
	if e.Socket.Local != fmt.Sprintf("127.0.0.1:%d", p1) || e.Socket.State != "LISTEN" || len(e.Socket.Owners) == 0 {
		t.Errorf("socket = %+v; want the fields of ports --json, with this process as owner", e.Socket)
	}
	ln.Close()
	want(next(2*time.Second), "close", p1)

	// Exactly one of each: the next line is the sentinel closing, after
	// p1's close; a second open or close of p1 would come before it.
	sentinel.Close()
	want(next(2*time.Second), "close", p2)

	// The reader goes away; the next change is written into a closed
	// pipe, and homeport ends without a word.
	out.Close()
	ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p1))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	select {
	case <-done:
		if waitErr != nil {
			t.Errorf("homeport ended with %v; want status 0; stderr: %s", waitErr, stderr.String())
		}
		if stderr.Len() > 0 {
			t.Errorf("stderr = %q; want nothing", stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("homeport still runs 30 s after its reader went away")
	}
}

func TestPortsWatchLines(t *testing.T) {
	o, out, _ := testIO("")
	w := &watchWriter{io: o, out: bufio.NewWriter(o.Out), owners: true}
	a := listener("127.0.0.1:3000", false, node(4242))
	b := listener("127.0.0.1:3000", false, node(4242), node(4243))
	bare := listener("[::]:53", false)
	for _, ev := range []watch.Event{
		{Kind: watch.Opened, Socket: a},
		{Kind: watch.Changed, Socket: b, Previous: &a},
		{Kind: watch.Changed, Socket: a, Previous: &bare},
		{Kind: watch.Closed, Socket: bare},
	} {
		if err := w.event(watch.Update{}, ev); err != nil {
			t.Fatal(err)
		}
	}
	want := "+ tcp 127.0.0.1:3000 node (pid 4242)\n" +
		"~ tcp 127.0.0.1:3000 node (pids 4242,4243), was node (pid 4242)\n" +
		"~ tcp 127.0.0.1:3000 node (pid 4242), was no owner in sight\n" +
		"- tcp [::]:53\n"
	if got := out.String(); got != want {
		t.Errorf("lines:\n%s\nwant:\n%s", got, want)
	}
}

// TestPortsWatchEndsWhenReaderLeaves: `ports --watch | head -1` ends as soon
// as head has its line and goes, not at the next change (which may never
// come on a quiet machine).
func TestPortsWatchEndsWhenReaderLeaves(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("poll(2) tells a closed pipe on Unix")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cmd := newHelperCmd("main", strings.Join([]string{"ports", "--watch", "--json", "--interval", "100ms", "--port", strconv.Itoa(port)}, "\x1f"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		// The first line (the listener there at the start), as head -1
		// reads it; then the reader goes. Wait reaps the child after.
		bufio.NewReader(out).ReadString('\n')
		out.Close()
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil || stderr.Len() > 0 {
			t.Errorf("homeport ended with %v, stderr %q; want status 0 and nothing", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill() // our own child, by its pid
		<-done
		t.Fatal("homeport still runs 30 s after its reader went away with nothing changing")
	}
}

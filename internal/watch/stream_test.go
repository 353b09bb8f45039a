package watch

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"homeport/internal/sockets"
)

func TestStreamNarrows(t *testing.T) {
	a, b, c := sock("127.0.0.1:80", 1, 10), sock("127.0.0.1:81", 2, 20), sock("127.0.0.1:82", 3, 30)
	// Only port 80 and 82, and only while owned by pid 10 or 30: a new
	// owner of a kept port that does not match is a close for the reader.
	keep := func(s *sockets.Socket) bool {
		return s.Port() != 81 && len(s.Owners) > 0 && (s.Owners[0].PID == 10 || s.Owners[0].PID == 30)
	}
	aOther := sock("127.0.0.1:80", 1, 11)
	p := New(Options{Interval: time.Millisecond, Take: fakeTake(
		[]sockets.Socket{a, b},
		[]sockets.Socket{a, b, c},   // c opens; b is not kept
		[]sockets.Socket{aOther, c}, // a changes to an owner not kept: close; b closes unseen
		[]sockets.Socket{a, c},      // a is back with its owner: open
		[]sockets.Socket{a},         // c closes
	)})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var start []sockets.Socket
	var got []Event
	err := p.Stream(ctx, StreamOptions{
		Keep: keep,
		Start: func(_ Update, socks []sockets.Socket) error {
			start = append(start, socks...)
			return nil
		},
		Event: func(_ Update, ev Event) error {
			got = append(got, ev)
			if len(got) == 4 {
				cancel()
			}
			return nil
		},
	})
	if err != nil {
		t.Fatalf("Stream = %v; want nil after the context ended", err)
	}
	if len(start) != 1 || start[0].Port() != 80 {
		t.Errorf("Start got %v; want the listener on 80 alone", start)
	}
	want := []ev{
		{Kind: "open", Local: "127.0.0.1:82", Inode: 3, PIDs: []int{30}},
		{Kind: "close", Local: "127.0.0.1:80", Inode: 1, PIDs: []int{10}},
		{Kind: "open", Local: "127.0.0.1:80", Inode: 1, PIDs: []int{10}},
		{Kind: "close", Local: "127.0.0.1:82", Inode: 3, PIDs: []int{30}},
	}
	if d := cmp.Diff(want, summary(got)); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestStreamStopsOnWriteError(t *testing.T) {
	errClosed := errors.New("reader went away")
	p := New(Options{Interval: time.Millisecond, Take: fakeTake(
		nil,
		[]sockets.Socket{sock("127.0.0.1:80", 1, 10), sock("127.0.0.1:81", 2, 10)},
	)})
	calls := 0
	err := p.Stream(context.Background(), StreamOptions{Event: func(Update, Event) error {
		calls++
		return errClosed
	}})
	if !errors.Is(err, errClosed) {
		t.Errorf("Stream = %v; want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("Event called %d times; want once, then the stream stops", calls)
	}
}

package watch

import (
	"sync"
	"sync/atomic"
)

// Hub hands each update to every subscriber. Publish never waits: a
// subscriber whose buffer is full is dropped (its channel closed, Dropped
// true), so one slow page cannot hold back the others or the poller. A new
// subscriber starts with the last update as its Initial snapshot.
type Hub struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	last   Update
	have   bool
	closed bool
}

// Subscription is one subscriber's view of a Hub.
type Subscription struct {
	hub     *Hub
	c       chan Update
	dropped atomic.Bool
	once    sync.Once
}

// Publish records u as the latest update and sends it to every subscriber.
func (h *Hub) Publish(u Update) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.last, h.have = u, true
	for s := range h.subs {
		select {
		case s.c <- u:
		default:
			s.dropped.Store(true)
			h.remove(s)
		}
	}
}

// Last returns the latest update, if there was one.
func (h *Hub) Last() (Update, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last, h.have
}

// Subscribe returns a subscription that buffers up to buffer updates (at
// least 1). When the Hub has an update already, it is waiting in the
// channel as an Initial update without events.
func (h *Hub) Subscribe(buffer int) *Subscription {
	s := &Subscription{hub: h, c: make(chan Update, max(buffer, 1))}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.once.Do(func() { close(s.c) })
		return s
	}
	if h.subs == nil {
		h.subs = map[*Subscription]struct{}{}
	}
	h.subs[s] = struct{}{}
	if h.have {
		first := h.last
		first.Events, first.Initial = nil, true
		s.c <- first
	}
	return s
}

// Len returns the number of subscribers.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Close ends every subscription; later Publish calls do nothing.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.remove(s)
	}
}

// remove drops s; h.mu is held.
func (h *Hub) remove(s *Subscription) {
	delete(h.subs, s)
	s.once.Do(func() { close(s.c) })
}

// Updates returns the channel of updates. It is closed when the
// subscription ends: Close, the Hub's Close, or a drop for being slow.
func (s *Subscription) Updates() <-chan Update { return s.c }

// Dropped reports whether the Hub dropped the subscriber for being slow.
func (s *Subscription) Dropped() bool { return s.dropped.Load() }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.remove(s)
}

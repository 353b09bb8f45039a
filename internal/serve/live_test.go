package serve

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sse is a real EventSource-like client reading one live-reload stream.
type sse struct {
	events chan event
	cancel func()
}

func subscribe(t *testing.T, ts *testServer) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+livePath, nil)
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s = %d %q; want an event stream", livePath, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sse{events: make(chan event, 16), cancel: cancel}
	connected := make(chan struct{})
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, ": homeport"):
				close(connected)
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			case line == "" && ev.name != "":
				s.events <- ev
				ev = event{}
			}
		}
	}()
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("live stream did not start")
	}
	t.Cleanup(cancel)
	return s
}

func (s *sse) next(t *testing.T) event {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("live stream ended")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no live-reload event within 30s")
	}
	return event{}
}

func TestLiveReload(t *testing.T) {
	dir := tree(t, map[string]string{
		"index.html":          "<html><head><link rel=stylesheet href=/css/site.css></head><BODY><p>v1</p></BODY></html>",
		"css/site.css":        "body{color:red}",
		"app.js":              "1",
		"node_modules/x/a.js": "1",
		".git/HEAD":           "ref",
	})
	ts := start(t, Options{Dir: dir, Live: true, Debounce: 50 * time.Millisecond})

	// The script is injected into HTML, before </body>, and nowhere else.
	r := ts.get(t, "/")
	if !strings.Contains(r.body, "<p>v1</p><script>/* homeport live reload */") || !strings.HasSuffix(r.body, "</script></BODY></html>") {
		t.Errorf("GET / did not get the live script before </body>:\n%s", r.body)
	}
	if r := ts.get(t, "/app.js"); r.body != "1" {
		t.Errorf("GET /app.js = %q; script injected outside HTML", r.body)
	}
	if r := ts.get(t, "/css/"); !strings.Contains(r.body, "homeport live reload") {
		t.Errorf("listing lacks the live script")
	}

	s := subscribe(t, ts)

	// An edit of the page reloads it, and the page served next is the new one.
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<html><body><p>v2</p></body></html>"), 0o644)
	if ev := s.next(t); ev.name != "reload" || ev.data != `["/index.html"]` {
		t.Errorf("after editing index.html got %+v; want reload [\"/index.html\"]", ev)
	}
	if r := ts.get(t, "/"); !strings.Contains(r.body, "<p>v2</p>") {
		t.Errorf("GET / after edit = %q", r.body)
	}

	// A stylesheet is swapped, not reloaded.
	os.WriteFile(filepath.Join(dir, "css", "site.css"), []byte("body{color:blue}"), 0o644)
	if ev := s.next(t); ev.name != "css" || ev.data != `["/css/site.css"]` {
		t.Errorf("after editing site.css got %+v; want css [\"/css/site.css\"]", ev)
	}

	// An editor's atomic save (write a temp file, rename it over the
	// original) and changes in ignored folders make one event: the next
	// event after the burst is for the next, separate change.
	tmp := filepath.Join(dir, "app.js.tmp")
	os.WriteFile(tmp, []byte("2"), 0o644)
	os.WriteFile(filepath.Join(dir, "node_modules", "x", "a.js"), []byte("2"), 0o644)
	os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("ref2"), 0o644)
	os.Rename(tmp, filepath.Join(dir, "app.js"))
	ev := s.next(t)
	if ev.name != "reload" || ev.data != `["/app.js","/app.js.tmp"]` {
		t.Errorf("after an atomic save of app.js got %+v; want one reload for app.js", ev)
	}
	// A new folder is watched too.
	os.Mkdir(filepath.Join(dir, "new"), 0o755)
	if ev := s.next(t); ev.data != `["/new"]` {
		t.Errorf("after mkdir new got %+v; want [\"/new\"]", ev)
	}
	os.WriteFile(filepath.Join(dir, "new", "b.css"), []byte("x"), 0o644)
	if ev := s.next(t); ev.name != "css" || ev.data != `["/new/b.css"]` {
		t.Errorf("after writing new/b.css got %+v; want css [\"/new/b.css\"]", ev)
	}
}

func TestLiveShutdown(t *testing.T) {
	// Shutdown must not wait on open event streams.
	ts := start(t, Options{Dir: tree(t, map[string]string{"index.html": "x"}), Live: true})
	s := subscribe(t, ts)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ts.hs.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an open live stream: %v", err)
	}
	select {
	case _, ok := <-s.events:
		if ok {
			t.Fatal("unexpected event")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("live stream still open after Shutdown")
	}
}

func TestLiveHubDropsSlowSubscriber(t *testing.T) {
	var h hub
	slow, fast := h.subscribe(), h.subscribe()
	for i := 0; i < cap(slow)+1; i++ {
		h.publish(event{name: "reload"})
		<-fast
	}
	n := 0
	for range slow {
		n++
	}
	if n != cap(slow) {
		t.Errorf("slow subscriber got %d events before being dropped; want %d", n, cap(slow))
	}
	h.close()
	if _, ok := <-fast; ok {
		t.Error("fast subscriber still open after close")
	}
}

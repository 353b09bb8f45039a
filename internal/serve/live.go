package serve

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// livePath is where pages listen for reload events (Server-Sent Events). It
// is only routed with Options.Live.
const livePath = "/__homeport/live"

// liveScript is injected into HTML pages. On "reload" it reloads the page;
// on "css" it swaps the page's same-origin stylesheets whose path changed
// (all of them when none matches, as for an @import) without a reload. The
// EventSource reconnects by itself after a server restart.
const liveScript = `<script>/* homeport live reload */(()=>{const es=new EventSource("` + livePath + `");` +
	`es.addEventListener("reload",()=>location.reload());` +
	`es.addEventListener("css",e=>{const paths=JSON.parse(e.data);` +
	`const links=[...document.querySelectorAll('link[rel~="stylesheet"]')].filter(l=>new URL(l.href).origin===location.origin);` +
	`let hit=links.filter(l=>paths.includes(new URL(l.href).pathname));if(!hit.length)hit=links;` +
	`for(const l of hit){const u=new URL(l.href);u.searchParams.set("homeport",Date.now());` +
	`const n=l.cloneNode();n.href=u.href;n.onload=n.onerror=()=>l.remove();l.after(n);}});})();</script>`

// injectLive puts the live-reload script before the last </body>, or at
// the end when there is none.
func injectLive(body []byte) []byte {
	i := bytes.LastIndex(bytes.ToLower(body), []byte("</body>"))
	if i < 0 {
		i = len(body)
	}
	out := make([]byte, 0, len(body)+len(liveScript))
	out = append(out, body[:i]...)
	out = append(out, liveScript...)
	return append(out, body[i:]...)
}

// live is the watcher and the hub that fans its events out to pages.
type live struct {
	hub  *hub
	w    *fsnotify.Watcher
	done chan struct{}
	wg   sync.WaitGroup
}

// event is one Server-Sent Event.
type event struct{ name, data string }

// hub fans events out to subscribers. A subscriber that is not keeping up
// is dropped (its channel closed; the page reconnects), never waited for.
type hub struct {
	mu     sync.Mutex
	subs   map[chan event]struct{}
	closed bool
}

func (h *hub) subscribe() chan event {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan event, 8)
	if h.closed {
		close(ch)
		return ch
	}
	if h.subs == nil {
		h.subs = map[chan event]struct{}{}
	}
	h.subs[ch] = struct{}{}
	return ch
}

func (h *hub) unsubscribe(ch chan event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
}

func (h *hub) publish(ev event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// close ends every stream; later subscribers get a closed channel.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}

// startLive watches dir and every folder below it but .git, node_modules
// and (unless dotfiles) hidden ones.
func startLive(dir string, dotfiles bool, debounce time.Duration) (*live, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	l := &live{hub: &hub{}, w: w, done: make(chan struct{})}
	if err := l.addTree(dir, dotfiles); err != nil {
		w.Close()
		return nil, err
	}
	l.wg.Add(1)
	go l.run(dir, dotfiles, debounce)
	return l, nil
}

func ignoredName(name string, dotfiles bool) bool {
	return name == ".git" || name == "node_modules" ||
		(!dotfiles && strings.HasPrefix(name, ".")) ||
		strings.HasSuffix(name, "~") || strings.HasSuffix(name, ".swp") || strings.HasSuffix(name, ".swx")
}

func (l *live) addTree(dir string, dotfiles bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // a folder that vanished or cannot be read
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && ignoredName(d.Name(), dotfiles) {
			return filepath.SkipDir
		}
		if err := l.w.Add(p); err != nil && p == dir {
			return err
		}
		return nil
	})
}

// run collects changes until none has come for the debounce time — an
// editor's save (write to a temp file, rename over the original) is one
// burst — then publishes one event: "css" with the changed paths when only
// stylesheets changed, "reload" otherwise.
func (l *live) run(dir string, dotfiles bool, debounce time.Duration) {
	defer l.wg.Done()
	changed := map[string]bool{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-l.done:
			timer.Stop()
			return
		case ev, ok := <-l.w.Events:
			if !ok {
				return
			}
			rel, err := filepath.Rel(dir, ev.Name)
			if err != nil || rel == "." {
				continue
			}
			rel = filepath.ToSlash(rel)
			if slices.ContainsFunc(strings.Split(rel, "/"), func(seg string) bool { return ignoredName(seg, dotfiles) }) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					l.addTree(ev.Name, dotfiles)
				}
			}
			if ev.Op == fsnotify.Chmod {
				continue // touch-only changes (indexers, backup tools)
			}
			changed["/"+rel] = true
			timer.Reset(debounce)
		case <-l.w.Errors:
			// An overflowed queue loses events: reload to be safe.
			changed["/"] = true
			timer.Reset(debounce)
		case <-timer.C:
			if len(changed) == 0 {
				continue
			}
			paths := make([]string, 0, len(changed))
			css := true
			for p := range changed {
				paths = append(paths, p)
				css = css && strings.HasSuffix(strings.ToLower(p), ".css")
			}
			clear(changed)
			slices.Sort(paths)
			data, _ := json.Marshal(paths)
			name := "reload"
			if css {
				name = "css"
			}
			l.hub.publish(event{name: name, data: string(data)})
		}
	}
}

func (l *live) close() {
	select {
	case <-l.done:
		return
	default:
	}
	close(l.done)
	l.w.Close()
	l.wg.Wait()
	l.hub.close()
}

// serveEvents streams reload events to one page until it goes away or the
// server shuts down.
func (l *live) serveEvents(w http.ResponseWriter, r *http.Request) {
	ch := l.hub.subscribe()
	defer l.hub.unsubscribe(ch)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	w.Write([]byte("retry: 500\n: homeport live reload\n\n"))
	if rc.Flush() != nil {
		return
	}
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			w.Write([]byte("event: " + ev.name + "\ndata: " + ev.data + "\n\n"))
			if rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

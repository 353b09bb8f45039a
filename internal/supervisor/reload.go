package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fsnotify/fsnotify"

	"homeport/internal/project"
)

// reload reads the edited file and applies what changed: services whose
// port, run, env or dir changed restart (with those that refer to their
// port), new ones start, removed ones stop, the others run on. A broken
// file changes nothing.
func (s *supervisor) reload(ctx context.Context) {
	data, err := os.ReadFile(s.opts.Watch)
	if errors.Is(err, fs.ErrNotExist) {
		// An editor that saves by rename: the new file comes next.
		return
	}
	if err != nil {
		s.report(Event{Kind: EditRejected, Err: fmt.Errorf("reading %s: %w", s.opts.Watch, err)})
		return
	}
	if bytes.Equal(data, s.content) {
		return
	}
	s.content = data
	next, err := s.opts.Reload(ctx, s.plan, s.mine)
	if err == nil && len(s.opts.Names) > 0 {
		next, err = next.Select(s.opts.Names...)
	}
	if err != nil {
		s.report(Event{Kind: EditRejected, Err: err})
		return
	}
	changes := project.Diff(s.plan, next)
	s.report(Event{Kind: EditApplied, Changes: changes})
	s.plan = next
	for _, c := range changes {
		in := s.inst[c.Service]
		switch c.Kind {
		case project.ChangeStart:
			s.pending[c.Service] = true
		case project.ChangeStop:
			delete(s.pending, c.Service)
			switch {
			case in == nil:
			case in.done:
				delete(s.inst, c.Service)
			default:
				in.leaving, in.replace = true, nil
				in.cancel()
			}
		case project.ChangeRestart:
			svc, _ := next.Service(c.Service)
			switch {
			case in == nil:
				// Not started yet, or waiting to restart: it starts
				// as the new plan says.
			case in.done:
				delete(s.inst, c.Service)
				s.pending[c.Service] = true
			default:
				cp := *svc
				in.replace = &cp
				in.cancel()
			}
		}
	}
	s.startReady(ctx)
}

// fileWatch follows one file through its folder: editors save by writing
// a new file and renaming it over the old one.
type fileWatch struct {
	w       *fsnotify.Watcher
	path    string
	changed chan struct{}
}

func watchFile(path string, quit <-chan struct{}) (*fileWatch, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	fw := &fileWatch{w: w, path: abs, changed: make(chan struct{}, 1)}
	go func() {
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) != abs || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) {
					continue
				}
				select {
				case fw.changed <- struct{}{}:
				default:
				}
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
			case <-quit:
				return
			}
		}
	}()
	return fw, nil
}

func (fw *fileWatch) content() []byte {
	b, _ := os.ReadFile(fw.path)
	return b
}

func (fw *fileWatch) close() { fw.w.Close() }

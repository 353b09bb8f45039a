package serve

import (
	"context"
	"errors"
	"net"
	"net/http"

	"homeport/internal/ports"
)

// Running is a folder being served: what Start opened.
type Running struct {
	// Listening is where it listens: the port, the listeners, the hosts
	// absent here and the ports passed over (see ports.Listen).
	*ports.Listening

	srv  *Server
	hs   *HTTPServer
	errc chan error
}

// Start takes a port as ports.Listen does with lo (so a taken port is known,
// and named, before anything is served), opens the folder as New does with
// opts, and serves it on every listener until Shutdown or Close. Its errors
// are ports.Listen's (a *ports.PortError for a port that cannot be had) or
// New's.
func Start(ctx context.Context, opts Options, lo ports.ListenOptions) (*Running, error) {
	l, err := ports.Listen(ctx, lo)
	if err != nil {
		return nil, err
	}
	srv, err := New(opts)
	if err != nil {
		for _, ln := range l.Listeners {
			ln.Close()
		}
		return nil, err
	}
	r := &Running{Listening: l, srv: srv, hs: srv.HTTPServer(), errc: make(chan error, len(l.Listeners))}
	for _, ln := range l.Listeners {
		go func(ln net.Listener) {
			if err := r.hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				r.errc <- err
			}
		}(ln)
	}
	return r, nil
}

// Err receives an error that stopped serving on one of the listeners.
func (r *Running) Err() <-chan error { return r.errc }

// Shutdown stops accepting, lets the requests in flight finish until ctx
// ends (HTTPServer.Shutdown), and closes the folder.
func (r *Running) Shutdown(ctx context.Context) error {
	err := r.hs.Shutdown(ctx)
	if err != nil {
		r.hs.Close()
	}
	r.srv.Close()
	return err
}

// Close stops serving at once and closes the folder.
func (r *Running) Close() error {
	err := r.hs.Close()
	r.srv.Close()
	return err
}

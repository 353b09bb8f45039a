package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"homeport/internal/dashboard"
	"homeport/internal/metrics"
	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/router"
)

// Options configure Run.
type Options struct {
	// Port on 127.0.0.1 and [::1]; DefaultPort when zero.
	Port int
	// Interval between inventories; one second when zero.
	Interval time.Duration
	// MetricsAddr, when set, also serves /metrics alone there (host:port),
	// with MetricsToken as its bearer token when not empty.
	MetricsAddr  string
	MetricsToken string
	// Version is homeport's version.
	Version string
	// Kill replaces the kill engine the API calls (tests).
	Kill dashboard.KillFunc
	// Ready is called once the daemon listens, with its login URL.
	Ready func(Ready)
	// Warn receives warnings meant for the user (a metrics address on
	// the network).
	Warn func(string)
	// RouteTimeout is how long an app behind NAME.localhost may take to
	// answer before the client gets 504; router.DefaultTimeout when zero.
	RouteTimeout time.Duration
}

// Ready describes a daemon that has started.
type Ready struct {
	State    State
	LoginURL string   // the dashboard with a one-time login code
	Addrs    []string // where it listens
	Metrics  string   // the separate metrics address, if any
}

// RunningError says a daemon of this user already runs.
type RunningError struct{ State State }

func (e *RunningError) Error() string {
	return fmt.Sprintf("homeport is already running at %s (pid %d)", e.State.Address, e.State.PID)
}

// PortHeldError says the daemon's port is held by something else.
type PortHeldError struct {
	Port    int
	Holders []Holder // empty when the holder could not be seen
	Err     error
}

// Holder is a process holding the port.
type Holder struct {
	PID  int
	Name string
}

func (e *PortHeldError) Error() string {
	if len(e.Holders) == 0 {
		return fmt.Sprintf("port %d is taken (%v)", e.Port, e.Err)
	}
	var names []string
	for _, h := range e.Holders {
		names = append(names, fmt.Sprintf("%s (pid %d)", h.Name, h.PID))
	}
	return fmt.Sprintf("port %d is held by %s", e.Port, strings.Join(names, ", "))
}

func (e *PortHeldError) Unwrap() error { return e.Err }

// Run starts the daemon and serves until ctx ends, then stops gracefully
// (open event streams are closed, requests in flight finish) and returns
// nil. It returns a *RunningError when this user's daemon already runs,
// and a *PortHeldError when something else holds the port: the daemon
// never moves to another port, as every NAME.localhost URL names it.
func Run(ctx context.Context, opts Options) error {
	if opts.Port == 0 {
		opts.Port = DefaultPort
	}
	dir, err := Dir()
	if err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "daemon.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening the daemon lock: %w", err)
	}
	defer lock.Close()
	// One daemon per user. Where the OS has no file locks, the port
	// itself keeps a second daemon out.
	if err := ports.TryLock(lock); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		if errors.Is(err, ports.ErrLocked) {
			if st, ferr := Find(ctx); ferr == nil {
				return &RunningError{State: *st}
			}
			if st, _ := readState(dir); st != nil {
				return &RunningError{State: *st}
			}
			return &RunningError{}
		}
		return fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	token, err := Token(dir)
	if err != nil {
		return err
	}

	// Listen first, so that a taken port is reported now, with its holder.
	lns, err := listen(ctx, opts.Port)
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if opts.MetricsAddr != "" {
		metricsLn, err = net.Listen("tcp", opts.MetricsAddr)
		if err != nil {
			closeAll(lns)
			return fmt.Errorf("listening for metrics on %s: %w", opts.MetricsAddr, err)
		}
	}

	if opts.Kill == nil {
		opts.Kill = kill
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := State{
		PID:     os.Getpid(),
		Address: "http://127.0.0.1:" + strconv.Itoa(opts.Port) + "/",
		Port:    opts.Port,
		Since:   time.Now().UTC().Truncate(time.Second),
		Version: opts.Version,
	}
	// The routes from `homeport route add` are kept beside the token and
	// last across restarts.
	routes, err := router.OpenTable(filepath.Join(dir, "routes.json"))
	if err != nil {
		closeAll(lns)
		return err
	}
	routeMetrics := router.NewMetrics()
	rt := router.New(routes, router.Options{Timeout: opts.RouteTimeout, Observer: routeMetrics})
	rt.SetSelfPort(opts.Port)
	defer rt.Close()
	srv := dashboard.New(dashboard.Options{
		Token:      token,
		Port:       opts.Port,
		Interval:   opts.Interval,
		Version:    opts.Version,
		PID:        st.PID,
		Since:      st.Since,
		Kill:       opts.Kill,
		Shutdown:   cancel,
		Router:     rt,
		RouteAPI:   &router.API{Table: routes, Metrics: routeMetrics},
		Collectors: []metrics.Collector{routeMetrics},
	})
	if err := writeState(dir, &st); err != nil {
		closeAll(lns)
		return err
	}
	defer func() {
		// Only our own state: a daemon started after us has its own.
		if cur, _ := readState(dir); cur != nil && cur.PID == st.PID {
			os.Remove(statePath(dir))
		}
	}()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	go func() { defer wg.Done(); dropOrphanRoutes(ctx, routes, opts.Interval) }()

	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	for _, ln := range lns {
		go hs.Serve(ln)
	}
	var ms *http.Server
	if metricsLn != nil {
		ms = &http.Server{Handler: srv.MetricsHandler(opts.MetricsToken), ReadHeaderTimeout: 10 * time.Second}
		go ms.Serve(metricsLn)
		if a, ok := metricsLn.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() && opts.Warn != nil {
			how := "with a bearer token"
			if opts.MetricsToken == "" {
				how = "WITHOUT a token: anyone who reaches it reads what listens here (add --metrics-token)"
			}
			opts.Warn(fmt.Sprintf("/metrics is served on %s, reachable from the network, %s", metricsLn.Addr(), how))
		}
	}
	if opts.Ready != nil {
		r := Ready{State: st, LoginURL: srv.LoginURL(srv.LoginCode())}
		for _, ln := range lns {
			r.Addrs = append(r.Addrs, ln.Addr().String())
		}
		if metricsLn != nil {
			r.Metrics = metricsLn.Addr().String()
		}
		opts.Ready(r)
	}

	<-ctx.Done()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	// Event streams end when the hub closes (srv.Run returns on ctx).
	wg.Wait()
	_ = hs.Shutdown(sctx)
	if ms != nil {
		_ = ms.Shutdown(sctx)
	}
	return nil
}

// dropOrphanRoutes removes, every interval until ctx ends, the routes of
// `homeport run` whose process is gone: a run that was SIGKILLed, or died
// with its terminal, cannot remove its own route, and a dead app's name
// would otherwise answer 502 until the daemon restarts.
func dropOrphanRoutes(ctx context.Context, t *router.Table, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.RemoveFunc(func(r router.Route) bool {
				if r.Kind != router.KindRun {
					return false
				}
				_, err := procs.Get(r.PID)
				return errors.Is(err, procs.ErrGone)
			})
		}
	}
}

// listen opens 127.0.0.1:port and [::1]:port through the port policy that
// serve shares (ports.Listen), without moving: a machine without IPv6
// loopback gets the IPv4 one alone, and a port in use is a *PortHeldError
// naming its holders.
func listen(ctx context.Context, port int) ([]net.Listener, error) {
	l, err := ports.Listen(ctx, ports.ListenOptions{Port: port})
	var pe *ports.PortError
	switch {
	case errors.As(err, &pe) && pe.Kind == ports.Held:
		hs := make([]Holder, len(pe.Owners))
		for i, o := range pe.Owners {
			hs[i] = Holder{PID: o.PID, Name: o.Name}
		}
		return nil, &PortHeldError{Port: port, Holders: hs, Err: err}
	case err != nil:
		return nil, fmt.Errorf("listening on port %d: %w", port, err)
	}
	return l.Listeners, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

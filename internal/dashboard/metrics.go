package dashboard

import (
	"crypto/subtle"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"homeport/internal/metrics"
	"homeport/internal/sockets"
	"homeport/internal/watch"
)

// daemonMetrics is the daemon's own registry (nothing is built at package
// init, so commands other than `up` pay nothing for it). Labels are
// bounded: ports, protocols, addresses, exposures and process names, never
// pids, users or command lines.
type daemonMetrics struct {
	reg        *metrics.Registry
	polls      *metrics.Counter
	pollErrors *metrics.Counter
	events     *metrics.CounterVec
	kills      *metrics.CounterVec
	pollTime   *metrics.Histogram
}

func newMetrics(s *Server) *daemonMetrics {
	m := &daemonMetrics{reg: metrics.NewRegistry()}
	m.polls = metrics.NewCounter("homeport_polls_total", "Socket inventories the watcher took.")
	m.pollErrors = metrics.NewCounter("homeport_poll_errors_total", "Socket inventories that failed.")
	m.events = metrics.NewCounterVec("homeport_socket_events_total",
		"Sockets seen opening, closing or changing owner, by kind.", "kind")
	for _, k := range []watch.Kind{watch.Opened, watch.Closed, watch.Changed} {
		m.events.WithLabelValues(k.String())
	}
	m.kills = metrics.NewCounterVec("homeport_kills_total",
		"Kill requests answered through the API, by result.", "result")
	m.pollTime = metrics.NewHistogram("homeport_poll_duration_seconds",
		"Time one socket inventory of the watcher took.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1})
	buildInfo := metrics.NewDesc("homeport_build_info",
		"homeport's version and the Go version it was built with; always 1.",
		metrics.GaugeType, "version", "goversion")
	m.reg.Register(s.opts.Collectors...)
	m.reg.Register(m.polls, m.pollErrors, m.events, m.kills, m.pollTime,
		metrics.CollectFunc(func(b *metrics.Batch) { b.Sample(buildInfo, 1, s.opts.Version, runtime.Version()) }),
		newInventoryCollector(s),
		metrics.NewGoCollector(),
		metrics.NewProcessCollector())
	return m
}

func (m *daemonMetrics) observe(u watch.Update) {
	m.polls.Inc()
	m.pollTime.Observe(u.Took.Seconds())
	for i := range u.Events {
		m.events.WithLabelValues(u.Events[i].Kind.String()).Inc()
	}
}

func (m *daemonMetrics) handler() http.Handler { return m.reg.Handler() }

// MetricsHandler serves /metrics alone, for --metrics-addr: a bearer token
// when token is not empty, and no other route.
func (s *Server) MetricsHandler(token string) http.Handler {
	h := s.metrics.handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secureHeaders(w.Header())
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if token != "" && !bearer(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="homeport"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bearer reports whether r carries "Authorization: Bearer token".
func bearer(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}

// inventoryCollector reports the watcher's last snapshot at each scrape.
type inventoryCollector struct {
	s                                 *Server
	listeners, info, scrape, lastPoll *metrics.Desc
}

func newInventoryCollector(s *Server) *inventoryCollector {
	return &inventoryCollector{
		s: s,
		listeners: metrics.NewDesc("homeport_listeners",
			"Listening sockets by protocol, address family (ipv4, ipv6, dual) and exposure.",
			metrics.GaugeType, "proto", "family", "exposure"),
		info: metrics.NewDesc("homeport_listener_info",
			"One series per listening socket; always 1.",
			metrics.GaugeType, "port", "proto", "address", "exposure", "process"),
		scrape: metrics.NewDesc("homeport_scrape_duration_seconds",
			"Time this scrape took to describe the inventory.", metrics.GaugeType),
		lastPoll: metrics.NewDesc("homeport_last_poll_timestamp_seconds",
			"When the watcher last took the inventory, in seconds since the Unix epoch.", metrics.GaugeType),
	}
}

func (c *inventoryCollector) Collect(b *metrics.Batch) {
	start := time.Now()
	u, ok := c.s.hub.Last()
	if ok {
		type group struct{ proto, family, exposure string }
		counts := map[group]int{}
		seen := map[[5]string]bool{}
		for i := range u.Snapshot {
			s := &u.Snapshot[i]
			fam := "ipv4"
			if s.Local.Addr().Is6() && !s.Local.Addr().Is4In6() {
				fam = "ipv6"
				if s.DualStack() {
					fam = "dual"
				}
			}
			exp := exposureLabel(s)
			counts[group{string(s.Proto), fam, exp}]++
			proc := ""
			if len(s.Owners) > 0 {
				proc = s.Owners[0].Name
			}
			// Listeners sharing a port, protocol and address (SO_REUSEPORT
			// workers) are one series.
			lv := [5]string{strconv.Itoa(int(s.Port())), string(s.Proto), s.Local.Addr().String(), exp, proc}
			if seen[lv] {
				continue
			}
			seen[lv] = true
			b.Sample(c.info, 1, lv[:]...)
		}
		for g, n := range counts {
			b.Sample(c.listeners, float64(n), g.proto, g.family, g.exposure)
		}
		b.Sample(c.lastPoll, float64(u.At.UnixNano())/1e9)
	}
	b.Sample(c.scrape, time.Since(start).Seconds())
}

// exposureLabel is the exposure as a label value: loopback, address or
// all_interfaces.
func exposureLabel(s *sockets.Socket) string {
	switch s.Exposure() {
	case sockets.Loopback:
		return "loopback"
	case sockets.AllInterfaces:
		return "all_interfaces"
	}
	return "address"
}

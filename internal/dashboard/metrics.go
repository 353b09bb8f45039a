package dashboard

import (
	"crypto/subtle"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"homeport/internal/sockets"
	"homeport/internal/watch"
)

// metrics is the daemon's own Prometheus registry (never the global one:
// nothing is built at package init, so commands other than `up` pay
// nothing for it). Labels are bounded: ports, protocols, addresses,
// exposures and process names, never pids, users or command lines.
type metrics struct {
	reg        *prometheus.Registry
	polls      prometheus.Counter
	pollErrors prometheus.Counter
	events     *prometheus.CounterVec
	kills      *prometheus.CounterVec
	pollTime   prometheus.Histogram
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.polls = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "homeport_polls_total", Help: "Socket inventories the watcher took.",
	})
	m.pollErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "homeport_poll_errors_total", Help: "Socket inventories that failed.",
	})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "homeport_socket_events_total", Help: "Sockets seen opening, closing or changing owner, by kind.",
	}, []string{"kind"})
	for _, k := range []watch.Kind{watch.Opened, watch.Closed, watch.Changed} {
		m.events.WithLabelValues(k.String())
	}
	m.kills = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "homeport_kills_total", Help: "Kill requests answered through the API, by result.",
	}, []string{"result"})
	m.pollTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "homeport_poll_duration_seconds",
		Help:    "Time one socket inventory of the watcher took.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	})
	bi := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "homeport_build_info",
		Help:        "homeport's version and the Go version it was built with; always 1.",
		ConstLabels: prometheus.Labels{"version": s.opts.Version, "goversion": runtime.Version()},
	})
	bi.Set(1)
	m.reg.MustRegister(s.opts.Collectors...)
	m.reg.MustRegister(m.polls, m.pollErrors, m.events, m.kills, m.pollTime, bi,
		newInventoryCollector(s),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(u watch.Update) {
	m.polls.Inc()
	m.pollTime.Observe(u.Took.Seconds())
	for i := range u.Events {
		m.events.WithLabelValues(u.Events[i].Kind.String()).Inc()
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

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
	listeners, info, scrape, lastPoll *prometheus.Desc
}

func newInventoryCollector(s *Server) *inventoryCollector {
	return &inventoryCollector{
		s: s,
		listeners: prometheus.NewDesc("homeport_listeners",
			"Listening sockets by protocol, address family (ipv4, ipv6, dual) and exposure.",
			[]string{"proto", "family", "exposure"}, nil),
		info: prometheus.NewDesc("homeport_listener_info",
			"One series per listening socket; always 1.",
			[]string{"port", "proto", "address", "exposure", "process"}, nil),
		scrape: prometheus.NewDesc("homeport_scrape_duration_seconds",
			"Time this scrape took to describe the inventory.", nil, nil),
		lastPoll: prometheus.NewDesc("homeport_last_poll_timestamp_seconds",
			"When the watcher last took the inventory, in seconds since the Unix epoch.", nil, nil),
	}
}

func (c *inventoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.listeners
	ch <- c.info
	ch <- c.scrape
	ch <- c.lastPoll
}

func (c *inventoryCollector) Collect(ch chan<- prometheus.Metric) {
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
			ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, lv[:]...)
		}
		for g, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.listeners, prometheus.GaugeValue, float64(n), g.proto, g.family, g.exposure)
		}
		ch <- prometheus.MustNewConstMetric(c.lastPoll, prometheus.GaugeValue, float64(u.At.UnixNano())/1e9)
	}
	ch <- prometheus.MustNewConstMetric(c.scrape, prometheus.GaugeValue, time.Since(start).Seconds())
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

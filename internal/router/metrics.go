package router

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Observer is told of every request for a NAME.localhost host once it is
// answered: the route's name (unknownRoute "_unknown" when no route matched),
// the status sent (499 when the client left before any), and the time until
// the response head was written. For a stream (SSE, WebSocket) that is the
// time to its start, not its length.
type Observer interface {
	ObserveRequest(route string, status int, head time.Duration)
}

// Metrics counts the router's requests by route and status and keeps a
// histogram of their latency, for the daemon's /metrics. It is a
// prometheus.Collector: the daemon registers it in its own registry
// (registry.MustRegister(m)); nothing is registered globally.
//
//	homeport_router_requests_total{route,code}
//	homeport_router_request_duration_seconds{route}
//
// Route names are bounded by what the user added; requests for unknown
// names share one label value, "_unknown".
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics returns the router's collectors, not yet registered anywhere.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "homeport_router_requests_total",
			Help: "Requests for NAME.localhost answered by the router, by route and HTTP status (499: the client left first).",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "homeport_router_request_duration_seconds",
			Help: "Time from a request's arrival at the router to its response head, by route.",
			// Loopback backends answer in well under a millisecond; dev
			// servers compiling on first request take seconds.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
	}
}

// ObserveRequest implements Observer.
func (m *Metrics) ObserveRequest(route string, status int, head time.Duration) {
	m.requests.WithLabelValues(route, codeLabel(status)).Inc()
	m.latency.WithLabelValues(route).Observe(head.Seconds())
}

// Forget drops the series of a route that was removed, so /metrics does not
// keep listing it.
func (m *Metrics) Forget(route string) {
	m.requests.DeletePartialMatch(prometheus.Labels{"route": route})
	m.latency.DeleteLabelValues(route)
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.latency.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.latency.Collect(ch)
}

// codeLabel avoids formatting the common statuses on every request.
func codeLabel(status int) string {
	switch status {
	case 200:
		return "200"
	case 101:
		return "101"
	case 204:
		return "204"
	case 304:
		return "304"
	case 404:
		return "404"
	case 502:
		return "502"
	}
	return strconv.Itoa(status)
}

var (
	_ Observer             = (*Metrics)(nil)
	_ prometheus.Collector = (*Metrics)(nil)
)

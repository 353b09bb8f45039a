package router

import (
	"strconv"
	"time"

	"homeport/internal/metrics"
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
// metrics.Collector: the daemon registers it in its own registry;
// nothing is registered globally.
//
//	homeport_router_requests_total{route,code}
//	homeport_router_request_duration_seconds{route}
//
// Route names are bounded by what the user added; requests for unknown
// names share one label value, "_unknown".
type Metrics struct {
	requests *metrics.CounterVec
	latency  *metrics.HistogramVec
}

// NewMetrics returns the router's collectors, not yet registered anywhere.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: metrics.NewCounterVec("homeport_router_requests_total",
			"Requests for NAME.localhost answered by the router, by route and HTTP status (499: the client left first).",
			"route", "code"),
		latency: metrics.NewHistogramVec("homeport_router_request_duration_seconds",
			"Time from a request's arrival at the router to its response head, by route.",
			// Loopback backends answer in well under a millisecond; dev
			// servers compiling on first request take seconds.
			[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
			"route"),
	}
}

// ObserveRequest implements Observer.
func (m *Metrics) ObserveRequest(route string, status int, head time.Duration) {
	m.requests.WithLabelValues(route, codeLabel(status)).Inc()
	m.latency.Observe(head.Seconds(), route)
}

// Forget drops the series of a route that was removed, so /metrics does not
// keep listing it.
func (m *Metrics) Forget(route string) {
	m.requests.DeleteMatching("route", route)
	m.latency.DeleteMatching("route", route)
}

// Collect implements metrics.Collector.
func (m *Metrics) Collect(b *metrics.Batch) {
	m.requests.Collect(b)
	m.latency.Collect(b)
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
	_ Observer          = (*Metrics)(nil)
	_ metrics.Collector = (*Metrics)(nil)
)

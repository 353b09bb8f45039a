// Package metrics writes the daemon's /metrics in Prometheus' text
// exposition format (version 0.0.4): counters, gauges, histograms and
// summaries, with their labels, sorted the way Prometheus' own client
// sorts them.
//
// It exists instead of github.com/prometheus/client_golang because that
// library is paid for by every command, not only by the daemon: linking it
// runs the initialisation of about 25 packages (its default registry and
// collectors, procfs, protobuf, expvar) before main, 1.1–1.3 ms on a 2-core
// machine where a whole Go hello-world starts in 1.4–1.8 ms. `homeport
// ports` and `homeport version` must start in a few milliseconds; the
// format itself is a few hundred lines.
//
// Values are updated with sync/atomic, so counting on a hot path (the
// router's requests) costs no lock; a scrape reads them while they move,
// and a histogram's _count is the sum of its buckets as read, so the two
// always agree.
package metrics

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// ContentType is what the handler answers with: the text format 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Type is a metric family's TYPE.
type Type uint8

const (
	CounterType Type = iota
	GaugeType
	HistogramType
	SummaryType
)

func (t Type) String() string {
	switch t {
	case CounterType:
		return "counter"
	case GaugeType:
		return "gauge"
	case HistogramType:
		return "histogram"
	case SummaryType:
		return "summary"
	}
	return "untyped"
}

// Desc describes a family: its name, help text, type and label names.
// Constant labels (build_info's version) are label names whose values
// every sample repeats.
type Desc struct {
	name   string
	help   string
	typ    Type
	labels []string
	// order lists the label indexes sorted by label name: Prometheus'
	// clients write a sample's labels in that order, and sort samples by
	// their values in it.
	order []int
}

// NewDesc returns a family's description. It panics on a name or label
// name Prometheus would reject: those are the program's mistakes, found by
// the first test that scrapes.
func NewDesc(name, help string, typ Type, labels ...string) *Desc {
	if !validName(name, true) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	order := make([]int, len(labels))
	for i, l := range labels {
		if !validName(l, false) || strings.HasPrefix(l, "__") {
			panic(fmt.Sprintf("metrics: %s: invalid label name %q", name, l))
		}
		if (typ == HistogramType && l == "le") || (typ == SummaryType && l == "quantile") {
			panic(fmt.Sprintf("metrics: %s: label %q is reserved for its type", name, l))
		}
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return labels[order[a]] < labels[order[b]] })
	for i := 1; i < len(order); i++ {
		if labels[order[i]] == labels[order[i-1]] {
			panic(fmt.Sprintf("metrics: %s: label %q twice", name, labels[order[i]]))
		}
	}
	return &Desc{name: name, help: help, typ: typ, labels: labels, order: order}
}

// Name is the family's name.
func (d *Desc) Name() string { return d.name }

// validName reports whether s is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)
// or, without colons, a label name.
func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(colon && c == ':') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// Collector adds its samples to a scrape.
type Collector interface {
	Collect(b *Batch)
}

// CollectFunc is a Collector that computes its samples at each scrape.
type CollectFunc func(b *Batch)

// Collect implements Collector.
func (f CollectFunc) Collect(b *Batch) { f(b) }

// Batch gathers the samples of one scrape.
type Batch struct {
	families map[string]*family
	err      error
}

type family struct {
	desc   *Desc
	series []series
}

// series is one label set of a family: a value, or a histogram's or a
// summary's parts. It is kept small: a scrape sorts 10,000 of them at
// 10,000 listeners.
type series struct {
	values []string // label values, in the Desc's order
	value  float64
	*parts
}

// parts are a histogram's upper bounds and cumulative counts (without
// +Inf, whose count is count), or a summary's quantiles and their values.
type parts struct {
	bounds []float64
	counts []float64
	sum    float64
	count  float64
}

func (b *Batch) family(d *Desc, values []string) *family {
	if len(values) != len(d.labels) {
		panic(fmt.Sprintf("metrics: %s: %d label values for %d labels", d.name, len(values), len(d.labels)))
	}
	f := b.families[d.name]
	if f == nil {
		f = &family{desc: d}
		b.families[d.name] = f
	} else if f.desc != d && (f.desc.typ != d.typ || f.desc.help != d.help || !slices.Equal(f.desc.labels, d.labels)) {
		b.fail(fmt.Errorf("%s is collected twice with different descriptions", d.name))
	}
	return f
}

func (b *Batch) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Sample adds one sample of a counter or a gauge.
func (b *Batch) Sample(d *Desc, v float64, labelValues ...string) {
	if d.typ != CounterType && d.typ != GaugeType {
		panic(fmt.Sprintf("metrics: %s is a %s, not a counter or gauge", d.name, d.typ))
	}
	f := b.family(d, labelValues)
	f.series = append(f.series, series{values: labelValues, value: v})
}

// Histogram adds one histogram: its upper bounds (ascending, without
// +Inf), the cumulative count of observations at or below each, the
// count of all observations and their sum.
func (b *Batch) Histogram(d *Desc, bounds []float64, cumulative []uint64, count uint64, sum float64, labelValues ...string) {
	if d.typ != HistogramType || len(bounds) != len(cumulative) {
		panic(fmt.Sprintf("metrics: %s: not a histogram, or %d bounds for %d counts", d.name, len(bounds), len(cumulative)))
	}
	counts := make([]float64, len(cumulative))
	for i, c := range cumulative {
		counts[i] = float64(c)
	}
	f := b.family(d, labelValues)
	f.series = append(f.series, series{values: labelValues, parts: &parts{bounds: bounds, counts: counts, sum: sum, count: float64(count)}})
}

// Summary adds one summary: quantiles (0 to 1) and their values, the
// count of observations and their sum.
func (b *Batch) Summary(d *Desc, quantiles, values []float64, count uint64, sum float64, labelValues ...string) {
	if d.typ != SummaryType || len(quantiles) != len(values) {
		panic(fmt.Sprintf("metrics: %s: not a summary, or %d quantiles for %d values", d.name, len(quantiles), len(values)))
	}
	f := b.family(d, labelValues)
	f.series = append(f.series, series{values: labelValues, parts: &parts{bounds: quantiles, counts: values, sum: sum, count: float64(count)}})
}

// Registry is a set of collectors served together. The zero value is not
// usable; call NewRegistry.
type Registry struct {
	mu         sync.Mutex
	collectors []Collector
	// handlerErrors counts scrapes that failed, by cause (gathering,
	// encoding), as Prometheus' own handler does.
	handlerErrors *CounterVec
}

// NewRegistry returns a registry that already holds
// promhttp_metric_handler_errors_total.
func NewRegistry() *Registry {
	r := &Registry{handlerErrors: NewCounterVec("promhttp_metric_handler_errors_total",
		"Total number of internal errors encountered by the promhttp metric handler.", "cause")}
	r.handlerErrors.WithLabelValues("encoding")
	r.handlerErrors.WithLabelValues("gathering")
	r.collectors = append(r.collectors, r.handlerErrors)
	return r
}

// Register adds collectors to what the registry serves.
func (r *Registry) Register(cs ...Collector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, cs...)
}

// WriteTo collects every collector and writes the exposition to w:
// families sorted by name, samples by their label values. An error from
// a collector (a family described twice, a label set twice) is returned
// before anything is written.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	b := &Batch{families: map[string]*family{}}
	for _, c := range cs {
		c.Collect(b)
	}
	if b.err != nil {
		return 0, b.err
	}
	names := make([]string, 0, len(b.families))
	for n := range b.families {
		names = append(names, n)
	}
	slices.Sort(names)
	buf := make([]byte, 0, 4096)
	var total int64
	for _, n := range names {
		f := b.families[n]
		d := f.desc
		slices.SortFunc(f.series, func(x, y series) int {
			for _, i := range d.order {
				if c := strings.Compare(x.values[i], y.values[i]); c != 0 {
					return c
				}
			}
			return 0
		})
		for i := 1; i < len(f.series); i++ {
			if slices.Equal(f.series[i].values, f.series[i-1].values) {
				return total, fmt.Errorf("%s%s is collected twice", n, labelText(nil, d, f.series[i].values, "", ""))
			}
		}
		buf = appendFamily(buf[:0], f)
		m, err := w.Write(buf)
		total += int64(m)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func appendFamily(buf []byte, f *family) []byte {
	d := f.desc
	buf = append(buf, "# HELP "...)
	buf = append(buf, d.name...)
	buf = append(buf, ' ')
	buf = appendEscaped(buf, d.help, false)
	buf = append(buf, "\n# TYPE "...)
	buf = append(buf, d.name...)
	buf = append(buf, ' ')
	buf = append(buf, d.typ.String()...)
	buf = append(buf, '\n')
	for _, s := range f.series {
		switch d.typ {
		case HistogramType:
			for i, le := range s.bounds {
				buf = appendSample(buf, d, "_bucket", s.values, "le", FormatFloat(le), s.counts[i])
			}
			buf = appendSample(buf, d, "_bucket", s.values, "le", "+Inf", s.count)
			buf = appendSample(buf, d, "_sum", s.values, "", "", s.sum)
			buf = appendSample(buf, d, "_count", s.values, "", "", s.count)
		case SummaryType:
			for i, q := range s.bounds {
				buf = appendSample(buf, d, "", s.values, "quantile", FormatFloat(q), s.counts[i])
			}
			buf = appendSample(buf, d, "_sum", s.values, "", "", s.sum)
			buf = appendSample(buf, d, "_count", s.values, "", "", s.count)
		default:
			buf = appendSample(buf, d, "", s.values, "", "", s.value)
		}
	}
	return buf
}

func appendSample(buf []byte, d *Desc, suffix string, values []string, extra, extraValue string, v float64) []byte {
	buf = append(buf, d.name...)
	buf = append(buf, suffix...)
	buf = appendLabels(buf, d, values, extra, extraValue)
	buf = append(buf, ' ')
	buf = append(buf, FormatFloat(v)...)
	return append(buf, '\n')
}

// appendLabels writes {name="value",...} in label name order, the extra
// label (le, quantile) last, or nothing when there are no labels.
func appendLabels(buf []byte, d *Desc, values []string, extra, extraValue string) []byte {
	if len(d.order) == 0 && extra == "" {
		return buf
	}
	buf = append(buf, '{')
	for n, i := range d.order {
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, d.labels[i]...)
		buf = append(buf, `="`...)
		buf = appendEscaped(buf, values[i], true)
		buf = append(buf, '"')
	}
	if extra != "" {
		if len(d.order) > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, extra...)
		buf = append(buf, `="`...)
		buf = append(buf, extraValue...)
		buf = append(buf, '"')
	}
	return append(buf, '}')
}

func labelText(buf []byte, d *Desc, values []string, extra, extraValue string) string {
	return string(appendLabels(buf, d, values, extra, extraValue))
}

// appendEscaped escapes a backslash and a newline (help text and label
// values) and a double quote (label values only), and replaces invalid
// UTF-8, which Prometheus rejects, with U+FFFD: a process name read from
// the system can hold any byte.
func appendEscaped(buf []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			buf = append(buf, `\\`...)
		case c == '\n':
			buf = append(buf, `\n`...)
		case c == '"' && quote:
			buf = append(buf, `\"`...)
		case c < utf8.RuneSelf:
			buf = append(buf, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return buf
}

// FormatFloat formats v as Prometheus' clients do: the shortest decimal
// that reads back as v, and +Inf, -Inf and NaN.
func FormatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Handler serves the registry's exposition, gzipped when the client
// accepts it (Prometheus does). A failed collection answers 500 and counts
// in promhttp_metric_handler_errors_total{cause="gathering"}.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body bytes.Buffer
		if _, err := r.WriteTo(&body); err != nil {
			r.handlerErrors.WithLabelValues("gathering").Inc()
			http.Error(w, "error gathering metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ContentType)
		h.Add("Vary", "Accept-Encoding")
		var out io.Writer = w
		if acceptsGzip(req.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			defer gz.Close()
			out = gz
		} else {
			h.Set("Content-Length", strconv.Itoa(body.Len()))
		}
		if _, err := body.WriteTo(out); err != nil {
			r.handlerErrors.WithLabelValues("encoding").Inc()
		}
	})
}

// acceptsGzip reports whether an Accept-Encoding header names gzip
// without q=0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		enc, params, _ := strings.Cut(part, ";")
		if strings.TrimSpace(enc) != "gzip" {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !ok {
			return true
		}
		f, err := strconv.ParseFloat(q, 64)
		return err == nil && f > 0
	}
	return false
}

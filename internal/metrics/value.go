package metrics

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Counter is a count that only goes up. Its methods are safe for
// concurrent use.
type Counter struct {
	desc *Desc // nil for a CounterVec's member
	n    atomic.Uint64
}

// NewCounter returns a counter without labels.
func NewCounter(name, help string) *Counter {
	return &Counter{desc: NewDesc(name, help, CounterType)}
}

// Inc adds one.
func (c *Counter) Inc() { c.n.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.n.Add(n) }

// Value is the count so far.
func (c *Counter) Value() uint64 { return c.n.Load() }

// Collect implements Collector.
func (c *Counter) Collect(b *Batch) { b.Sample(c.desc, float64(c.n.Load())) }

// Gauge is a value that goes up and down. Its methods are safe for
// concurrent use.
type Gauge struct {
	desc *Desc
	bits atomic.Uint64
}

// NewGauge returns a gauge without labels.
func NewGauge(name, help string) *Gauge {
	return &Gauge{desc: NewDesc(name, help, GaugeType)}
}

// Set sets the value.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Add adds v (which may be negative).
func (g *Gauge) Add(v float64) { addFloat(&g.bits, v) }

// Value is the current value.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }

// Collect implements Collector.
func (g *Gauge) Collect(b *Batch) { b.Sample(g.desc, g.Value()) }

func addFloat(bits *atomic.Uint64, v float64) {
	for {
		old := bits.Load()
		if bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Histogram counts observations in buckets. Its methods are safe for
// concurrent use.
type Histogram struct {
	desc   *Desc
	bounds []float64
	h      *histogram
}

// histogram is one label set's buckets: counts[i] holds the observations
// in (bounds[i-1], bounds[i]], the last one those above every bound.
type histogram struct {
	bounds []float64
	counts []atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	// The first bound at or above v; NaN lands above them all, as in
	// Prometheus' client.
	i := len(h.bounds)
	if !math.IsNaN(v) {
		i, _ = slices.BinarySearch(h.bounds, v)
	}
	h.counts[i].Add(1)
	addFloat(&h.sum, v)
}

func (h *histogram) collect(b *Batch, d *Desc, labelValues ...string) {
	cum := make([]uint64, len(h.bounds))
	var n uint64
	for i := range h.bounds {
		n += h.counts[i].Load()
		cum[i] = n
	}
	n += h.counts[len(h.bounds)].Load()
	b.Histogram(d, h.bounds, cum, n, math.Float64frombits(h.sum.Load()), labelValues...)
}

// NewHistogram returns a histogram without labels with these upper bounds
// (ascending; +Inf is implied).
func NewHistogram(name, help string, bounds []float64) *Histogram {
	checkBounds(name, bounds)
	return &Histogram{desc: NewDesc(name, help, HistogramType), bounds: bounds, h: newHistogram(bounds)}
}

func checkBounds(name string, bounds []float64) {
	for i, b := range bounds {
		if math.IsNaN(b) || math.IsInf(b, 0) || (i > 0 && b <= bounds[i-1]) {
			panic("metrics: " + name + ": bucket bounds must be finite and ascending")
		}
	}
}

// Observe counts v.
func (h *Histogram) Observe(v float64) { h.h.observe(v) }

// Collect implements Collector.
func (h *Histogram) Collect(b *Batch) { h.h.collect(b, h.desc) }

// vec holds one value per label set, created on first use.
type vec[T any] struct {
	desc  *Desc
	new   func() *T
	mu    sync.RWMutex
	items map[string]*entry[T]
}

type entry[T any] struct {
	values []string
	v      *T
}

func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.desc.labels) {
		panic("metrics: " + v.desc.name + ": wrong number of label values")
	}
	// The key is built on the stack and looked up without becoming a
	// string: the router counts every request, and a lookup that
	// allocates is garbage per request.
	var kb [128]byte
	key := kb[:0]
	for i, s := range values {
		if i > 0 {
			key = append(key, 0xff) // never in UTF-8 text
		}
		key = append(key, s...)
	}
	v.mu.RLock()
	e := v.items[string(key)]
	v.mu.RUnlock()
	if e != nil {
		return e.v
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if e := v.items[string(key)]; e != nil {
		return e.v
	}
	e = &entry[T]{values: slices.Clone(values), v: v.new()}
	v.items[string(key)] = e
	return e.v
}

// deleteMatching drops the label sets whose label name has value; it
// returns how many.
func (v *vec[T]) deleteMatching(name, value string) int {
	i := slices.Index(v.desc.labels, name)
	if i < 0 {
		return 0
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for k, e := range v.items {
		if e.values[i] == value {
			delete(v.items, k)
			n++
		}
	}
	return n
}

func (v *vec[T]) each(f func(values []string, t *T)) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, e := range v.items {
		f(e.values, e.v)
	}
}

// CounterVec is a family of counters, one per label set.
type CounterVec struct{ v vec[Counter] }

// NewCounterVec returns a family of counters with these label names.
func NewCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{vec[Counter]{
		desc:  NewDesc(name, help, CounterType, labels...),
		new:   func() *Counter { return new(Counter) },
		items: map[string]*entry[Counter]{},
	}}
}

// WithLabelValues is the counter of one label set (in the order the
// labels were named), created at 0 on first use so that it is served
// before it first counts.
func (c *CounterVec) WithLabelValues(values ...string) *Counter { return c.v.with(values) }

// DeleteMatching drops every label set whose label name is value.
func (c *CounterVec) DeleteMatching(name, value string) int { return c.v.deleteMatching(name, value) }

// Collect implements Collector.
func (c *CounterVec) Collect(b *Batch) {
	c.v.each(func(values []string, n *Counter) { b.Sample(c.v.desc, float64(n.Value()), values...) })
}

// HistogramVec is a family of histograms, one per label set, with the
// same buckets.
type HistogramVec struct {
	v vec[histogram]
}

// NewHistogramVec returns a family of histograms with these upper bounds
// and label names.
func NewHistogramVec(name, help string, bounds []float64, labels ...string) *HistogramVec {
	checkBounds(name, bounds)
	return &HistogramVec{vec[histogram]{
		desc:  NewDesc(name, help, HistogramType, labels...),
		new:   func() *histogram { return newHistogram(bounds) },
		items: map[string]*entry[histogram]{},
	}}
}

// Observe counts v in the histogram of one label set.
func (h *HistogramVec) Observe(v float64, values ...string) { h.v.with(values).observe(v) }

// DeleteMatching drops every label set whose label name is value.
func (h *HistogramVec) DeleteMatching(name, value string) int { return h.v.deleteMatching(name, value) }

// Collect implements Collector.
func (h *HistogramVec) Collect(b *Batch) {
	h.v.each(func(values []string, hg *histogram) { hg.collect(b, h.v.desc, values...) })
}

var (
	_ Collector = (*Counter)(nil)
	_ Collector = (*Gauge)(nil)
	_ Collector = (*Histogram)(nil)
	_ Collector = (*CounterVec)(nil)
	_ Collector = (*HistogramVec)(nil)
)

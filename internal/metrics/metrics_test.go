package metrics

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func exposition(t *testing.T, cs ...Collector) string {
	t.Helper()
	r := &Registry{}
	r.Register(cs...)
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestWrite(t *testing.T) {
	labelled := NewDesc("x_info", "Has labels.", GaugeType, "b", "a")
	tests := []struct {
		name string
		c    Collector
		want string
	}{
		{"counter", func() Collector { c := NewCounter("x_total", "Things."); c.Add(41); c.Inc(); return c }(),
			"# HELP x_total Things.\n# TYPE x_total counter\nx_total 42\n"},
		{"gauge", func() Collector { g := NewGauge("x_bytes", "Size."); g.Set(1.5e9); g.Add(-0.5e9); return g }(),
			"# HELP x_bytes Size.\n# TYPE x_bytes gauge\nx_bytes 1e+09\n"},
		{"labels in name order, samples sorted by their values", CollectFunc(func(b *Batch) {
			b.Sample(labelled, 1, "2", "z")
			b.Sample(labelled, 2, "1", "z")
			b.Sample(labelled, 3, "9", "a")
		}), "# HELP x_info Has labels.\n# TYPE x_info gauge\n" +
			"x_info{a=\"a\",b=\"9\"} 3\nx_info{a=\"z\",b=\"1\"} 2\nx_info{a=\"z\",b=\"2\"} 1\n"},
		{"label values escaped", CollectFunc(func(b *Batch) {
			b.Sample(labelled, 1, `back\slash "quoted"`, "new\nline")
		}), "# HELP x_info Has labels.\n# TYPE x_info gauge\n" +
			`x_info{a="new\nline",b="back\\slash \"quoted\""} 1` + "\n"},
		{"invalid UTF-8 replaced, valid kept", CollectFunc(func(b *Batch) {
			b.Sample(labelled, 1, "caf\xe9", "café")
		}), "# HELP x_info Has labels.\n# TYPE x_info gauge\n" +
			"x_info{a=\"café\",b=\"caf\uFFFD\"} 1\n"},
		{"help escaped, quotes kept", NewCounter("y_total", "A \"help\" with \\ and\nnewline."),
			"# HELP y_total A \"help\" with \\\\ and\\nnewline.\n# TYPE y_total counter\ny_total 0\n"},
		{"special floats", CollectFunc(func(b *Batch) {
			d := NewDesc("f", "Floats.", GaugeType, "v")
			b.Sample(d, math.Inf(1), "a")
			b.Sample(d, math.Inf(-1), "b")
			b.Sample(d, math.NaN(), "c")
			b.Sample(d, 0.000123, "d")
			b.Sample(d, 1796144090.8413951, "e")
			b.Sample(d, 0, "f")
		}), "# HELP f Floats.\n# TYPE f gauge\n" +
			"f{v=\"a\"} +Inf\nf{v=\"b\"} -Inf\nf{v=\"c\"} NaN\nf{v=\"d\"} 0.000123\nf{v=\"e\"} 1.7961440908413951e+09\nf{v=\"f\"} 0\n"},
		{"histogram: cumulative buckets, +Inf, sum, count", func() Collector {
			h := NewHistogram("h_seconds", "Latency.", []float64{0.001, 0.01, 1})
			for _, v := range []float64{0.0005, 0.001, 0.005, 0.5, 2, math.NaN()} {
				h.Observe(v)
			}
			return CollectFunc(func(b *Batch) {
				h.Collect(b)
				b.families["h_seconds"].series[0].sum = 2.5065 // NaN's sum is NaN
			})
		}(), "# HELP h_seconds Latency.\n# TYPE h_seconds histogram\n" +
			"h_seconds_bucket{le=\"0.001\"} 2\nh_seconds_bucket{le=\"0.01\"} 3\nh_seconds_bucket{le=\"1\"} 4\nh_seconds_bucket{le=\"+Inf\"} 6\n" +
			"h_seconds_sum 2.5065\nh_seconds_count 6\n"},
		{"histogram vec: le after the labels, series sorted", func() Collector {
			h := NewHistogramVec("r_seconds", "By route.", []float64{0.5}, "route")
			h.Observe(1, "web")
			h.Observe(0.25, "api")
			return h
		}(), "# HELP r_seconds By route.\n# TYPE r_seconds histogram\n" +
			"r_seconds_bucket{route=\"api\",le=\"0.5\"} 1\nr_seconds_bucket{route=\"api\",le=\"+Inf\"} 1\nr_seconds_sum{route=\"api\"} 0.25\nr_seconds_count{route=\"api\"} 1\n" +
			"r_seconds_bucket{route=\"web\",le=\"0.5\"} 0\nr_seconds_bucket{route=\"web\",le=\"+Inf\"} 1\nr_seconds_sum{route=\"web\"} 1\nr_seconds_count{route=\"web\"} 1\n"},
		{"summary", CollectFunc(func(b *Batch) {
			b.Summary(NewDesc("s_seconds", "Pauses.", SummaryType), []float64{0, 0.5, 1}, []float64{0.1, 0.2, 0.3}, 3, 0.6)
		}), "# HELP s_seconds Pauses.\n# TYPE s_seconds summary\n" +
			"s_seconds{quantile=\"0\"} 0.1\ns_seconds{quantile=\"0.5\"} 0.2\ns_seconds{quantile=\"1\"} 0.3\ns_seconds_sum 0.6\ns_seconds_count 3\n"},
		{"counter vec: zero series served, deleted ones not", func() Collector {
			c := NewCounterVec("k_total", "Kinds.", "route", "code")
			c.WithLabelValues("web", "200").Inc()
			c.WithLabelValues("web", "404")
			c.WithLabelValues("api", "200").Add(2)
			c.DeleteMatching("route", "web")
			c.WithLabelValues("www", "500")
			return c
		}(), "# HELP k_total Kinds.\n# TYPE k_total counter\n" +
			"k_total{code=\"200\",route=\"api\"} 2\nk_total{code=\"500\",route=\"www\"} 0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, exposition(t, tt.c)); diff != "" {
				t.Errorf("exposition (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFamiliesSortedByName(t *testing.T) {
	got := exposition(t, NewCounter("b_total", "B."), NewGauge("a", "A."), NewCounter("a_total", "A total."))
	var names []string
	for l := range strings.Lines(got) {
		if n, ok := strings.CutPrefix(l, "# TYPE "); ok {
			names = append(names, strings.Fields(n)[0])
		}
	}
	if diff := cmp.Diff([]string{"a", "a_total", "b_total"}, names); diff != "" {
		t.Errorf("family order (-want +got):\n%s", diff)
	}
}

func TestWriteErrors(t *testing.T) {
	d := NewDesc("dup", "Dup.", GaugeType, "a")
	tests := []struct {
		name string
		c    Collector
		want string
	}{
		{"same label set twice", CollectFunc(func(b *Batch) { b.Sample(d, 1, "x"); b.Sample(d, 2, "x") }), `dup{a="x"} is collected twice`},
		{"two descriptions of one name", CollectFunc(func(b *Batch) {
			b.Sample(d, 1, "x")
			b.Sample(NewDesc("dup", "Other.", CounterType, "a"), 1, "y")
		}), "dup is collected twice with different descriptions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Registry{}
			r.Register(tt.c)
			_, err := r.WriteTo(io.Discard)
			if err == nil || err.Error() != tt.want {
				t.Errorf("WriteTo = %v; want %q", err, tt.want)
			}
		})
	}
}

func TestNewDescRejects(t *testing.T) {
	tests := []struct {
		name, metric string
		typ          Type
		labels       []string
	}{
		{"empty name", "", GaugeType, nil},
		{"name starts with a digit", "1x", GaugeType, nil},
		{"dash in name", "x-y", GaugeType, nil},
		{"colon in label", "x", GaugeType, []string{"a:b"}},
		{"reserved label", "x", GaugeType, []string{"__name__"}},
		{"le on a histogram", "x", HistogramType, []string{"le"}},
		{"quantile on a summary", "x", SummaryType, []string{"quantile"}},
		{"label twice", "x", GaugeType, []string{"a", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("NewDesc(%q, %q) did not panic", tt.metric, tt.labels)
				}
			}()
			NewDesc(tt.metric, "help", tt.typ, tt.labels...)
		})
	}
	NewDesc("namespace:rule_x", "Colons are fine in names.", GaugeType, "le")
}

// TestPrometheusParses reads a full registry, with the Go and process
// collectors, back with Prometheus' own text parser.
func TestPrometheusParses(t *testing.T) {
	r := NewRegistry()
	c := NewCounterVec("homeport_x_total", "X \\ \"y\".", "route", "code")
	c.WithLabelValues("we\"b\\\n", "200").Add(3)
	h := NewHistogramVec("homeport_x_seconds", "Latency.", []float64{.001, .01, .1}, "route")
	h.Observe(0.005, "api")
	h.Observe(5, "api")
	r.Register(c, h, NewGoCollector(), NewProcessCollector())
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parsing: %v\n%s", err, buf.String())
	}
	ct := fams["homeport_x_total"]
	if got := ct.GetHelp(); got != "X \\ \"y\"." {
		t.Errorf("help = %q; want the original text", got)
	}
	if m := ct.GetMetric(); len(m) != 1 || m[0].GetLabel()[1].GetValue() != "we\"b\\\n" || m[0].GetCounter().GetValue() != 3 {
		t.Errorf("counter read back as %v", m)
	}
	hm := fams["homeport_x_seconds"].GetMetric()[0].GetHistogram()
	var cum []uint64
	for _, b := range hm.GetBucket() {
		cum = append(cum, b.GetCumulativeCount())
	}
	if hm.GetSampleCount() != 2 || hm.GetSampleSum() != 5.005 || !cmp.Equal(cum, []uint64{0, 1, 1, 2}) {
		t.Errorf("histogram read back as count %d, sum %v, buckets %v; want 2, 5.005, [0 1 1 2]", hm.GetSampleCount(), hm.GetSampleSum(), cum)
	}
	want := map[string]dto.MetricType{
		"go_goroutines":                        dto.MetricType_GAUGE,
		"go_gc_duration_seconds":               dto.MetricType_SUMMARY,
		"go_memstats_alloc_bytes_total":        dto.MetricType_COUNTER,
		"go_info":                              dto.MetricType_GAUGE,
		"go_threads":                           dto.MetricType_GAUGE,
		"go_gc_gogc_percent":                   dto.MetricType_GAUGE,
		"promhttp_metric_handler_errors_total": dto.MetricType_COUNTER,
	}
	if isLinux {
		for _, n := range []string{"process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds", "process_max_fds", "process_virtual_memory_bytes"} {
			want[n] = dto.MetricType_GAUGE
		}
		want["process_cpu_seconds_total"] = dto.MetricType_COUNTER
	}
	for name, typ := range want {
		f, ok := fams[name]
		if !ok || f.GetType() != typ {
			t.Errorf("%s: present %v, type %v; want a %v", name, ok, f.GetType(), typ)
		}
	}
	if isLinux {
		if v := fams["process_resident_memory_bytes"].GetMetric()[0].GetGauge().GetValue(); v < 1<<20 {
			t.Errorf("process_resident_memory_bytes = %v; want at least a megabyte", v)
		}
		if v := fams["process_open_fds"].GetMetric()[0].GetGauge().GetValue(); v < 3 {
			t.Errorf("process_open_fds = %v; want at least stdin, stdout, stderr", v)
		}
	}
}

func TestHandler(t *testing.T) {
	r := NewRegistry()
	g := NewGauge("x", "X.")
	g.Set(7)
	r.Register(g)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	for _, gz := range []bool{false, true} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		} else {
			req.Header.Set("Accept-Encoding", "identity")
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = resp.Body
		if gz {
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("Content-Encoding = %q; want gzip", resp.Header.Get("Content-Encoding"))
			}
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		b, _ := io.ReadAll(body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if !strings.Contains(string(b), "\nx 7\n") || !strings.Contains(string(b), `promhttp_metric_handler_errors_total{cause="gathering"} 0`) {
			t.Errorf("gzip %v: body lacks x 7 or the handler's errors:\n%s", gz, b)
		}
	}

	// A collection that fails answers 500 and is counted.
	d := NewDesc("dup", "Dup.", GaugeType)
	r.Register(CollectFunc(func(b *Batch) { b.Sample(d, 1); b.Sample(d, 1) }))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("failed collection = %d; want 500", resp.StatusCode)
	}
	if n := r.handlerErrors.WithLabelValues("gathering").Value(); n != 1 {
		t.Errorf("gathering errors = %d; want 1", n)
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"deflate, gzip;q=1.0, *;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.001", true},
		{"x-gzip", false},
		{"identity", false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v; want %v", tt.header, got, tt.want)
		}
	}
}

// TestConcurrentUpdates counts from many goroutines while scraping; -race
// checks the access, the totals check that no increment is lost, and each
// scrape's histogram count equals its +Inf bucket.
func TestConcurrentUpdates(t *testing.T) {
	c := NewCounterVec("c_total", "C.", "w")
	h := NewHistogramVec("h_seconds", "H.", []float64{0.5}, "w")
	r := &Registry{}
	r.Register(c, h)
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			label := string(rune('a' + w%2))
			for i := range each {
				c.WithLabelValues(label).Inc()
				h.Observe(float64(i%2), label)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for scraping := true; scraping; {
		select {
		case <-done:
			scraping = false
		default:
		}
		var buf bytes.Buffer
		if _, err := r.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fams["h_seconds"].GetMetric() {
			hg := m.GetHistogram()
			if b := hg.GetBucket(); len(b) > 0 && b[0].GetCumulativeCount() > hg.GetSampleCount() {
				t.Fatalf("bucket 0.5 holds %d of %d", b[0].GetCumulativeCount(), hg.GetSampleCount())
			}
		}
	}
	for _, l := range []string{"a", "b"} {
		if n := c.WithLabelValues(l).Value(); n != workers/2*each {
			t.Errorf("c_total{w=%q} = %d; want %d", l, n, workers/2*each)
		}
	}
}

func TestGCPercent(t *testing.T) {
	tests := []struct {
		env  string
		want int
	}{{"", 100}, {"off", -1}, {"50", 50}, {"400", 400}, {"lots", 100}}
	for _, tt := range tests {
		if got := gcPercent(tt.env); got != tt.want {
			t.Errorf("gcPercent(%q) = %d; want %d", tt.env, got, tt.want)
		}
	}
}

// FuzzLabelValue: any label value (a process name can hold any byte) and
// help text come out as an exposition Prometheus parses, and read back as
// written, invalid UTF-8 repaired.
func FuzzLabelValue(f *testing.F) {
	for _, s := range []string{"node", `a"b\c` + "\nd", "caf\xe9", "", "}{=,", "\x00"} {
		f.Add(s, "Help \\ text\n.")
	}
	f.Fuzz(func(t *testing.T, value, help string) {
		d := NewDesc("x_info", help, GaugeType, "process")
		r := &Registry{}
		r.Register(CollectFunc(func(b *Batch) { b.Sample(d, 1, value) }))
		var buf bytes.Buffer
		if _, err := r.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("parsing %q: %v", buf.String(), err)
		}
		m := fams["x_info"].GetMetric()
		if len(m) != 1 || !sameText(m[0].GetLabel()[0].GetValue(), value) {
			t.Errorf("label %q read back as %v", value, m)
		}
		// The parser drops the blanks that separate the name from the
		// text, and so any the text begins with.
		if got := fams["x_info"].GetHelp(); !sameText(got, strings.TrimLeft(help, " \t")) {
			t.Errorf("help %q read back as %q", help, got)
		}
	})
}

// sameText reports whether got is what was written: the same text when it
// was valid UTF-8, else valid UTF-8 with U+FFFD where the bad bytes were.
func sameText(got, written string) bool {
	if utf8.ValidString(written) {
		return got == written
	}
	return utf8.ValidString(got) && strings.ContainsRune(got, utf8.RuneError)
}

// BenchmarkRequestPath is what the router does per request: a counter and
// a histogram of existing label sets, from parallel goroutines.
func BenchmarkRequestPath(b *testing.B) {
	c := NewCounterVec("r_total", "R.", "route", "code")
	h := NewHistogramVec("r_seconds", "R.", []float64{.001, .01, .1, 1}, "route")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.WithLabelValues("web", "200").Inc()
			h.Observe(0.004, "web")
		}
	})
}

// BenchmarkScrape writes 10,000 series, as homeport_listener_info does at
// 10,000 listeners.
func BenchmarkScrape(b *testing.B) {
	d := NewDesc("x_info", "X.", GaugeType, "port", "process")
	r := &Registry{}
	r.Register(CollectFunc(func(bt *Batch) {
		for i := range 10000 {
			bt.Sample(d, 1, FormatFloat(float64(i)), "node")
		}
	}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

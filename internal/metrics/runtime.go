package metrics

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
)

// goHelp holds the Go runtime's families, under the names, help texts and
// types Prometheus' Go collector gives them, so that dashboards built on
// them keep working.
var goHelp = [...]struct{ name, help string }{
	{"go_memstats_alloc_bytes", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes."},
	{"go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes."},
	{"go_memstats_buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes."},
	{"go_memstats_frees_total", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects."},
	{"go_memstats_gc_sys_bytes", "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes."},
	{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes."},
	{"go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes."},
	{"go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes"},
	{"go_memstats_heap_objects", "Number of currently allocated objects. Equals to /gc/heap/objects:objects."},
	{"go_memstats_heap_released_bytes", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes."},
	{"go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes."},
	{"go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection."},
	{"go_memstats_mallocs_total", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects."},
	{"go_memstats_mcache_inuse_bytes", "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes."},
	{"go_memstats_mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes."},
	{"go_memstats_mspan_inuse_bytes", "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes."},
	{"go_memstats_mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes."},
	{"go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes."},
	{"go_memstats_other_sys_bytes", "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes."},
	{"go_memstats_stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes."},
	{"go_memstats_stack_sys_bytes", "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes."},
	{"go_memstats_sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte."},
}

// GoCollector reports the Go runtime of this process: memory, garbage
// collection pauses, goroutines and threads (go_*).
type GoCollector struct {
	memstats             [len(goHelp)]*Desc
	gcDuration, gogc     *Desc
	memLimit, goroutines *Desc
	info, maxProcs       *Desc
	threads              *Desc
}

// NewGoCollector returns the collector of go_* families.
func NewGoCollector() *GoCollector {
	c := &GoCollector{
		gcDuration: NewDesc("go_gc_duration_seconds", "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.", SummaryType),
		gogc:       NewDesc("go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100. This value is set by the GOGC environment variable, and the runtime/debug.SetGCPercent function. Sourced from /gc/gogc:percent.", GaugeType),
		memLimit:   NewDesc("go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the GOMEMLIMIT environment variable, and the runtime/debug.SetMemoryLimit function. Sourced from /gc/gomemlimit:bytes.", GaugeType),
		goroutines: NewDesc("go_goroutines", "Number of goroutines that currently exist.", GaugeType),
		info:       NewDesc("go_info", "Information about the Go environment.", GaugeType, "version"),
		maxProcs:   NewDesc("go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting, or the number of operating system threads that can execute user-level Go code simultaneously. Sourced from /sched/gomaxprocs:threads.", GaugeType),
		threads:    NewDesc("go_threads", "Number of OS threads created.", GaugeType),
	}
	for i, h := range goHelp {
		typ := GaugeType
		if h.name == "go_memstats_alloc_bytes_total" || h.name == "go_memstats_frees_total" || h.name == "go_memstats_mallocs_total" {
			typ = CounterType
		}
		c.memstats[i] = NewDesc(h.name, h.help, typ)
	}
	return c
}

// Collect implements Collector.
func (c *GoCollector) Collect(b *Batch) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	values := [len(goHelp)]float64{
		float64(ms.Alloc), float64(ms.TotalAlloc), float64(ms.BuckHashSys), float64(ms.Frees),
		float64(ms.GCSys), float64(ms.HeapAlloc), float64(ms.HeapIdle), float64(ms.HeapInuse),
		float64(ms.HeapObjects), float64(ms.HeapReleased), float64(ms.HeapSys),
		float64(ms.LastGC) / 1e9, float64(ms.Mallocs), float64(ms.MCacheInuse), float64(ms.MCacheSys),
		float64(ms.MSpanInuse), float64(ms.MSpanSys), float64(ms.NextGC), float64(ms.OtherSys),
		float64(ms.StackInuse), float64(ms.StackSys), float64(ms.Sys),
	}
	for i, d := range c.memstats {
		b.Sample(d, values[i])
	}

	gc := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&gc)
	qs := make([]float64, 5)
	for i, d := range gc.PauseQuantiles {
		qs[i] = d.Seconds()
	}
	b.Summary(c.gcDuration, []float64{0, 0.25, 0.5, 0.75, 1}, qs, uint64(gc.NumGC), gc.PauseTotal.Seconds())

	b.Sample(c.gogc, float64(gcPercent(os.Getenv("GOGC"))))
	b.Sample(c.memLimit, float64(debug.SetMemoryLimit(-1))) // -1 reads it

	b.Sample(c.goroutines, float64(runtime.NumGoroutine()))
	b.Sample(c.info, 1, runtime.Version())
	b.Sample(c.maxProcs, float64(runtime.GOMAXPROCS(0)))
	n, _ := runtime.ThreadCreateProfile(nil)
	b.Sample(c.threads, float64(n))
}

var _ Collector = (*GoCollector)(nil)

// gcPercent is GOGC as the runtime reads it at start: 100 when unset or
// not a number, -1 for off. homeport never calls debug.SetGCPercent, so
// this is the setting in force. (runtime/metrics would tell it too, but
// that package builds its table of descriptions at initialisation, in
// every command.)
func gcPercent(env string) int {
	if env == "off" {
		return -1
	}
	if n, err := strconv.Atoi(env); err == nil {
		return n
	}
	return 100
}

package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// processHelp names the process_* families as Prometheus' process
// collector does.
var processHelp = [...]struct {
	name, help string
	typ        Type
}{
	{"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", CounterType},
	{"process_max_fds", "Maximum number of open file descriptors.", GaugeType},
	{"process_network_receive_bytes_total", "Number of bytes received by the process over the network.", CounterType},
	{"process_network_transmit_bytes_total", "Number of bytes sent by the process over the network.", CounterType},
	{"process_open_fds", "Number of open file descriptors.", GaugeType},
	{"process_resident_memory_bytes", "Resident memory size in bytes.", GaugeType},
	{"process_start_time_seconds", "Start time of the process since unix epoch in seconds.", GaugeType},
	{"process_virtual_memory_bytes", "Virtual memory size in bytes.", GaugeType},
	{"process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", GaugeType},
}

const (
	pCPU = iota
	pMaxFDs
	pNetReceive
	pNetTransmit
	pOpenFDs
	pResident
	pStart
	pVirtual
	pVirtualMax
	pCount
)

// ProcessCollector reports this process's CPU time, memory, file
// descriptors and start time (process_*), where the OS tells them; a
// figure it cannot read is left out of the scrape, not reported as 0.
type ProcessCollector struct {
	descs [pCount]*Desc
}

// NewProcessCollector returns the collector of process_* families.
func NewProcessCollector() *ProcessCollector {
	c := &ProcessCollector{}
	for i, h := range processHelp {
		c.descs[i] = NewDesc(h.name, h.help, h.typ)
	}
	return c
}

// Collect implements Collector.
func (c *ProcessCollector) Collect(b *Batch) {
	var v [pCount]float64
	var ok [pCount]bool
	readProcess(&v, &ok)
	for i, d := range c.descs {
		if ok[i] {
			b.Sample(d, v[i])
		}
	}
}

// procStat holds the fields of /proc/<pid>/stat that the collector uses.
type procStat struct {
	UTime, STime uint64 // clock ticks
	StartTime    uint64 // clock ticks after boot
	VSize        uint64 // bytes
	RSS          int64  // pages
}

var errStat = errors.New("malformed stat line")

// parseStat reads /proc/<pid>/stat. The command name, in parentheses, may
// hold spaces and parentheses itself: the fields start after the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errStat
	}
	// After the name: state (field 3) is fields[0], so field n is
	// fields[n-3].
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 22 {
		return procStat{}, errStat
	}
	var (
		s   procStat
		err error
	)
	u := func(n int) uint64 {
		v, e := strconv.ParseUint(fields[n-3], 10, 64)
		if e != nil && err == nil {
			err = errStat
		}
		return v
	}
	s.UTime, s.STime, s.StartTime, s.VSize = u(14), u(15), u(22), u(23)
	rss, e := strconv.ParseInt(fields[24-3], 10, 64)
	if e != nil || err != nil {
		return procStat{}, errStat
	}
	s.RSS = rss
	return s, nil
}

// parseBootTime reads the btime line of /proc/stat: the boot time in
// seconds since the Unix epoch.
func parseBootTime(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no btime line")
}

// parseNetstat reads IpExt's InOctets and OutOctets from
// /proc/<pid>/net/netstat: a line of names, then a line of values, per
// prefix.
func parseNetstat(r io.Reader) (in, out uint64, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 8192), 1<<20)
	var names []string
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "IpExt:")
		if !ok {
			continue
		}
		if names == nil {
			names = strings.Fields(rest)
			continue
		}
		values := strings.Fields(rest)
		if len(values) != len(names) {
			return 0, 0, errors.New("IpExt: names and values differ in count")
		}
		found := 0
		for i, n := range names {
			var dst *uint64
			switch n {
			case "InOctets":
				dst = &in
			case "OutOctets":
				dst = &out
			default:
				continue
			}
			if *dst, err = strconv.ParseUint(values[i], 10, 64); err != nil {
				return 0, 0, err
			}
			found++
		}
		if found != 2 {
			return 0, 0, errors.New("IpExt: no InOctets and OutOctets")
		}
		return in, out, nil
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	return 0, 0, errors.New("no IpExt lines")
}

package ports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"time"
)

// Range is an inclusive range of port numbers.
type Range struct{ Lo, Hi uint16 }

// The named ranges of RFC 6335.
var (
	RegisteredRange = Range{1024, 49151}
	DynamicRange    = Range{49152, 65535}
)

// Len returns the number of ports in r.
func (r Range) Len() int { return int(r.Hi) - int(r.Lo) + 1 }

// Contains reports whether p is in r.
func (r Range) Contains(p uint16) bool { return p >= r.Lo && p <= r.Hi }

func (r Range) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

// ParseRange parses a port range as `--range` takes it: "A-B" (inclusive),
// a single port "A", or the names "dynamic" (49152-65535) and "registered"
// (1024-49151).
func ParseRange(s string) (Range, error) {
	switch strings.ToLower(s) {
	case "dynamic", "private", "ephemeral":
		return DynamicRange, nil
	case "registered", "user":
		return RegisteredRange, nil
	case "":
		return Range{}, errors.New("empty range: give two ports like 3000-3999, or dynamic")
	}
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		p, err := ParsePort(s)
		if err != nil {
			return Range{}, fmt.Errorf("range %q: %w", s, err)
		}
		return Range{p, p}, nil
	}
	a, err := ParsePort(lo)
	if err != nil {
		return Range{}, fmt.Errorf("range %q: first port: %w", s, err)
	}
	b, err := ParsePort(hi)
	if err != nil {
		return Range{}, fmt.Errorf("range %q: last port: %w", s, err)
	}
	if a > b {
		return Range{}, fmt.Errorf("range %q is backwards: the first port is above the last (did you mean %d-%d?)", s, b, a)
	}
	return Range{a, b}, nil
}

// ParseEphemeral parses Linux's /proc/sys/net/ipv4/ip_local_port_range:
// two numbers separated by white space ("32768\t60999\n").
func ParseEphemeral(r io.Reader) (Range, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 256)).ReadString('\n')
	if err != nil && err != io.EOF {
		return Range{}, err
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		return Range{}, fmt.Errorf("ip_local_port_range: want two numbers, got %q", strings.TrimSpace(line))
	}
	a, err1 := ParsePort(f[0])
	b, err2 := ParsePort(f[1])
	if err1 != nil || err2 != nil || a > b {
		return Range{}, fmt.Errorf("ip_local_port_range: %q is not a port range", strings.TrimSpace(line))
	}
	return Range{a, b}, nil
}

// EphemeralRange reads the kernel's ephemeral port range from fsys, the root
// of a Linux file system (os.DirFS("/") on a real machine). Outside Linux, or
// when the file is missing, it returns the IANA dynamic range, which macOS,
// the BSDs and Windows use by default.
func EphemeralRange(fsys fs.FS) Range {
	f, err := fsys.Open("proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return DynamicRange
	}
	defer f.Close()
	r, err := ParseEphemeral(f)
	if err != nil {
		return DynamicRange
	}
	return r
}

// DefaultRanges returns where `homeport free` looks by default: the
// registered ports (1024-49151) less the kernel's ephemeral range, so that a
// picked port is not taken a moment later by some outgoing connection's
// local end.
func DefaultRanges(ephemeral Range) []Range {
	return subtract(RegisteredRange, ephemeral)
}

// subtract returns r without the ports in x, as zero, one or two ranges.
func subtract(r, x Range) []Range {
	if x.Hi < r.Lo || x.Lo > r.Hi {
		return []Range{r}
	}
	var out []Range
	if x.Lo > r.Lo {
		out = append(out, Range{r.Lo, x.Lo - 1})
	}
	if x.Hi < r.Hi {
		out = append(out, Range{x.Hi + 1, r.Hi})
	}
	return out
}

// maxTimeout bounds timeouts so that arithmetic on them cannot overflow.
const maxTimeout = 1000 * time.Hour

// ParseDuration parses a timeout as the command line takes it: a Go duration
// ("5s", "250ms", "1m30s") or a bare number of seconds ("5", "0.5"). Negative
// and absurd (over 1000h) values are errors.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration: give one like 5s or 500ms")
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil && strings.IndexFunc(s, isLetter) < 0 {
		// A bare number: seconds, like timeout(1) and wait-for-it.sh.
		if math.IsNaN(f) || f < 0 {
			return 0, fmt.Errorf("duration %q is negative: give one like 5s", s)
		}
		if f > maxTimeout.Seconds() {
			return 0, fmt.Errorf("duration %q is too long (at most %s)", s, maxTimeout)
		}
		d = time.Duration(f * float64(time.Second))
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration: give one like 5s, 500ms or 2m", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative: give one like 5s", s)
	}
	if d > maxTimeout {
		return 0, fmt.Errorf("duration %q is too long (at most %s)", s, maxTimeout)
	}
	return d, nil
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// StatusSet is a set of HTTP status codes, as ranges.
type StatusSet []Range

// DefaultStatus is what `wait` takes as ready for an HTTP target.
var DefaultStatus = StatusSet{{200, 399}}

// Contains reports whether code is in the set.
func (s StatusSet) Contains(code int) bool {
	for _, r := range s {
		if code >= int(r.Lo) && code <= int(r.Hi) {
			return true
		}
	}
	return false
}

func (s StatusSet) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// ParseStatus parses `--status`: codes and ranges separated by commas,
// "200", "200-399", "200,204,300-308", or a class "2xx".
func ParseStatus(s string) (StatusSet, error) {
	if s == "" {
		return nil, errors.New("empty status: give codes like 200-399 or 200,204")
	}
	var set StatusSet
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if len(part) == 3 && strings.EqualFold(part[1:], "xx") && part[0] >= '1' && part[0] <= '5' {
			c := uint16(part[0]-'0') * 100
			set = append(set, Range{c, c + 99})
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseStatusCode(lo)
		if err != nil {
			return nil, fmt.Errorf("status %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = parseStatusCode(hi); err != nil {
				return nil, fmt.Errorf("status %q: %w", s, err)
			}
		}
		if a > b {
			return nil, fmt.Errorf("status %q: range %s is backwards (did you mean %d-%d?)", s, part, b, a)
		}
		set = append(set, Range{a, b})
	}
	return set, nil
}

func parseStatusCode(s string) (uint16, error) {
	if len(s) != 3 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not an HTTP status code (100-599)", s)
	}
	n, _ := strconv.Atoi(s)
	if n < 100 || n > 599 {
		return 0, fmt.Errorf("%q is not an HTTP status code (100-599)", s)
	}
	return uint16(n), nil
}

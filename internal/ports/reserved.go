package ports

// Ports the operating system keeps from programs, a Windows trap (issue 6):
//
//   - Hyper-V, WinNAT, WSL 2 and Docker Desktop reserve blocks of ports
//     ("excluded port ranges", often 100 at a time, moving at every reboot).
//     Binding one fails with WSAEACCES, "An attempt was made to access a
//     socket in a way forbidden by its access permissions", while netstat
//     shows nobody on the port. `netsh int ipv4 show excludedportrange
//     protocol=tcp` lists them.
//   - Windows' dynamic (ephemeral) range is 49152-65535 unless changed
//     (`netsh int ipv4 show dynamicport tcp`): outgoing connections take
//     their local ports from it, so a fixed port there (62893 among them)
//     can be taken at any moment.
//
// The parsers read netsh's output by its shape, not its words, so that every
// Windows language works: netsh prints its headers translated and in the
// console's OEM code page (CP850 for German, CP936 for Chinese ...), while
// the numbers stay ASCII.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Exclusion is a range of ports that no program may bind.
type Exclusion struct {
	Range
	// Administered is true for a range an administrator added (`netsh int
	// ipv4 add excludedportrange`, marked "*"), false for one a service
	// such as Hyper-V reserved at run time.
	Administered bool
}

// ReservedRanges tells which ports the operating system keeps to itself.
// SystemReserved returns this machine's; tests inject FixedReserved.
type ReservedRanges interface {
	// Excluded returns the ranges of proto ("tcp" or "udp") that no
	// program may bind, sorted as the OS lists them; none outside Windows.
	Excluded(ctx context.Context, proto string) ([]Exclusion, error)

	// Dynamic returns the ephemeral range of proto: where the OS picks
	// the local ports of outgoing connections.
	Dynamic(ctx context.Context, proto string) (Range, error)
}

// SystemReserved returns the provider of this machine: netsh on Windows; on
// other systems no exclusions, and the kernel's ephemeral range (see
// EphemeralRange). Each call of its methods asks the OS afresh (netsh takes
// a tenth of a second or so): call it once per command.
func SystemReserved() ReservedRanges {
	if runtime.GOOS == "windows" {
		return &netshReserved{run: runNetsh}
	}
	return kernelReserved{}
}

// FixedReserved is a ReservedRanges with given answers, for tests and for
// machines where the answer is known.
type FixedReserved struct {
	Exclusions   map[string][]Exclusion // by protocol
	DynamicRange Range                  // the zero Range means DynamicRange (49152-65535)
}

// Excluded returns r.Exclusions[proto].
func (r FixedReserved) Excluded(_ context.Context, proto string) ([]Exclusion, error) {
	return r.Exclusions[proto], nil
}

// Dynamic returns r.DynamicRange.
func (r FixedReserved) Dynamic(context.Context, string) (Range, error) {
	if r.DynamicRange == (Range{}) {
		return DynamicRange, nil
	}
	return r.DynamicRange, nil
}

// kernelReserved answers for Linux, macOS and the BSDs, which have no
// excluded ranges.
type kernelReserved struct{}

func (kernelReserved) Excluded(context.Context, string) ([]Exclusion, error) { return nil, nil }

func (kernelReserved) Dynamic(context.Context, string) (Range, error) {
	return EphemeralRange(os.DirFS("/")), nil
}

// netshReserved asks netsh. run runs netsh with the given arguments and
// returns its standard output; tests replace it.
type netshReserved struct {
	run func(ctx context.Context, args ...string) ([]byte, error)
}

// runNetsh runs netsh, once more when it fails: a netsh that fails leaves
// the excluded ranges unknown, and the checks that need them say nothing,
// so one passing failure (seen under load under Wine) is worth a second try.
func runNetsh(ctx context.Context, args ...string) ([]byte, error) {
	var err error
	for try := 0; try < 2 && ctx.Err() == nil; try++ {
		var out []byte
		if out, err = exec.CommandContext(ctx, "netsh", args...).Output(); err == nil {
			return out, nil
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	return nil, fmt.Errorf("netsh %s: %w", strings.Join(args, " "), err)
}

func checkProto(proto string) error {
	if proto != "tcp" && proto != "udp" {
		return fmt.Errorf("protocol %q: want tcp or udp", proto)
	}
	return nil
}

// Excluded merges the IPv4 and the IPv6 exclusions: a port excluded for
// either family cannot be bound by a dual-stack server. Ranges listed for
// both are listed once.
func (n *netshReserved) Excluded(ctx context.Context, proto string) ([]Exclusion, error) {
	if err := checkProto(proto); err != nil {
		return nil, err
	}
	var all []Exclusion
	for _, family := range []string{"ipv4", "ipv6"} {
		args := []string{"int", family, "show", "excludedportrange", "protocol=" + proto}
		out, err := n.run(ctx, args...)
		if err != nil {
			return nil, err
		}
		ex, err := ParseExcludedPortRanges(bytes.NewReader(out))
		if err != nil {
			return nil, fmt.Errorf("netsh %s: %w", strings.Join(args, " "), err)
		}
	next:
		for _, e := range ex {
			for _, have := range all {
				if have == e {
					continue next
				}
			}
			all = append(all, e)
		}
	}
	return all, nil
}

// Dynamic reads the IPv4 range, the one outgoing IPv4 connections use; the
// IPv6 one is the same unless someone changed one of them alone.
func (n *netshReserved) Dynamic(ctx context.Context, proto string) (Range, error) {
	if err := checkProto(proto); err != nil {
		return Range{}, err
	}
	args := []string{"int", "ipv4", "show", "dynamicport", proto}
	out, err := n.run(ctx, args...)
	if err != nil {
		return Range{}, err
	}
	r, err := ParseDynamicPortRange(bytes.NewReader(out))
	if err != nil {
		return Range{}, fmt.Errorf("netsh %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

// ErrNetshOutput is wrapped by the parsers' errors: the text is not what
// netsh prints for the command.
var ErrNetshOutput = errors.New("unexpected netsh output")

// ParseExcludedPortRanges parses the output of `netsh int ipv4 show
// excludedportrange protocol=tcp`:
//
//	Protocol tcp Port Exclusion Ranges
//
//	Start Port    End Port
//	----------    --------
//	      5357        5357
//	     50000       50059     *
//
//	* - Administered port exclusions.
//
// The rows are lines of two numbers, with a "*" after administered ranges;
// every other line (headers in any language, the dashes, the footnote) is
// skipped. Output with neither rows nor the dashed line under the header
// is not netsh's table and is an error; a table without rows is no error.
func ParseExcludedPortRanges(r io.Reader) ([]Exclusion, error) {
	var (
		out   []Exclusion
		table bool
		line  int
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line++
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 {
			continue
		}
		if isDashes(f) {
			table = true
			continue
		}
		if len(f) < 2 || len(f) > 3 || !isDigits(f[0]) || !isDigits(f[1]) {
			continue
		}
		if len(f) == 3 && string(f[2]) != "*" {
			continue
		}
		lo, err1 := strconv.ParseUint(string(f[0]), 10, 16)
		hi, err2 := strconv.ParseUint(string(f[1]), 10, 16)
		if err1 != nil || err2 != nil || lo > hi {
			return nil, fmt.Errorf("%w: line %d: %q is not a port range", ErrNetshOutput, line, bytes.TrimSpace(sc.Bytes()))
		}
		out = append(out, Exclusion{Range: Range{uint16(lo), uint16(hi)}, Administered: len(f) == 3})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !table && len(out) == 0 {
		return nil, fmt.Errorf("%w: no table of excluded port ranges", ErrNetshOutput)
	}
	return out, nil
}

// ParseDynamicPortRange parses the output of `netsh int ipv4 show
// dynamicport tcp`:
//
//	Protocol tcp Dynamic Port Range
//	---------------------------------
//	Start Port      : 49152
//	Number of Ports : 16384
//
// The first line that ends in ": number" is the start, the second the
// count, whatever the labels' language.
func ParseDynamicPortRange(r io.Reader) (Range, error) {
	var nums []uint64
	sc := bufio.NewScanner(r)
	for sc.Scan() && len(nums) < 2 {
		b := bytes.TrimSpace(sc.Bytes())
		i := bytes.LastIndexByte(b, ':')
		if i < 0 {
			continue
		}
		v := bytes.TrimSpace(b[i+1:])
		if len(v) == 0 || !isDigits(v) {
			continue
		}
		n, err := strconv.ParseUint(string(v), 10, 32)
		if err != nil {
			return Range{}, fmt.Errorf("%w: %q is not a number", ErrNetshOutput, v)
		}
		nums = append(nums, n)
	}
	if err := sc.Err(); err != nil {
		return Range{}, err
	}
	if len(nums) < 2 {
		return Range{}, fmt.Errorf("%w: no start port and number of ports", ErrNetshOutput)
	}
	start, count := nums[0], nums[1]
	if start < 1 || count < 1 || start+count-1 > 65535 {
		return Range{}, fmt.Errorf("%w: %d ports from %d do not fit in 1-65535", ErrNetshOutput, count, start)
	}
	return Range{uint16(start), uint16(start + count - 1)}, nil
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func isDashes(f [][]byte) bool {
	for _, w := range f {
		if len(bytes.Trim(w, "-")) != 0 {
			return false
		}
	}
	return true
}

// ExcludedAt returns the exclusion that holds port p, if any.
func ExcludedAt(ex []Exclusion, p uint16) (Exclusion, bool) {
	for _, e := range ex {
		if e.Contains(p) {
			return e, true
		}
	}
	return Exclusion{}, false
}

// WithoutExcluded returns ranges less every excluded port: where `free`
// may look.
func WithoutExcluded(ranges []Range, ex []Exclusion) []Range {
	out := append([]Range(nil), ranges...)
	for _, e := range ex {
		var next []Range
		for _, r := range out {
			next = append(next, subtract(r, e.Range)...)
		}
		out = next
	}
	return out
}

// Explain says, in a sentence for a user, why port p cannot be bound:
// "port 50010 is in the range 50000-50059 that Windows excludes (reserved by
// an administrator): ...".
func (e Exclusion) Explain(p uint16) string {
	who := "reserved by Hyper-V, WinNAT, WSL 2 or Docker"
	if e.Administered {
		who = "reserved by an administrator"
	}
	return fmt.Sprintf("port %d is in the range %s that Windows excludes (%s): "+
		"binding it fails with \"access forbidden\" although no process holds it; "+
		"see `netsh int ipv4 show excludedportrange protocol=tcp`", p, e.Range, who)
}

// ExplainDynamic says, when p lies in the dynamic range dyn, that the OS
// may hand it to any outgoing connection, and returns "" otherwise.
func ExplainDynamic(p uint16, dyn Range) string {
	if !dyn.Contains(p) {
		return ""
	}
	who := "the system"
	if runtime.GOOS == "windows" {
		who = "Windows"
	}
	return fmt.Sprintf("port %d is in the dynamic port range %s, from which %s picks "+
		"the local port of every outgoing connection: another program may hold it for a while", p, dyn, who)
}

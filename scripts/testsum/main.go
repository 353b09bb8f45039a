// Command testsum reads `go test -json` from stdin and prints what a person
// needs: each package's result, the output of every failed test, and a last
// line "N passed, N failed, N skipped". It exits 1 when anything failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	prefix := ""
	if len(os.Args) > 1 {
		prefix = os.Args[1] + " "
	}
	var passed, failed, skipped int
	output := map[string]*strings.Builder{}
	var failures []string
	pkgFailed := map[string]bool{}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Build errors and other non-JSON lines.
			fmt.Println(string(line))
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			b := output[key]
			if b == nil {
				b = &strings.Builder{}
				output[key] = b
			}
			if b.Len() < 64<<10 {
				b.WriteString(e.Output)
			}
		case "pass":
			if e.Test != "" {
				passed++
			} else {
				fmt.Printf("ok   %s (%.1fs)\n", e.Package, e.Elapsed)
			}
			delete(output, key)
		case "skip":
			if e.Test != "" {
				skipped++
				if b := output[key]; b != nil && !strings.Contains(e.Test, "/") {
					fmt.Printf("skip %s %s: %s", e.Package, e.Test, lastLine(b.String()))
				}
			} else {
				fmt.Printf("--   %s (no tests)\n", e.Package)
			}
			delete(output, key)
		case "fail":
			if e.Test != "" {
				failed++
				failures = append(failures, key)
			} else {
				pkgFailed[e.Package] = true
				fmt.Printf("FAIL %s (%.1fs)\n", e.Package, e.Elapsed)
			}
		}
	}
	sort.Strings(failures)
	for _, k := range failures {
		fmt.Printf("\n=== failed: %s\n%s", k, output[k])
	}
	for p := range pkgFailed {
		if b := output[p+" "]; b != nil && !hasFailedTest(failures, p) {
			fmt.Printf("\n=== package %s failed:\n%s", p, b.String())
			failed++
		}
	}
	fmt.Printf("\n%s%d passed, %d failed, %d skipped\n", prefix, passed, failed, skipped)
	if failed > 0 {
		os.Exit(1)
	}
}

func hasFailedTest(failures []string, pkg string) bool {
	for _, f := range failures {
		if strings.HasPrefix(f, pkg+" ") {
			return true
		}
	}
	return false
}

// lastLine returns the last line of a test's output that is not one of the
// test runner's own: for a skipped test, the reason it gave.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "--- ") && !strings.HasPrefix(l, "=== ") {
			return l + "\n"
		}
	}
	return "\n"
}

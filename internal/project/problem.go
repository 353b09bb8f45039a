package project

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Kind says what sort of mistake a Problem is, for code that reacts to one
// kind (a runner that keeps its services when an edit breaks the file) and
// for --json.
type Kind string

// The kinds of problems a project file can have.
const (
	Syntax         Kind = "syntax"          // not TOML
	UnknownKey     Kind = "unknown key"     // a key the file does not have
	WrongType      Kind = "wrong type"      // a string where a number belongs, ...
	Missing        Kind = "missing"         // a required key is absent (run)
	BadValue       Kind = "bad value"       // empty run, restart = "always", ...
	BadName        Kind = "bad name"        // a service name that is not a DNS label
	BadPort        Kind = "bad port"        // outside 1-65535
	PortClash      Kind = "port clash"      // two services on one port
	PortHeld       Kind = "port held"       // a fixed port another process listens on
	UnknownService Kind = "unknown service" // after = ["dbb"], ${dbb.port}
	BadReference   Kind = "bad reference"   // ${...} that is malformed or names no field
	Cycle          Kind = "cycle"           // after goes round: db → api → db
	NoServices     Kind = "no services"     // a file without one service
)

// Problem is one mistake in a project file, where it is and what would be
// right.
type Problem struct {
	File   string // as the user named it, or found relative to the folder
	Line   int    // 1-based
	Column int    // 1-based, in bytes (as Go and go-toml count)
	// Key is the key the problem is about, written as in the file:
	// services.api.port, services.api.after[0], services.api.env.URL.
	Key  string
	Kind Kind
	// Msg says what is wrong, Hint what would be right (or what to run).
	Msg  string
	Hint string
}

// Error is the problem on one line: file:line:col: key: what is wrong.
func (p Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", p.File, p.Line, p.Column)
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every mistake found in a file, in the order of the file.
type Problems []Problem

func (ps Problems) Error() string {
	switch len(ps) {
	case 0:
		return "no problems"
	case 1:
		return ps[0].Error()
	}
	return fmt.Sprintf("%s (and %d more)", ps[0].Error(), len(ps)-1)
}

// sort puts problems in the order of the file, then by key, so that output
// does not depend on map order.
func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Key, b.Key), cmp.Compare(a.Msg, b.Msg))
	})
}

// suggest returns the candidate nearest to word, if it is near enough to be
// what was meant: at most two edits (one for words of three letters or less).
func suggest(word string, candidates []string) (string, bool) {
	best, bestD := "", 3
	for _, c := range candidates {
		d := distance(strings.ToLower(word), strings.ToLower(c))
		if d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(word) <= 3 {
		limit = 1
	}
	if best == "" || bestD > limit {
		return "", false
	}
	return best, true
}

// distance is the optimal string alignment distance between a and b: the
// edits are insertions, deletions, substitutions and swaps of neighbours
// ("prot" is one edit from "port").
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Nothing that long is a typo of a key.
		return max(len(ra), len(rb))
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// quoteAll writes names as "a", "b" and "c".
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return "none"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

package project

import (
	"bytes"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// go-toml decodes a document into values but keeps no positions for them,
// and its strict mode stops at the first value of the wrong type. So the
// file is decoded twice: toml.Unmarshal into plain maps checks the TOML and
// gives the values, and a walk over unstable.Parser's syntax tree remembers
// where each key and value is written. Problems then point at the very key,
// value, array element or ${...} they are about.

// source is a document and where its keys and values are.
type source struct {
	name  string
	doc   []byte
	lines []int // offset of each line's first byte

	keys map[string]int    // path → offset of the key (its last part), first written
	vals map[string]valPos // path → where its value is written
	// at is the path of the key written at each offset, every time it
	// is written: a key defined twice is found at its second place too.
	at map[int][]string
	// whole is the full path of each dotted key, at the offset of its
	// first part, as go-toml points at a table defined twice.
	whole map[int][]string
}

// valPos is where a value is written. content is the offset of a string's
// first character when offsets in the decoded string match the document
// (no escapes), else -1.
type valPos struct {
	off     int
	content int
}

// pathKey joins the parts of a key path for the maps; array elements are
// parts made with index.
func pathKey(parts ...string) string { return strings.Join(parts, "\x00") }

// index is the path part of an array's i-th element.
func index(i int) string { return "\x01" + strconv.Itoa(i) }

// displayKey writes a path as TOML would: services.api.after[0], with quotes
// around parts that are not bare keys.
func displayKey(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if strings.HasPrefix(p, "\x01") {
			b.WriteString("[" + p[1:] + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if isBareKey(p) {
			b.WriteString(p)
		} else {
			b.WriteString(strconv.Quote(p))
		}
	}
	return b.String()
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newSource walks doc and records where every key and value is. A document
// that is not TOML is walked up to its first mistake.
func newSource(name string, doc []byte) *source {
	s := &source{name: name, doc: doc, keys: map[string]int{}, vals: map[string]valPos{}, at: map[int][]string{}, whole: map[int][]string{}}
	s.lines = append(s.lines, 0)
	for i, c := range doc {
		if c == '\n' {
			s.lines = append(s.lines, i+1)
		}
	}
	var p unstable.Parser
	p.Reset(doc)
	var table []string
	arrays := map[string]int{}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			it := e.Key()
			parts, _ := s.keyParts(nil, &it)
			if e.Kind == unstable.ArrayTable {
				k := pathKey(parts...)
				parts = append(parts, index(arrays[k]))
				arrays[k]++
			}
			table = parts
		case unstable.KeyValue:
			s.keyValue(&p, table, e)
		}
	}
	// p.Error() is not looked at: toml.Unmarshal has said it already.
	return s
}

// keyParts records the position of each part of a dotted key under base and
// returns the full path and the offset just past the key.
func (s *source) keyParts(base []string, it *unstable.Iterator) ([]string, int) {
	parts := append([]string(nil), base...)
	end, start := 0, -1
	for it.Next() {
		n := it.Node()
		if start < 0 {
			start = int(n.Raw.Offset)
		}
		parts = append(parts, string(n.Data))
		k := pathKey(parts...)
		if _, ok := s.keys[k]; !ok {
			s.keys[k] = int(n.Raw.Offset)
		}
		s.at[int(n.Raw.Offset)] = slices.Clone(parts)
		end = int(n.Raw.Offset + n.Raw.Length)
	}
	if start >= 0 {
		s.whole[start] = slices.Clone(parts)
	}
	return parts, end
}

func (s *source) keyValue(p *unstable.Parser, base []string, kv *unstable.Node) {
	it := kv.Key()
	parts, keyEnd := s.keyParts(base, &it)
	// Arrays carry no range of their own: they start at the first '[' after
	// the '=' that follows the key.
	s.value(p, parts, kv.Value(), keyEnd)
}

func (s *source) value(p *unstable.Parser, path []string, v *unstable.Node, near int) {
	vp := valPos{off: int(v.Raw.Offset), content: -1}
	switch v.Kind {
	case unstable.Array:
		vp.off = near
		if i := bytes.IndexByte(s.doc[near:], '['); i >= 0 {
			vp.off = near + i
		}
	case unstable.String:
		vp.content = stringContent(p.Raw(v.Raw), vp.off)
	}
	s.vals[pathKey(path...)] = vp
	switch v.Kind {
	case unstable.Array:
		it := v.Children()
		for i := 0; it.Next(); {
			n := it.Node()
			if n.Kind == unstable.Comment {
				continue
			}
			s.value(p, append(path[:len(path):len(path)], index(i)), n, vp.off+1)
			i++
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if n := it.Node(); n.Kind == unstable.KeyValue {
				s.keyValue(p, path, n)
			}
		}
	}
}

// stringContent returns the offset of the decoded string's first byte in the
// document, or -1 when escapes make decoded offsets differ from the
// document's.
func stringContent(raw []byte, off int) int {
	switch {
	case bytes.HasPrefix(raw, []byte(`"""`)):
		if bytes.IndexByte(raw, '\\') >= 0 {
			return -1
		}
		return off + 3 + leadingNewline(raw[3:])
	case bytes.HasPrefix(raw, []byte(`'''`)):
		return off + 3 + leadingNewline(raw[3:])
	case bytes.HasPrefix(raw, []byte(`"`)):
		if bytes.IndexByte(raw, '\\') >= 0 {
			return -1
		}
		return off + 1
	case bytes.HasPrefix(raw, []byte(`'`)):
		return off + 1
	}
	return -1
}

// leadingNewline is the length of the newline TOML trims right after the
// opening quotes of a multi-line string.
func leadingNewline(b []byte) int {
	switch {
	case bytes.HasPrefix(b, []byte("\r\n")):
		return 2
	case bytes.HasPrefix(b, []byte("\n")):
		return 1
	}
	return 0
}

// offset turns a 1-based line and column back into an offset.
func (s *source) offset(line, col int) int {
	if line < 1 || line > len(s.lines) {
		return -1
	}
	return s.lines[line-1] + col - 1
}

// lineCol turns an offset into a 1-based line and column.
func (s *source) lineCol(off int) (int, int) {
	i := sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > off }) - 1
	i = max(i, 0)
	return i + 1, off - s.lines[i] + 1
}

// problem makes a Problem at offset off.
func (s *source) problem(off int, kind Kind, key []string, msg, hint string) Problem {
	line, col := s.lineCol(off)
	return Problem{File: s.name, Line: line, Column: col, Key: displayKey(key...), Kind: kind, Msg: msg, Hint: hint}
}

// keyOff is where the key at path is written (its nearest written parent
// when the key itself is not, as a table made by a dotted key below it).
func (s *source) keyOff(path []string) int {
	for n := len(path); n > 0; n-- {
		if off, ok := s.keys[pathKey(path[:n]...)]; ok {
			return off
		}
		if vp, ok := s.vals[pathKey(path[:n]...)]; ok {
			return vp.off
		}
	}
	return 0
}

// valOff is where the value at path is written (or its key, for a table).
func (s *source) valOff(path []string) int {
	if vp, ok := s.vals[pathKey(path...)]; ok {
		return vp.off
	}
	return s.keyOff(path)
}

// strOff is where byte i of the string at path is written; the string's
// start when escapes hide it.
func (s *source) strOff(path []string, i int) int {
	vp, ok := s.vals[pathKey(path...)]
	if !ok {
		return s.keyOff(path)
	}
	if vp.content < 0 {
		return vp.off
	}
	return vp.content + i
}

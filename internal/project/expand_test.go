package project

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTemplate(t *testing.T) {
	vals := map[string]string{"port": "4000", "url": "http://api.localhost:62893",
		"db.port": "5433", "db.url": "http://db.localhost:62893", "my-svc.port": "7"}
	value := func(r Ref) string {
		k := r.Field
		if r.Service != "" {
			k = r.Service + "." + r.Field
		}
		return vals[k]
	}
	tests := []struct {
		name, in string
		want     string // expanded, when there are no errors
		refs     []Ref
		errs     []int // offsets of the errors
	}{
		{name: "plain", in: "npm start", want: "npm start"},
		{name: "empty", in: "", want: ""},
		{name: "own port", in: "-p ${port}", want: "-p 4000", refs: []Ref{{Field: "port", Off: 3, Len: 7}}},
		{name: "own url", in: "${url}/x", want: "http://api.localhost:62893/x", refs: []Ref{{Field: "url", Off: 0, Len: 6}}},
		{name: "other's port", in: "localhost:${db.port}/app", want: "localhost:5433/app",
			refs: []Ref{{Service: "db", Field: "port", Off: 10, Len: 10}}},
		{name: "dash in name", in: "${my-svc.port}", want: "7", refs: []Ref{{Service: "my-svc", Field: "port", Off: 0, Len: 14}}},
		{name: "two", in: "${port}${db.port}", want: "40005433",
			refs: []Ref{{Field: "port", Off: 0, Len: 7}, {Service: "db", Field: "port", Off: 7, Len: 10}}},
		{name: "dollar dollar", in: "echo $$", want: "echo $"},
		{name: "escaped reference", in: "$${port}", want: "${port}"},
		{name: "shell variable", in: "echo $HOME \"$@\" $1", want: "echo $HOME \"$@\" $1"},
		{name: "trailing dollar", in: "cost: 5$", want: "cost: 5$"},
		{name: "three dollars", in: "$$$", want: "$$"},
		{name: "dollars before a reference", in: "$$${port}", want: "$4000", refs: []Ref{{Field: "port", Off: 2, Len: 7}}},
		{name: "brace alone", in: "a } b {", want: "a } b {"},
		{name: "unclosed", in: "x ${port", errs: []int{2}},
		{name: "empty reference", in: "${}", errs: []int{0}},
		{name: "shell's braces", in: "cd ${HOME} && ${port}", errs: []int{3}, refs: []Ref{{Field: "port", Off: 14, Len: 7}}},
		{name: "typo of field", in: "${prot}", errs: []int{0}},
		{name: "typo of other's field", in: "${db.prot}", errs: []int{0}},
		{name: "spaces", in: "${ port }", errs: []int{0}},
		{name: "too many dots", in: "${a.b.port}", errs: []int{0}},
		{name: "leading dot", in: "${.port}", errs: []int{0}},
		{name: "all errors", in: "${a} ${b} ${c", errs: []int{0, 5, 10}},
		{name: "multi-byte text", in: "héllo ${port} wörld", want: "héllo 4000 wörld", refs: []Ref{{Field: "port", Off: 7, Len: 7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, errs := parseTemplate(tt.in)
			var offs []int
			for _, e := range errs {
				offs = append(offs, e.off)
				if e.msg == "" || e.hint == "" {
					t.Errorf("parseTemplate(%q) error %+v; want a message and a hint", tt.in, e)
				}
			}
			if d := cmp.Diff(tt.errs, offs); d != "" {
				t.Errorf("parseTemplate(%q) error offsets (-want +got):\n%s", tt.in, d)
			}
			if d := cmp.Diff(tt.refs, tm.refs()); d != "" {
				t.Errorf("parseTemplate(%q) refs (-want +got):\n%s", tt.in, d)
			}
			if len(errs) == 0 {
				if got := tm.expand(value); got != tt.want {
					t.Errorf("parseTemplate(%q).expand = %q; want %q", tt.in, got, tt.want)
				}
			}
		})
	}
}

func TestParseRefHints(t *testing.T) {
	tests := []struct {
		in, hint string
	}{
		{"${prot}", "did you mean ${port}?"},
		{"${ulr}", "did you mean ${url}?"},
		{"${db.prot}", "did you mean ${db.port}?"},
		{"${db.name}", "a service has ${db.port} and ${db.url}"},
		{"${HOME}", "for the shell's own ${HOME}, write $${HOME}"},
		{"${ port }", "write ${port}"},
		{"${port", "$$ for a literal $"},
	}
	for _, tt := range tests {
		_, errs := parseTemplate(tt.in)
		if len(errs) != 1 || !strings.Contains(errs[0].hint, tt.hint) {
			t.Errorf("parseTemplate(%q) = %+v; want one error with hint %q", tt.in, errs, tt.hint)
		}
	}
}

// FuzzTemplate: parsing never panics, offsets stay inside the string, what
// parses writes back to itself, and any text escaped with Escape expands to
// itself.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"", "npm start", "-p ${port}", "${db.port}/${db.url}", "$$", "$${port}", "$$$",
		"${", "${}", "${a.b.c}", "${ port }", "echo $HOME", "x}${y", "héllo ${port}", "$\x00{port}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, errs := parseTemplate(s)
		for _, e := range errs {
			if e.off < 0 || e.off >= len(s) || s[e.off] != '$' {
				t.Fatalf("parseTemplate(%q): error at %d, not at a $", s, e.off)
			}
		}
		for _, r := range tm.refs() {
			if r.Off < 0 || r.Off+r.Len > len(s) || s[r.Off:r.Off+r.Len] != r.String() {
				t.Fatalf("parseTemplate(%q): ref %+v does not match the text", s, r)
			}
		}
		if len(errs) == 0 {
			again, errs2 := parseTemplate(tm.source())
			if len(errs2) > 0 || !cmp.Equal(render(again), render(tm)) {
				t.Fatalf("parseTemplate(%q).source() = %q parses differently", s, tm.source())
			}
		}
		lit, errs3 := parseTemplate(Escape(s))
		if len(errs3) > 0 || len(lit.refs()) > 0 {
			t.Fatalf("parseTemplate(Escape(%q)) = %v, %v; want text only", s, lit.refs(), errs3)
		}
		if got := lit.expand(func(Ref) string { return "?" }); got != s {
			t.Fatalf("Escape(%q) expands to %q", s, got)
		}
	})
}

// render is a template's text with references marked, for comparing two.
func render(t template) string {
	return t.expand(func(r Ref) string { return "\x00" + r.String() + "\x00" })
}

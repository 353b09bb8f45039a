package project

import (
	"fmt"
	"strings"
)

// References in run, env and ready:
//
//	${port}        the service's own port
//	${url}         the service's own URL, http://NAME.localhost:62893
//	${NAME.port}   service NAME's port
//	${NAME.url}    service NAME's URL
//	$$             a literal $
//
// A $ followed by anything else is itself, so the shell still sees $HOME and
// "$@". ${...} is always homeport's: the shell's ${HOME} is written $${HOME}.

// Fields a reference can name.
var refFields = []string{"port", "url"}

// Ref is one ${...} in a string.
type Ref struct {
	Service string // "" for the service's own
	Field   string // "port" or "url"
	Off     int    // byte offset of the "${" in the string
	Len     int    // length of the whole ${...}
}

func (r Ref) String() string {
	if r.Service == "" {
		return "${" + r.Field + "}"
	}
	return "${" + r.Service + "." + r.Field + "}"
}

// template is a string cut into literal text and references.
type template struct {
	segs []segment
}

type segment struct {
	lit string // when ref is nil
	ref *Ref
}

// refError is a malformed ${...}: off and length within the string.
type refError struct {
	off  int
	msg  string
	hint string
}

// parseTemplate cuts s into text and references. It reads all of s and
// reports every malformed reference; text after an unclosed "${" is kept
// as text.
func parseTemplate(s string) (template, []refError) {
	var t template
	var errs []refError
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			lit.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			lit.WriteByte('$')
			i += 2
			continue
		case '{':
		default:
			lit.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			errs = append(errs, refError{off: i,
				msg:  fmt.Sprintf("%q is not closed with }", clip(s[i:])),
				hint: "write ${port} or ${NAME.port}, or $$ for a literal $"})
			lit.WriteString(s[i:])
			break
		}
		body := s[i+2 : i+2+end]
		whole := s[i : i+3+end]
		ref, rerr := parseRef(body)
		if rerr != nil {
			rerr.off = i
			if rerr.msg == "" {
				rerr.msg = fmt.Sprintf("%s is not a reference homeport knows", whole)
			}
			errs = append(errs, *rerr)
			lit.WriteString(whole)
		} else {
			ref.Off, ref.Len = i, len(whole)
			flush()
			t.segs = append(t.segs, segment{ref: &ref})
		}
		i += len(whole)
	}
	flush()
	return t, errs
}

// parseRef reads what is inside ${...}.
func parseRef(body string) (Ref, *refError) {
	known := "homeport expands ${port}, ${url}, ${NAME.port} and ${NAME.url}"
	if body == "" {
		return Ref{}, &refError{msg: "${} names nothing", hint: known + "; write $$ for a literal $"}
	}
	if t := strings.TrimSpace(body); t != body && t != "" {
		return Ref{}, &refError{msg: fmt.Sprintf("${%s} has spaces", body), hint: fmt.Sprintf("write ${%s}", t)}
	}
	service, field, dotted := strings.Cut(body, ".")
	if !dotted {
		service, field = "", body
	}
	if dotted && (service == "" || strings.Contains(field, ".") || !isRefWord(service)) || !isRefWord(field) {
		return Ref{}, &refError{hint: known + "; for the shell's own ${" + body + "}, write $${" + body + "}"}
	}
	switch field {
	case "port", "url":
		return Ref{Service: service, Field: field}, nil
	}
	prefix := ""
	if dotted {
		prefix = service + "."
	}
	if s, ok := suggest(field, refFields); ok {
		return Ref{}, &refError{hint: fmt.Sprintf("did you mean ${%s%s}?", prefix, s)}
	}
	if !dotted {
		return Ref{}, &refError{hint: known + "; for the shell's own ${" + body + "}, write $${" + body + "}"}
	}
	return Ref{}, &refError{hint: fmt.Sprintf("a service has ${%sport} and ${%surl}", prefix, prefix)}
}

// isRefWord: what a service name or field may be made of, in any case (a
// reference to a misspelt name is reported as that, not as garbage).
func isRefWord(s string) bool {
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

// clip shortens s for a message.
func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// refs returns the template's references.
func (t template) refs() []Ref {
	var rs []Ref
	for _, s := range t.segs {
		if s.ref != nil {
			rs = append(rs, *s.ref)
		}
	}
	return rs
}

// expand writes the template with each reference replaced by value(ref).
func (t template) expand(value func(Ref) string) string {
	var b strings.Builder
	for _, s := range t.segs {
		if s.ref != nil {
			b.WriteString(value(*s.ref))
		} else {
			b.WriteString(s.lit)
		}
	}
	return b.String()
}

// source writes the template back as it could be written in the file:
// literal text escaped, references as ${...}.
func (t template) source() string {
	var b strings.Builder
	for _, s := range t.segs {
		if s.ref != nil {
			b.WriteString(s.ref.String())
		} else {
			b.WriteString(Escape(s.lit))
		}
	}
	return b.String()
}

// Escape writes s so that it expands to itself: every $ doubled.
func Escape(s string) string { return strings.ReplaceAll(s, "$", "$$") }

package router

import (
	"fmt"
	"unicode/utf8"
)

// MaxNameLen is the longest route name: one DNS label (RFC 1035 §2.3.4).
const MaxNameLen = 63

// NameError says why a string is not a route name, and where: Pos is the
// byte offset of the offending character (-1 when the name as a whole is
// wrong: empty or too long).
type NameError struct {
	Name    string
	Pos     int
	Char    rune // the offending character, utf8.RuneError for a bad byte
	Problem NameProblem
}

// NameProblem is the kind of a NameError.
type NameProblem int

const (
	NameEmpty        NameProblem = iota + 1 // ""
	NameTooLong                             // more than MaxNameLen bytes
	NameBadChar                             // a character other than a-z, 0-9, "-"
	NameHyphenAtEdge                        // starts or ends with "-"
)

func (e *NameError) Error() string {
	switch e.Problem {
	case NameEmpty:
		return "a route name cannot be empty"
	case NameTooLong:
		return fmt.Sprintf("route name %q is %d characters long; a name has at most %d", e.Name, len(e.Name), MaxNameLen)
	case NameHyphenAtEdge:
		if e.Pos == 0 {
			return fmt.Sprintf("route name %q starts with %q; a name starts and ends with a letter or digit", e.Name, "-")
		}
		return fmt.Sprintf("route name %q ends with %q; a name starts and ends with a letter or digit", e.Name, "-")
	default:
		ch := fmt.Sprintf("%q", e.Char)
		if e.Char == utf8.RuneError {
			ch = fmt.Sprintf("byte %#02x", e.Name[e.Pos])
		}
		return fmt.Sprintf("route name %q has %s at position %d; a name has only letters, digits and %q", e.Name, ch, e.Pos+1, "-")
	}
}

// ParseName checks that s is a route name, a DNS label (letters, digits and
// "-", not at either end, at most 63 characters), and returns it in lower
// case: browsers fold the case of host names, so "API" and "api" are one
// route. The error is a *NameError naming the offending character.
func ParseName(s string) (string, error) {
	if s == "" {
		return "", &NameError{Name: s, Pos: -1, Problem: NameEmpty}
	}
	lower := true
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if i == 0 || i == len(s)-1 {
				return "", &NameError{Name: s, Pos: i, Char: '-', Problem: NameHyphenAtEdge}
			}
		case c >= 'A' && c <= 'Z':
			lower = false
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return "", &NameError{Name: s, Pos: i, Char: r, Problem: NameBadChar}
		}
		i++
	}
	// Length last: "my_very_long…" is better told about its "_" first.
	if len(s) > MaxNameLen {
		return "", &NameError{Name: s, Pos: -1, Problem: NameTooLong}
	}
	if lower {
		return s, nil
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b), nil
}

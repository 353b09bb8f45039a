package procs

import (
	"bytes"
	"fmt"
	"strconv"
)

// Stat is what homeport needs from Linux's /proc/<pid>/stat.
type Stat struct {
	PID        int
	Name       string // comm: may contain spaces, parentheses and newlines
	State      byte
	PPID       int
	StartTicks uint64 // field 22: start time in clock ticks after boot
}

// ParseStat parses the contents of /proc/<pid>/stat (proc(5)).
//
// The name sits in parentheses and may itself contain ")" or a newline
// ("nc (", "a) b"), so it runs from the first "(" to the LAST ")": the fields
// after it never contain one. `ss` gets this wrong; we must not.
func ParseStat(b []byte) (Stat, error) {
	var st Stat
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return st, fmt.Errorf("malformed stat: no (name)")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid < 0 {
		return st, fmt.Errorf("malformed stat: pid %q", bytes.TrimSpace(b[:open]))
	}
	st.PID = pid
	st.Name = string(b[open+1 : closing])

	// Fields after the name, 1-based as in proc(5): 3 state, 4 ppid, ...,
	// 22 starttime. Walk them without splitting the whole line.
	rest := b[closing+1:]
	field := 2
	for len(rest) > 0 && field < 22 {
		rest = bytes.TrimLeft(rest, " ")
		if len(rest) == 0 {
			break
		}
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		tok := bytes.TrimRight(rest[:end], "\n")
		field++
		switch field {
		case 3:
			if len(tok) != 1 {
				return st, fmt.Errorf("malformed stat: state %q", tok)
			}
			st.State = tok[0]
		case 4:
			ppid, err := strconv.Atoi(string(tok))
			if err != nil || ppid < 0 {
				return st, fmt.Errorf("malformed stat: ppid %q", tok)
			}
			st.PPID = ppid
		case 22:
			ticks, err := strconv.ParseUint(string(tok), 10, 64)
			if err != nil {
				return st, fmt.Errorf("malformed stat: starttime %q", tok)
			}
			st.StartTicks = ticks
		}
		rest = rest[end:]
	}
	if field < 22 {
		return st, fmt.Errorf("malformed stat: %d fields after the name, want at least 20", field-2)
	}
	return st, nil
}

// ParseCmdline splits the contents of /proc/<pid>/cmdline (NUL-separated,
// usually NUL-terminated) into arguments.
func ParseCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	n := bytes.Count(b, []byte{0}) + 1
	args := make([]string, 0, n)
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			args = append(args, string(b))
			break
		}
		args = append(args, string(b[:i]))
		b = b[i+1:]
	}
	return args
}

package procs

import (
	"bytes"
	"os"
	"strconv"
)

func chain(pid int) []Ancestor {
	var out []Ancestor
	st, _, err := readStatTTY(pid)
	if err != nil {
		return nil
	}
	for ppid := st.PPID; ppid > 1 && len(out) < maxChain; {
		pst, tty, err := readStatTTY(ppid)
		if err != nil {
			break
		}
		a := Ancestor{PID: ppid, Name: pst.Name, TTY: tty, Cmdline: []string{}}
		if cl, err := os.ReadFile("/proc/" + strconv.Itoa(ppid) + "/cmdline"); err == nil {
			if args := ParseCmdline(cl); args != nil {
				a.Cmdline = args
			}
		}
		out = append(out, a)
		if pst.PPID == ppid {
			break
		}
		ppid = pst.PPID
	}
	return out
}

// readStatTTY reads /proc/<pid>/stat and names its controlling terminal.
func readStatTTY(pid int) (Stat, string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, "", err
	}
	st, err := ParseStat(b)
	if err != nil {
		return st, "", err
	}
	return st, ttyName(statTTY(b)), nil
}

// statTTY returns field 7 of /proc/<pid>/stat, tty_nr (proc(5)), or 0. The
// fields after the name are found as ParseStat finds them: after the last
// ")".
func statTTY(b []byte) int {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so tty_nr, field 7, is f[4].
	if len(f) < 5 {
		return 0
	}
	n, err := strconv.ParseInt(string(f[4]), 10, 32)
	if err != nil {
		return 0
	}
	return int(n)
}

// ttyName names a tty_nr device number as ps does: "pts/3", "tty1",
// "ttyS0"; "" for none. The minor number is in bits 31-20 and 7-0, the
// major in bits 15-8 (proc(5)).
func ttyName(nr int) string {
	if nr <= 0 {
		return ""
	}
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case major >= 136 && major <= 143: // Unix98 pseudo-terminal slaves
		return "pts/" + strconv.Itoa((major-136)<<8|minor)
	case major == 4 && minor < 64:
		return "tty" + strconv.Itoa(minor)
	case major == 4:
		return "ttyS" + strconv.Itoa(minor-64)
	}
	return "tty" + strconv.Itoa(major) + ":" + strconv.Itoa(minor)
}

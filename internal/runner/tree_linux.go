package runner

import (
	"bytes"
	"os"
	"strconv"

	"homeport/internal/procs"
)

// proc is what tree and groupSize need of one process.
type proc struct {
	pid, ppid, pgrp int
	zombie          bool
}

// scan reads every process's parent and group from /proc.
func scan() []proc {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	out := make([]proc, 0, len(names))
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + n + "/stat")
		if err != nil {
			continue
		}
		st, err := procs.ParseStat(b)
		if err != nil {
			continue
		}
		out = append(out, proc{pid: st.PID, ppid: st.PPID, pgrp: statPgrp(b), zombie: st.State == 'Z'})
	}
	return out
}

// statPgrp returns field 5 of a /proc/<pid>/stat that ParseStat accepted
// (the fields after the name's last ")": state, ppid, pgrp); 0 when it is
// not a number.
func statPgrp(b []byte) int {
	f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	if len(f) < 3 {
		return 0
	}
	n, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return 0
	}
	return n
}

// tree returns pid, its descendants, and the other members of the process
// group pid leads (a server a wrapper forked, and whose parent has gone).
func tree(pid int) []int {
	all := scan()
	kids := map[int][]int{}
	for _, p := range all {
		kids[p.ppid] = append(kids[p.ppid], p.pid)
	}
	seen := map[int]bool{pid: true}
	out := []int{pid}
	for _, p := range all {
		if p.pgrp == pid && !seen[p.pid] {
			seen[p.pid] = true
			out = append(out, p.pid)
		}
	}
	for i := 0; i < len(out); i++ {
		for _, c := range kids[out[i]] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// groupSize counts the live (not zombie) members of process group pgid.
func groupSize(pgid int) int {
	n := 0
	for _, p := range scan() {
		if p.pgrp == pgid && !p.zombie {
			n++
		}
	}
	return n
}

//go:build !linux

package procs

// chain walks the parents through Get; these systems keep no controlling
// terminal homeport reads.
func chain(pid int) []Ancestor {
	p, err := Get(pid)
	if err != nil {
		return nil
	}
	var out []Ancestor
	seen := map[int]bool{pid: true}
	for ppid := p.PPID; ppid > 1 && !seen[ppid] && len(out) < maxChain; {
		seen[ppid] = true
		q, err := Get(ppid)
		if err != nil {
			break
		}
		a := Ancestor{PID: ppid, Name: q.Name, Cmdline: q.Cmdline}
		if a.Cmdline == nil {
			a.Cmdline = []string{}
		}
		out = append(out, a)
		ppid = q.PPID
	}
	return out
}

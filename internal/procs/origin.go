package procs

import (
	"io/fs"
	"os"
	"runtime"
	"strconv"
)

// Origin is where a process comes from: the folder and project it was
// started in, the processes that started it, and the service or container
// that runs it. Reading one costs a dozen small reads of /proc and the file
// system, so homeport reads origins only for the owners it shows.
type Origin struct {
	Cwd     string     `json:"cwd,omitempty"`
	Project *Project   `json:"project,omitempty"`
	Chain   []Ancestor `json:"chain"`
	Cgroup  *Cgroup    `json:"cgroup,omitempty"`
}

// OriginOf reads the origin of a process. Parts the OS does not reveal
// (another user's process when not root, a system without cgroups) stay
// empty.
func OriginOf(pid int) Origin {
	o := Origin{Chain: Chain(pid)}
	if o.Chain == nil {
		o.Chain = []Ancestor{}
	}
	if d, err := Cwd(pid); err == nil {
		o.Cwd = d
		if p, ok := FindProject(Root(pid), d); ok {
			o.Project = &p
		}
	}
	if c, err := CgroupOf(pid); err == nil {
		o.Cgroup = &c
	}
	return o
}

// Root is the file system as pid sees it: on Linux its root through /proc,
// so that a process in a container or a chroot has its project found in its
// own tree, not in the host's folder of the same name.
func Root(pid int) fs.FS {
	if runtime.GOOS == "linux" {
		return os.DirFS("/proc/" + strconv.Itoa(pid) + "/root")
	}
	return os.DirFS("/")
}

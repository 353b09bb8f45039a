package procs

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Cgroup is what a process's control group says about who runs it: the
// systemd unit (so that `kill` can name the service that would restart it)
// and the container it lives in (so that it can be named by container).
type Cgroup struct {
	// Path is the process's cgroup: the unified (v2) path, or on cgroup v1
	// the name=systemd hierarchy's, else the first controller's that is not
	// the root.
	Path string `json:"path"`

	// Unit is the innermost systemd unit holding the process:
	// "redis-server.service", "session-2.scope", "docker-<id>.scope".
	// Empty when the cgroup tree is not systemd's.
	Unit string `json:"unit,omitempty"`

	// UserUID is the uid of the user manager (user@UID.service) that owns
	// Unit, or -1 when the unit is the system manager's.
	UserUID int `json:"user_manager_uid"`

	// Runtime and ContainerID name the container the process runs in:
	// Runtime is "docker", "podman", "containerd", "cri-o", or "cri" for a
	// Kubernetes container whose runtime the path does not tell.
	// ContainerID is the full 64-digit hexadecimal id.
	Runtime     string `json:"runtime,omitempty"`
	ContainerID string `json:"container_id,omitempty"`

	// Pod is the Kubernetes pod UID (with dashes) for a pod's process.
	Pod string `json:"pod,omitempty"`
}

// Service returns the systemd service that runs the process
// ("redis-server.service"), or "" when the process is not in a service: a
// login session or an application scope (.scope) is not something to stop
// with systemctl, and neither is a container's scope.
func (c *Cgroup) Service() string {
	if strings.HasSuffix(c.Unit, ".service") {
		return c.Unit
	}
	return ""
}

// maxCgroupLines bounds what ParseCgroup reads: a process is in one cgroup
// per hierarchy, and Linux has about a dozen v1 controllers.
const maxCgroupLines = 64

// ParseCgroup parses /proc/<pid>/cgroup (cgroups(7)): one line per
// hierarchy, "ID:CONTROLLERS:PATH", where ID 0 with no controllers is the
// unified (v2) hierarchy. It recognises systemd units (system and user
// managers), Docker (systemd and cgroupfs drivers, rootless too), Podman
// (libpod-<id>.scope, libpod_parent/libpod-<id>), containerd and CRI-O, and
// Kubernetes pods (kubepods, both drivers). testdata/cgroup holds real
// captures of each shape.
//
// The path is classified from the innermost element outward, so that a
// container nested in a service (Docker in a systemd slice, a pod in
// kubepods) is named by the container.
func ParseCgroup(r io.Reader) (Cgroup, error) {
	c := Cgroup{UserUID: -1}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 64<<10)
	var unified, systemd, other string
	var paths []string
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if n++; n > maxCgroupLines {
			return c, fmt.Errorf("cgroup: more than %d lines", maxCgroupLines)
		}
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			return c, fmt.Errorf("cgroup: malformed line %q", line)
		}
		ctrl, path, ok := strings.Cut(rest, ":")
		if !ok || !strings.HasPrefix(path, "/") {
			return c, fmt.Errorf("cgroup: malformed line %q", line)
		}
		if _, err := strconv.ParseUint(id, 10, 32); err != nil {
			return c, fmt.Errorf("cgroup: malformed hierarchy id in %q", line)
		}
		// A path may end in " (deleted)" when the cgroup was removed.
		path = strings.TrimSuffix(path, " (deleted)")
		paths = append(paths, path)
		switch {
		case id == "0" && ctrl == "":
			unified = path
		case ctrl == "name=systemd":
			systemd = path
		case other == "" && path != "/":
			other = path
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("cgroup: %w", err)
	}
	if n == 0 {
		return c, fmt.Errorf("cgroup: empty")
	}
	// On a hybrid system the unified hierarchy may be empty ("/") while
	// the v1 controllers carry the real placement.
	c.Path = "/"
	for _, p := range []string{unified, systemd, other} {
		if p != "" && p != "/" {
			c.Path = p
			break
		}
	}
	c.classify(c.Path)
	if c.ContainerID == "" {
		// cgroup v1 with the cgroupfs driver may place a container in some
		// controllers and not others; any of them names it.
		for _, p := range paths {
			var o Cgroup
			o.classify(p)
			if o.ContainerID != "" {
				c.Runtime, c.ContainerID = o.Runtime, o.ContainerID
				if c.Pod == "" {
					c.Pod = o.Pod
				}
				break
			}
		}
	}
	return c, nil
}

// classify fills the unit, manager, container and pod from one path.
func (c *Cgroup) classify(path string) {
	elems := strings.Split(strings.Trim(path, "/"), "/")
	c.UserUID = -1
	for i := len(elems) - 1; i >= 0; i-- {
		e := elems[i]
		parent := ""
		if i > 0 {
			parent = elems[i-1]
		}
		if c.ContainerID == "" {
			if rt, id := containerElem(e, parent); id != "" {
				c.Runtime, c.ContainerID = rt, id
			}
		}
		if c.Pod == "" {
			c.Pod = podElem(e)
		}
		if uid, ok := userManager(e); ok {
			// The units inside user@UID.service are that user's
			// manager's (systemctl --user); the manager itself is a
			// system unit.
			if c.Unit == "" {
				c.Unit = e
			} else {
				c.UserUID = uid
			}
			break
		}
		if c.Unit == "" && (strings.HasSuffix(e, ".service") || strings.HasSuffix(e, ".scope")) {
			c.Unit = e
		}
	}
	if c.Pod != "" && c.Runtime == "" && c.ContainerID == "" {
		// The last element of a cgroupfs pod path is the container id.
		last := elems[len(elems)-1]
		if isContainerID(last) {
			c.Runtime, c.ContainerID = "cri", last
		}
	}
}

// containerElem recognises one path element that names a container.
func containerElem(e, parent string) (runtime, id string) {
	for _, p := range containerScopes {
		if s, ok := strings.CutPrefix(e, p.prefix); ok {
			s = strings.TrimSuffix(s, ".scope")
			if isContainerID(s) {
				return p.runtime, s
			}
		}
	}
	if isContainerID(e) {
		switch {
		case parent == "docker":
			return "docker", e
		case strings.HasPrefix(parent, "pod"):
			return "cri", e
		}
	}
	return "", ""
}

// containerScopes are the prefixes of the cgroups runtimes create for a
// container. The conmon scopes Podman and CRI-O create beside a container
// (libpod-conmon-<id>.scope, crio-conmon-<id>.scope) hold the monitor, not
// the container: their rest is not a bare id, so they do not match.
var containerScopes = []struct{ prefix, runtime string }{
	{"docker-", "docker"},
	{"libpod-", "podman"},
	{"cri-containerd-", "containerd"},
	{"crio-", "cri-o"},
}

// podElem returns the pod UID in "pod<uid>" (cgroupfs) or
// "kubepods[-qos]-pod<uid_with_underscores>.slice" (systemd).
func podElem(e string) string {
	if s, ok := strings.CutPrefix(e, "pod"); ok && isUID(s) {
		return s
	}
	if !strings.HasPrefix(e, "kubepods") || !strings.HasSuffix(e, ".slice") {
		return ""
	}
	i := strings.LastIndex(e, "-pod")
	if i < 0 {
		return ""
	}
	s := strings.ReplaceAll(strings.TrimSuffix(e[i+len("-pod"):], ".slice"), "_", "-")
	if isUID(s) {
		return s
	}
	return ""
}

// userManager recognises "user@1000.service", a user's service manager.
func userManager(e string) (int, bool) {
	s, ok := strings.CutPrefix(e, "user@")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".service")
	if !ok {
		return 0, false
	}
	uid, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, false
	}
	return int(uid), true
}

// isContainerID reports whether s is a full container id: 64 lowercase
// hexadecimal digits.
func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// isUID reports whether s looks like a Kubernetes UID (8-4-4-4-12 hex).
func isUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHex(b byte) bool { return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' }

// CgroupOf reads and parses the control group of a process. It returns an
// error wrapping ErrGone for a process that has exited, and ErrNotSupported
// on systems without cgroups.
func CgroupOf(pid int) (Cgroup, error) { return cgroupOf(pid) }

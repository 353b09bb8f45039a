package cli

import (
	"fmt"
	"os"
	"strings"

	"homeport/internal/api"
	"homeport/internal/containers"
	"homeport/internal/origin"
	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

// chainLen is how many parents the short chain shows at most.
const chainLen = 3

// home is the user's home folder, which paths are shown relative to ("~").
var home = func() string {
	h, _ := os.UserHomeDir()
	return h
}

// tildePath writes p relative to the home folder: "~/code/shop".
func tildePath(p string) string {
	h := home()
	if h == "" || h == "/" {
		return p
	}
	if p == h {
		return "~"
	}
	// Both separators: Windows paths may come with either.
	for _, sep := range []string{"/", `\`} {
		if rest, ok := strings.CutPrefix(p, h+sep); ok {
			return "~" + sep + rest
		}
	}
	return p
}

// placeText says where a process runs: "in ~/code/shop (shop)", the
// working directory and the project's name; "" when unknown.
func placeText(o *origin.Owner) string {
	if o == nil || o.Cwd == "" || o.Cwd == "/" && o.Project == nil {
		// A daemon's "/" says nothing.
		return ""
	}
	s := "in " + tildePath(o.Cwd)
	if o.Project != nil {
		s += " (" + o.Project.Name + ")"
	}
	return s
}

// chainText is the short chain of parents, the owner first:
// "node ← npm run dev ← zsh (pts/3)". "" when the owner has no parent
// worth showing.
func chainText(name string, o *origin.Owner) string {
	if o == nil {
		return ""
	}
	short := procs.ShortChain(o.Chain, chainLen)
	if len(short) == 0 {
		return ""
	}
	parts := []string{name}
	for i := range short {
		parts = append(parts, short[i].Label())
	}
	return ttyCell.Replace(strings.Join(parts, " ← "))
}

// serviceText names the systemd service that runs a process and how to
// stop it: ("redis-server.service", "sudo systemctl stop redis-server");
// empty when no service runs it.
func serviceText(o *origin.Owner, root bool) (unit, stop string) {
	if o == nil || o.Cgroup == nil || o.Cgroup.ContainerID != "" {
		return "", ""
	}
	unit = o.Cgroup.Service()
	if unit == "" {
		return "", ""
	}
	name := strings.TrimSuffix(unit, ".service")
	switch {
	case o.Cgroup.UserUID >= 0:
		stop = "systemctl --user stop " + name
	case root:
		stop = "systemctl stop " + name
	default:
		stop = "sudo systemctl stop " + name
	}
	return unit, stop
}

// containerText describes a container: "hpweb (image busybox:1.36, compose
// project shop, service web)".
func containerText(c *containers.Container) string {
	name := c.Name
	if name == "" {
		name = c.ID[:min(12, len(c.ID))]
	}
	var details []string
	if c.Image != "" {
		details = append(details, "image "+c.Image)
	}
	if c.Project != "" {
		details = append(details, "compose project "+c.Project)
	}
	if c.Service != "" {
		details = append(details, "service "+c.Service)
	}
	if len(details) == 0 {
		return ttyCell.Replace(name)
	}
	return ttyCell.Replace(name + " (" + strings.Join(details, ", ") + ")")
}

// fromText is the FROM cell of the ports table: the container ("web
// (container)"), else the project, else the systemd service.
func fromText(a *origin.Attribution, s *sockets.Socket) string {
	if a == nil {
		return ""
	}
	if c := a.Container(s); c != nil {
		name := c.Name
		if name == "" {
			name = c.ID[:min(12, len(c.ID))]
		}
		return name + " (container)"
	}
	if len(s.Owners) == 0 {
		return ""
	}
	o := a.Owner(&s.Owners[0], false)
	if o.Project != nil {
		return o.Project.Name
	}
	if unit, _ := serviceText(o, true); unit != "" {
		return unit
	}
	return ""
}

func toJSONContainer(c *containers.Container) *api.Container {
	if c == nil {
		return nil
	}
	return &api.Container{ID: c.ID, Name: c.Name, Image: c.Image, ComposeProject: c.Project,
		ComposeService: c.Service, Engine: c.Engine}
}

func toJSONOrigin(o *origin.Owner) api.Origin {
	j := api.Origin{Cwd: o.Cwd, Project: o.Project, Chain: o.Chain, Container: toJSONContainer(o.Container)}
	if o.Cgroup != nil {
		j.Cgroup = o.Cgroup.Path
		j.Unit = o.Cgroup.Unit
		j.UserUnit = o.Cgroup.UserUID >= 0
	}
	return j
}

// originLines are the lines under a who sentence that say where its
// owner comes from: the chain of parents, the container, the service.
func originLines(a *origin.Attribution, s *sockets.Socket, root bool) []string {
	if a == nil {
		return nil
	}
	var lines []string
	if len(s.Owners) > 0 {
		p := &s.Owners[0]
		o := a.Owner(p, true)
		if c := chainText(p.Name, o); c != "" {
			lines = append(lines, "  started from: "+c)
		}
		if unit, stop := serviceText(o, root); unit != "" {
			lines = append(lines, fmt.Sprintf("  run by the service %s: stop it with `%s`, or it may be restarted", unit, stop))
		}
	}
	if c := a.Container(s); c != nil {
		lines = append(lines, fmt.Sprintf("  container %s: stop it with `%s`", containerText(c), c.StopCommand()))
	}
	return lines
}

// publishedSentences describe ports a container publishes with no
// listener on this machine.
func publishedSentences(t ports.Target, pub []origin.Published) []string {
	var lines []string
	for i := range pub {
		p := &pub[i]
		lines = append(lines, fmt.Sprintf("%d/%s is published on %s by container %s, with no listener on this machine: the kernel forwards it (Docker without its userland proxy)",
			t.Port, p.Socket.Proto, p.Socket.Local.Addr(), containerText(p.Container)))
		lines = append(lines, fmt.Sprintf("  stop it with `%s`", p.Container.StopCommand()))
	}
	return lines
}

// Package api holds the JSON forms homeport prints and serves: the CLI's
// --json output and the daemon's /api/v1/ answers use the same types, so a
// field has one name everywhere. Field names are documented in README.md;
// add fields, never rename or remove them.
package api

import (
	"time"

	"homeport/internal/ports"
	"homeport/internal/procs"
	"homeport/internal/sockets"
	"homeport/internal/watch"
)

// Socket is the stable JSON form of a socket.
type Socket struct {
	Proto     string  `json:"proto"`      // "tcp" or "udp"
	State     string  `json:"state"`      // as ss prints it: LISTEN, UNCONN, ESTAB, ...
	Family    string  `json:"family"`     // "ipv4" or "ipv6"
	Address   string  `json:"address"`    // local address, no brackets
	Port      uint16  `json:"port"`       // local port
	Local     string  `json:"local"`      // address:port, IPv6 in brackets
	Remote    string  `json:"remote"`     // peer address:port; "*" style zero address for listeners
	Exposure  string  `json:"exposure"`   // "loopback", "all interfaces" or "address"
	DualStack bool    `json:"dual_stack"` // IPv6 wildcard that also accepts IPv4
	V6Only    bool    `json:"v6only"`
	Class     string  `json:"class"` // "well-known", "registered" or "dynamic"
	Inode     uint64  `json:"inode,omitempty"`
	UID       int     `json:"uid"`
	User      string  `json:"user,omitempty"`
	RecvQ     uint32  `json:"recv_q"`
	SendQ     uint32  `json:"send_q"`
	Owners    []Owner `json:"owners"` // empty when no owner could be seen

	// Container is the container behind the socket: one that publishes its
	// address, or that an owner runs in.
	Container *Container `json:"container,omitempty"`
	// PublishedOnly marks a port a container publishes that no socket on
	// this machine listens on (the kernel forwards it): no owners.
	PublishedOnly bool `json:"published_only,omitempty"`

	// Service and Project are how the daemon's dashboard groups
	// listeners: the service is the route (NAME.localhost) that goes to a
	// TCP listener's port, or the `homeport run` that started its owner;
	// the project that route's or run's project, else the one the owner
	// works in (the nearest manifest above its working folder). Set by the
	// daemon's API only (internal/dashboard's labeler).
	Service string `json:"service,omitempty"`
	Project string `json:"project,omitempty"`
}

// Owner is a process holding a socket.
type Owner struct {
	PID     int        `json:"pid"`
	PPID    int        `json:"ppid,omitempty"`
	Name    string     `json:"name"`
	UID     int        `json:"uid"`
	User    string     `json:"user,omitempty"`
	Cmdline []string   `json:"cmdline"`
	Started *time.Time `json:"started,omitempty"`
	Origin
}

// Origin is where an owner comes from; empty where it was not asked for.
type Origin struct {
	Cwd       string           `json:"cwd,omitempty"`
	Project   *procs.Project   `json:"project,omitempty"` // name, dir, manifest
	Chain     []procs.Ancestor `json:"chain,omitempty"`   // parents, nearest first: pid, name, cmdline, tty
	Cgroup    string           `json:"cgroup,omitempty"`  // the cgroup path
	Unit      string           `json:"unit,omitempty"`    // the innermost systemd unit
	UserUnit  bool             `json:"user_unit,omitempty"`
	Container *Container       `json:"container,omitempty"` // the container the process runs in
}

// Container is a container in JSON.
type Container struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Image          string `json:"image"`
	ComposeProject string `json:"compose_project,omitempty"`
	ComposeService string `json:"compose_service,omitempty"`
	Engine         string `json:"engine"` // the engine endpoint it was listed from
}

// SocketOf returns the JSON form of s.
func SocketOf(s *sockets.Socket) Socket {
	fam := "ipv4"
	if s.Local.Addr().Is6() {
		fam = "ipv6"
	}
	j := Socket{
		Proto:     string(s.Proto),
		State:     s.State.String(),
		Family:    fam,
		Address:   s.Local.Addr().String(),
		Port:      s.Port(),
		Local:     s.Local.String(),
		Remote:    s.Remote.String(),
		Exposure:  string(s.Exposure()),
		DualStack: s.DualStack(),
		V6Only:    s.V6Only,
		Class:     string(ports.ClassOf(s.Port())),
		Inode:     s.Inode,
		UID:       s.UID,
		User:      s.UserText(),
		RecvQ:     s.RecvQ,
		SendQ:     s.SendQ,
		Owners:    []Owner{},
	}
	for _, p := range s.Owners {
		o := Owner{PID: p.PID, PPID: p.PPID, Name: p.Name, UID: p.UID, User: p.User, Cmdline: p.Cmdline}
		if o.Cmdline == nil {
			o.Cmdline = []string{}
		}
		if !p.Start.IsZero() {
			t := p.Start
			o.Started = &t
		}
		j.Owners = append(j.Owners, o)
	}
	return j
}

// Sockets returns the JSON forms of socks.
func Sockets(socks []sockets.Socket) []Socket {
	out := make([]Socket, len(socks))
	for i := range socks {
		out[i] = SocketOf(&socks[i])
	}
	return out
}

// Event is one change of the socket inventory, as the daemon's event stream
// and `ports --watch --json` show it.
type Event struct {
	Event    string  `json:"event"` // "open", "close" or "change"
	Socket   Socket  `json:"socket"`
	Previous *Socket `json:"previous,omitempty"` // for "change": the socket with its old owners
}

// EventOf returns the JSON form of e.
func EventOf(e *watch.Event) Event {
	out := Event{Event: e.Kind.String(), Socket: SocketOf(&e.Socket)}
	if e.Previous != nil {
		p := SocketOf(e.Previous)
		out.Previous = &p
	}
	return out
}

package cli

import (
	"time"

	"homeport/internal/origin"
	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// jsonSocket is the stable --json form of a socket, shared by every command
// that prints sockets. Field names are documented in README.md; add fields,
// never rename or remove them.
type jsonSocket struct {
	Proto     string      `json:"proto"`      // "tcp" or "udp"
	State     string      `json:"state"`      // as ss prints it: LISTEN, UNCONN, ESTAB, ...
	Family    string      `json:"family"`     // "ipv4" or "ipv6"
	Address   string      `json:"address"`    // local address, no brackets
	Port      uint16      `json:"port"`       // local port
	Local     string      `json:"local"`      // address:port, IPv6 in brackets
	Remote    string      `json:"remote"`     // peer address:port; "*" style zero address for listeners
	Exposure  string      `json:"exposure"`   // "loopback", "all interfaces" or "address"
	DualStack bool        `json:"dual_stack"` // IPv6 wildcard that also accepts IPv4
	V6Only    bool        `json:"v6only"`
	Class     string      `json:"class"` // "well-known", "registered" or "dynamic"
	Inode     uint64      `json:"inode,omitempty"`
	UID       int         `json:"uid"`
	User      string      `json:"user,omitempty"`
	RecvQ     uint32      `json:"recv_q"`
	SendQ     uint32      `json:"send_q"`
	Owners    []jsonOwner `json:"owners"` // empty when no owner could be seen

	// Container is the container behind the socket: one that publishes its
	// address, or that its owner runs in.
	Container *jsonContainer `json:"container,omitempty"`
	// PublishedOnly marks a container's published port that no socket on
	// this machine listens on: the kernel forwards it.
	PublishedOnly bool `json:"published_only,omitempty"`
}

type jsonOwner struct {
	PID     int        `json:"pid"`
	PPID    int        `json:"ppid,omitempty"`
	Name    string     `json:"name"`
	UID     int        `json:"uid"`
	User    string     `json:"user,omitempty"`
	Cmdline []string   `json:"cmdline"`
	Started *time.Time `json:"started,omitempty"`
	jsonOrigin
}

// toJSONSocket is s in --json; a, when not nil, adds where its owners come
// from.
func toJSONSocket(s *sockets.Socket, a *origin.Attribution) jsonSocket {
	fam := "ipv4"
	if s.Local.Addr().Is6() {
		fam = "ipv6"
	}
	j := jsonSocket{
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
		User:      userOf(s),
		RecvQ:     s.RecvQ,
		SendQ:     s.SendQ,
		Owners:    []jsonOwner{},
	}
	for _, p := range s.Owners {
		o := jsonOwner{PID: p.PID, PPID: p.PPID, Name: p.Name, UID: p.UID, User: p.User, Cmdline: p.Cmdline}
		if o.Cmdline == nil {
			o.Cmdline = []string{}
		}
		if !p.Start.IsZero() {
			t := p.Start
			o.Started = &t
		}
		if a != nil {
			o.jsonOrigin = toJSONOrigin(a.Owner(&p, true))
		}
		j.Owners = append(j.Owners, o)
	}
	if a != nil {
		j.Container = toJSONContainer(a.Container(s))
	}
	return j
}

// toJSONSockets is socks in --json, with the ports containers publish
// without a listener after them.
func toJSONSockets(socks []sockets.Socket, a *origin.Attribution, published []origin.Published) []jsonSocket {
	out := make([]jsonSocket, 0, len(socks)+len(published))
	for i := range socks {
		out = append(out, toJSONSocket(&socks[i], a))
	}
	for i := range published {
		j := toJSONSocket(&published[i].Socket, nil)
		j.Container = toJSONContainer(published[i].Container)
		j.PublishedOnly = true
		out = append(out, j)
	}
	return out
}

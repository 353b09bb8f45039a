package cli

import (
	"homeport/internal/api"
	"homeport/internal/origin"
	"homeport/internal/sockets"
)

// jsonSocket is the stable --json form of a socket, shared by every command
// that prints sockets and by the daemon's API (internal/api holds it).
type jsonSocket = api.Socket

// toJSONSocket is s in --json; a, when not nil, adds where its owners come
// from and the container behind it.
func toJSONSocket(s *sockets.Socket, a *origin.Attribution) jsonSocket {
	j := api.SocketOf(s)
	if a != nil {
		for i := range s.Owners {
			j.Owners[i].Origin = toJSONOrigin(a.Owner(&s.Owners[i], true))
		}
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

package cli

import (
	"homeport/internal/api"
	"homeport/internal/sockets"
)

// jsonSocket is the stable --json form of a socket, shared by every command
// that prints sockets and by the daemon's API (internal/api holds it).
type jsonSocket = api.Socket

func toJSONSocket(s *sockets.Socket) jsonSocket { return api.SocketOf(s) }

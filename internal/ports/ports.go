// Package ports knows about port numbers: their classes, the targets users
// type (`3000`, `[::1]:3000`, `http://localhost:3000/health`), picking free
// ports and waiting for them, and the port policy of homeport's own servers
// (Listen: take a port, name who holds it, move on or say so).
package ports

// Class is the IANA class of a port number (RFC 6335, section 6).
type Class string

// The three classes.
const (
	WellKnown  Class = "well-known" // 0-1023: system ports, root to bind on Unix
	Registered Class = "registered" // 1024-49151: user ports
	Dynamic    Class = "dynamic"    // 49152-65535: dynamic/private, ephemeral on Windows and macOS
)

// ClassOf returns the class of port p.
func ClassOf(p uint16) Class {
	switch {
	case p <= 1023:
		return WellKnown
	case p <= 49151:
		return Registered
	default:
		return Dynamic
	}
}

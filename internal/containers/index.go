package containers

import (
	"net/netip"
	"strconv"
	"strings"
)

// Index finds containers by id and by the host ports they publish.
type Index struct {
	all []Container
}

// NewIndex indexes cs.
func NewIndex(cs []Container) *Index { return &Index{all: cs} }

// Len is the number of containers.
func (x *Index) Len() int { return len(x.all) }

// All returns the containers, in the engines' order.
func (x *Index) All() []Container { return x.all }

// ByID returns the container with this id (full, or a prefix of at least
// 12 digits as docker prints them), or nil.
func (x *Index) ByID(id string) *Container {
	id = strings.ToLower(id)
	if len(id) < 12 {
		return nil
	}
	for i := range x.all {
		if strings.HasPrefix(x.all[i].ID, id) {
			return &x.all[i]
		}
	}
	return nil
}

// ByPublished returns the container that publishes proto port on addr, or
// nil: a host port published on a specific address matches that address,
// one published on all addresses matches a wildcard listener of either
// family (Docker lists 0.0.0.0 and :: for one -p 8080:80).
func (x *Index) ByPublished(proto string, addr netip.AddrPort) *Container {
	a := addr.Addr().Unmap()
	for i := range x.all {
		for _, p := range x.all[i].Ports {
			if p.Public != addr.Port() || p.Proto != proto {
				continue
			}
			ip := p.IP.Unmap()
			if ip == a || (ip.IsUnspecified() && a.IsUnspecified()) {
				return &x.all[i]
			}
		}
	}
	return nil
}

// ByPort returns the container that publishes proto port on any address,
// for a listener held by a port forwarder (see IsForwarder) whose address
// need not be the published one.
func (x *Index) ByPort(proto string, port uint16) *Container {
	for i := range x.all {
		for _, p := range x.all[i].Ports {
			if p.Public == port && p.Proto == proto {
				return &x.all[i]
			}
		}
	}
	return nil
}

// IsForwarder reports whether a process named name forwards host ports to
// containers: Docker's userland proxy, rootless Docker's and Podman's port
// drivers, Docker Desktop's and Podman machine's VM forwarders.
func IsForwarder(name string) bool {
	switch strings.ToLower(name) {
	case "docker-proxy", "rootlesskit", "rootlessport", "slirp4netns",
		"pasta", "pasta.avx2", "com.docker.backend", "com.docker.vpnkit",
		"vpnkit", "gvproxy", "vpnkit-bridge", "com.docker.backend.exe":
		return true
	}
	return false
}

// Proxy is what a docker-proxy's command line says it forwards.
type Proxy struct {
	Proto         string
	HostIP        netip.Addr
	HostPort      uint16
	ContainerIP   netip.Addr
	ContainerPort uint16
}

// ParseProxy reads a docker-proxy command line
// ("docker-proxy -proto tcp -host-ip 127.0.0.1 -host-port 8080
// -container-ip 172.17.0.2 -container-port 80"); ok is false when args is
// not one (no -host-port or -container-ip). Flags are Go flags: "-x v",
// "--x v", "-x=v".
func ParseProxy(args []string) (p Proxy, ok bool) {
	if len(args) == 0 || !strings.HasSuffix(args[0], "docker-proxy") {
		return p, false
	}
	p.Proto = "tcp"
	var sawHost, sawContainer bool
	for i := 1; i < len(args); i++ {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") {
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				break
			}
			switch name {
			case "proto", "host-ip", "host-port", "container-ip", "container-port":
				i++
				val = args[i]
			default:
				continue
			}
		}
		switch name {
		case "proto":
			p.Proto = strings.ToLower(val)
		case "host-ip":
			p.HostIP, _ = netip.ParseAddr(val)
		case "host-port":
			n, err := strconv.ParseUint(val, 10, 16)
			if err != nil {
				return Proxy{}, false
			}
			p.HostPort, sawHost = uint16(n), true
		case "container-ip":
			a, err := netip.ParseAddr(val)
			if err != nil {
				return Proxy{}, false
			}
			p.ContainerIP, sawContainer = a, true
		case "container-port":
			n, _ := strconv.ParseUint(val, 10, 16)
			p.ContainerPort = uint16(n)
		}
	}
	return p, sawHost && sawContainer
}

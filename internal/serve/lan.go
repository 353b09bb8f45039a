package serve

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ErrNoLAN is returned by LANAddr when no interface looks like the LAN.
var ErrNoLAN = errors.New("no LAN address found: no network interface carries a default route")

// virtualPrefixes name interfaces that are not the LAN a phone sits on:
// container and VM bridges, VPN tunnels, and macOS's peer-to-peer links.
var virtualPrefixes = []string{
	"docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "lxc", "lxd", "cni", "flannel", "cali", "kube", "podman", "cilium",
	"tun", "tap", "wg", "tailscale", "utun", "zt", "ipsec", "vti", "ppp", "gif", "stf", "awdl", "llw", "bridge", "anpi", "ap",
}

// Virtual reports whether an interface name is a container, VM or VPN one.
func Virtual(name string) bool {
	for _, p := range virtualPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// defaultRoute is an interface carrying a default route.
type defaultRoute struct {
	iface  string
	metric int
}

// parseRoutes reads Linux's /proc/net/route and returns the interfaces with
// a default route (destination and mask 0, route up), lowest metric first.
func parseRoutes(r io.Reader) ([]defaultRoute, error) {
	var out []defaultRoute
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first { // header
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		// Iface Destination Gateway Flags RefCnt Use Metric Mask ...
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil || flags&1 == 0 { // RTF_UP
			continue
		}
		if f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		metric, err := strconv.Atoi(f[6])
		if err != nil {
			continue
		}
		out = append(out, defaultRoute{iface: f[0], metric: metric})
	}
	slices.SortStableFunc(out, func(a, b defaultRoute) int { return a.metric - b.metric })
	return out, sc.Err()
}

// pickLAN chooses the LAN address: the first IPv4 of the first route's
// interface that is not virtual, else (no route table, as off Linux) the
// first private IPv4 of any interface that is up and not virtual.
func pickLAN(routes []defaultRoute, ifaces []net.Interface, addrsOf func(*net.Interface) ([]netip.Addr, error)) (netip.Addr, string, error) {
	first := func(ifi *net.Interface, private bool) (netip.Addr, bool) {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 || Virtual(ifi.Name) {
			return netip.Addr{}, false
		}
		addrs, err := addrsOf(ifi)
		if err != nil {
			return netip.Addr{}, false
		}
		for _, a := range addrs {
			a = a.Unmap()
			if a.Is4() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && (!private || a.IsPrivate()) {
				return a, true
			}
		}
		return netip.Addr{}, false
	}
	if len(routes) > 0 {
		for _, rt := range routes {
			for i := range ifaces {
				if ifaces[i].Name == rt.iface {
					if a, ok := first(&ifaces[i], false); ok {
						return a, rt.iface, nil
					}
				}
			}
		}
		return netip.Addr{}, "", ErrNoLAN
	}
	for i := range ifaces {
		if a, ok := first(&ifaces[i], true); ok {
			return a, ifaces[i].Name, nil
		}
	}
	return netip.Addr{}, "", ErrNoLAN
}

// LANAddr returns this machine's address on its LAN and the interface's
// name: the interface that carries the default route, not a docker, veth or
// VPN one.
func LANAddr() (netip.Addr, string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, "", err
	}
	routes, err := osDefaultRoutes()
	if err != nil {
		return netip.Addr{}, "", err
	}
	return pickLAN(routes, ifaces, func(ifi *net.Interface) ([]netip.Addr, error) {
		as, err := ifi.Addrs()
		if err != nil {
			return nil, err
		}
		var out []netip.Addr
		for _, a := range as {
			if pn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(pn.IP); ok {
					out = append(out, ip)
				}
			}
		}
		return out, nil
	})
}

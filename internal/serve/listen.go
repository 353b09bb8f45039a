package serve

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// DefaultHosts are the addresses serve binds without --host or --lan: both
// loopbacks, so that "localhost" works whichever family it resolves to.
var DefaultHosts = []string{"127.0.0.1", "::1"}

// Listen opens a TCP listener on each host at port, so that a taken port is
// known before anything is served. With port 0 the first host picks a free
// port and the others take the same one. If any host fails, the listeners
// already opened are closed, except that a host whose address family or
// address this machine lacks (no IPv6 loopback) is skipped once another
// listener is open; skipped lists those.
func Listen(hosts []string, port int) (lns []net.Listener, skipped []string, err error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("no address to listen on")
	}
	for try := 0; ; try++ {
		lns, skipped, err = listenOnce(hosts, port)
		// With port 0 the port picked on the first host may be taken on
		// another: pick again.
		if err == nil || port != 0 || !IsAddrInUse(err) || try == 20 {
			return lns, skipped, err
		}
	}
}

func listenOnce(hosts []string, port int) ([]net.Listener, []string, error) {
	var lns []net.Listener
	var skipped []string
	for _, h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
		if err != nil {
			if len(lns) > 0 && unavailable(err) {
				skipped = append(skipped, h)
				continue
			}
			for _, l := range lns {
				l.Close()
			}
			return nil, nil, err
		}
		if port == 0 {
			port = ln.Addr().(*net.TCPAddr).Port
		}
		lns = append(lns, ln)
	}
	return lns, skipped, nil
}

// unavailable reports an error that means the address does not exist here.
func unavailable(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT)
}

// IsAddrInUse reports whether err says the address is already in use.
func IsAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || isAddrInUseOS(err)
}

// URL is how a listener's address is shown to the user.
func URL(addr net.Addr) string {
	return fmt.Sprintf("http://%s/", addr.String())
}

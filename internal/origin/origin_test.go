package origin

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"homeport/internal/containers"
	"homeport/internal/procs"
	"homeport/internal/sockets"
)

func testContainers(t *testing.T) []containers.Container {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "containers", "testdata", "containers-json-docker-20.10.json"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := containers.ParseList(b)
	if err != nil {
		t.Fatal(err)
	}
	cs = append(cs, containers.Container{ID: "b0", Name: "dns", Ports: []containers.Port{
		{Proto: "udp", Private: 53, Public: 5353, IP: netip.IPv4Unspecified()},
		{Proto: "tcp", Private: 80}, // not published
	}})
	return cs
}

func TestUnlisted(t *testing.T) {
	a := FromContainers(testContainers(t))
	listen := func(proto sockets.Proto, addr string) sockets.Socket {
		return sockets.Socket{Proto: proto, State: sockets.Listen, Local: netip.MustParseAddrPort(addr)}
	}
	tests := []struct {
		name  string
		socks []sockets.Socket
		f     sockets.Filter
		want  []string // proto address container
	}{
		{"nothing listens", nil, sockets.Filter{}, []string{"udp 0.0.0.0:5353 dns", "tcp 127.0.0.1:47123 hpweb"}},
		{"docker-proxy listens", []sockets.Socket{listen(sockets.TCP, "127.0.0.1:47123")}, sockets.Filter{}, []string{"udp 0.0.0.0:5353 dns"}},
		{"tcp only", nil, sockets.Filter{TCP: true}, []string{"tcp 127.0.0.1:47123 hpweb"}},
		{"one port", nil, sockets.Filter{Port: 5353}, []string{"udp 0.0.0.0:5353 dns"}},
		{"other port", nil, sockets.Filter{Port: 80}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range a.Unlisted(tt.socks, tt.f) {
				got = append(got, string(p.Socket.Proto)+" "+p.Socket.Local.String()+" "+p.Container.Name)
				if len(p.Socket.Owners) != 0 || !p.Socket.State.Listening() {
					t.Errorf("Unlisted: %+v; want a listening socket without owners", p.Socket)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Unlisted(%v, %+v) = %q; want %q", tt.socks, tt.f, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("Unlisted(%v, %+v) = %q; want %q", tt.socks, tt.f, got, tt.want)
				}
			}
		})
	}
}

func TestContainerOfSocket(t *testing.T) {
	a := FromContainers(testContainers(t))
	proxy := procs.Process{PID: 1 << 30, Name: "docker-proxy", Cmdline: []string{"/usr/sbin/docker-proxy", "-proto", "tcp",
		"-host-ip", "127.0.0.1", "-host-port", "47123", "-container-ip", "198.19.0.2", "-container-port", "8080"}}
	tests := []struct {
		name string
		s    sockets.Socket
		want string
	}{
		{"published address", sockets.Socket{Proto: sockets.TCP, Local: netip.MustParseAddrPort("127.0.0.1:47123")}, "hpweb"},
		{"forwarder on another address", sockets.Socket{Proto: sockets.TCP, Local: netip.MustParseAddrPort("[::1]:47123"),
			Owners: []procs.Process{{PID: 1<<30 + 1, Name: "rootlesskit"}}}, "hpweb"},
		{"docker-proxy by its command line", sockets.Socket{Proto: sockets.TCP, Local: netip.MustParseAddrPort("[::]:47123"),
			Owners: []procs.Process{proxy}}, "hpweb"},
		{"another process on the port", sockets.Socket{Proto: sockets.TCP, Local: netip.MustParseAddrPort("192.0.2.1:47123"),
			Owners: []procs.Process{{PID: 1<<30 + 2, Name: "node"}}}, ""},
		{"wrong protocol", sockets.Socket{Proto: sockets.UDP, Local: netip.MustParseAddrPort("127.0.0.1:47123")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if c := a.Container(&tt.s); c != nil {
				got = c.Name
			}
			if got != tt.want {
				t.Errorf("Container(%v) = %q; want %q", tt.s.Local, got, tt.want)
			}
		})
	}
	if a.Note() != nil {
		t.Errorf("Note() = %v; want none (no engine failed)", a.Note())
	}
}

func TestNote(t *testing.T) {
	a := FromContainers(nil)
	a.problems = []*containers.Unavailable{{Kind: containers.NoSocket, Endpoint: "unix:///var/run/docker.sock"}}
	if n := a.Note(); n != nil {
		t.Errorf("Note() = %v before any container was seen; want none", n)
	}
	s := sockets.Socket{Proto: sockets.TCP, Local: netip.MustParseAddrPort("0.0.0.0:8080"),
		Owners: []procs.Process{{PID: 1 << 30, Name: "docker-proxy"}}}
	if c := a.Container(&s); c != nil {
		t.Fatalf("Container = %v; want none", c)
	}
	if n := a.Note(); n == nil || n.Kind != containers.NoSocket {
		t.Errorf("Note() = %v after a docker-proxy without its container; want the missing socket", n)
	}
}

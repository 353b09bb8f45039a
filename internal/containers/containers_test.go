package containers

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseList(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "containers-json-docker-20.10.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseList(b)
	if err != nil {
		t.Fatalf("ParseList(%s) error: %v", b, err)
	}
	want := []Container{{
		ID:      "a5dd1a172c69d7945b9d476d05411d1376505d3705cace17bef75cd69197b893",
		Name:    "hpweb",
		Image:   "hp-busybox:test",
		State:   "running",
		Project: "shop",
		Service: "web",
		Ports:   []Port{{Proto: "tcp", Private: 8080, Public: 47123, IP: netip.MustParseAddr("127.0.0.1")}},
	}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("ParseList (-want +got):\n%s", diff)
	}
}

func TestParseListShapes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Container
	}{
		{"empty", `[]`, []Container{}},
		{"unpublished port", `[{"Id":"AB","Names":["/db"],"Ports":[{"PrivatePort":5432,"Type":"tcp"}]}]`,
			[]Container{{ID: "ab", Name: "db", Ports: []Port{{Proto: "tcp", Private: 5432}}}}},
		{"both families", `[{"Id":"c1","Names":["/web"],"Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},{"IP":"::","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}]}]`,
			[]Container{{ID: "c1", Name: "web", Ports: []Port{
				{Proto: "tcp", Private: 80, Public: 8080, IP: netip.IPv4Unspecified()},
				{Proto: "tcp", Private: 80, Public: 8080, IP: netip.IPv6Unspecified()},
			}}}},
		{"podman names without slash", `[{"Id":"p1","Names":["shop_db_1"],"Image":"docker.io/library/postgres:16","Ports":[{"IP":"","PrivatePort":5432,"PublicPort":5432,"Type":"TCP"}]}]`,
			[]Container{{ID: "p1", Name: "shop_db_1", Image: "docker.io/library/postgres:16", Ports: []Port{{Proto: "tcp", Private: 5432, Public: 5432, IP: netip.IPv4Unspecified()}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseList([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseList(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("ParseList(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	for _, bad := range []string{"", "{", `{"message":"x"}`, `[{"Ports":[{"PublicPort":70000}]}]`} {
		if got, err := ParseList([]byte(bad)); err == nil {
			t.Errorf("ParseList(%q) = %+v; want an error", bad, got)
		}
	}
}

func FuzzParseList(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "containers-json-docker-20.10.json"))
	f.Add(b)
	f.Add([]byte(`[{"Id":"x","Names":[],"Ports":[{"IP":"::1","PublicPort":1,"Type":"udp"}]}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		cs, err := ParseList(in)
		if err != nil {
			return
		}
		for _, c := range cs {
			for _, p := range c.Ports {
				if p.Public != 0 && !p.IP.IsValid() {
					t.Errorf("ParseList(%q): published port %+v without an address", in, p)
				}
			}
		}
	})
}

func TestParseProxy(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Proxy
		ok   bool
	}{
		{"docker 20.10", []string{"/usr/sbin/docker-proxy", "-proto", "tcp", "-host-ip", "127.0.0.1", "-host-port", "47123", "-container-ip", "198.19.0.2", "-container-port", "8080"},
			Proxy{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 47123, ContainerIP: netip.MustParseAddr("198.19.0.2"), ContainerPort: 8080}, true},
		{"docker 28 with listen fd", []string{"/usr/bin/docker-proxy", "-proto", "udp", "-host-ip", "::", "-host-port", "53", "-container-ip", "fd00::2", "-container-port", "53", "-use-listen-fd"},
			Proxy{Proto: "udp", HostIP: netip.IPv6Unspecified(), HostPort: 53, ContainerIP: netip.MustParseAddr("fd00::2"), ContainerPort: 53}, true},
		{"equals form", []string{"docker-proxy", "--host-port=80", "--container-ip=172.17.0.3"},
			Proxy{Proto: "tcp", HostPort: 80, ContainerIP: netip.MustParseAddr("172.17.0.3")}, true},
		{"not docker-proxy", []string{"nc", "-host-port", "80", "-container-ip", "1.2.3.4"}, Proxy{}, false},
		{"no container ip", []string{"docker-proxy", "-host-port", "80"}, Proxy{}, false},
		{"bad port", []string{"docker-proxy", "-host-port", "99999", "-container-ip", "1.2.3.4"}, Proxy{}, false},
		{"dangling flag", []string{"docker-proxy", "-container-ip", "1.2.3.4", "-host-port"}, Proxy{}, false},
		{"empty", nil, Proxy{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseProxy(tt.args)
			if ok != tt.ok {
				t.Fatalf("ParseProxy(%q) ok = %v; want %v", tt.args, ok, tt.ok)
			}
			if ok && got != tt.want {
				t.Errorf("ParseProxy(%q) = %+v; want %+v", tt.args, got, tt.want)
			}
		})
	}
}

func FuzzParseProxy(f *testing.F) {
	f.Add("docker-proxy", "-host-port", "80", "-container-ip", "1.2.3.4")
	f.Add("docker-proxy", "--host-ip=::", "-proto", "udp", "-x")
	f.Fuzz(func(t *testing.T, a, b, c, d, e string) {
		p, ok := ParseProxy([]string{a, b, c, d, e})
		if ok && !p.ContainerIP.IsValid() {
			t.Errorf("ParseProxy(%q) = %+v without a container address", []string{a, b, c, d, e}, p)
		}
	})
}

func TestIndex(t *testing.T) {
	cs := []Container{
		{ID: "a5dd1a172c69d7945b9d476d05411d1376505d3705cace17bef75cd69197b893", Name: "web", Ports: []Port{
			{Proto: "tcp", Private: 80, Public: 8080, IP: netip.IPv4Unspecified()},
			{Proto: "tcp", Private: 80, Public: 8080, IP: netip.IPv6Unspecified()},
		}},
		{ID: "bb", Name: "db", Ports: []Port{{Proto: "tcp", Private: 5432, Public: 5432, IP: netip.MustParseAddr("127.0.0.1")}}},
	}
	x := NewIndex(cs)
	name := func(c *Container) string {
		if c == nil {
			return ""
		}
		return c.Name
	}
	for _, tt := range []struct {
		proto, addr, want string
	}{
		{"tcp", "0.0.0.0:8080", "web"},
		{"tcp", "[::]:8080", "web"},
		{"udp", "0.0.0.0:8080", ""},
		{"tcp", "127.0.0.1:8080", ""},
		{"tcp", "127.0.0.1:5432", "db"},
		{"tcp", "[::ffff:127.0.0.1]:5432", "db"},
		{"tcp", "0.0.0.0:5432", ""},
	} {
		if got := name(x.ByPublished(tt.proto, netip.MustParseAddrPort(tt.addr))); got != tt.want {
			t.Errorf("ByPublished(%s, %s) = %q; want %q", tt.proto, tt.addr, got, tt.want)
		}
	}
	if got := name(x.ByID("a5dd1a172c69")); got != "web" {
		t.Errorf("ByID(short) = %q; want web", got)
	}
	if got := name(x.ByID("a5dd")); got != "" {
		t.Errorf("ByID(4 digits) = %q; want none", got)
	}
	if got := name(x.ByPort("tcp", 5432)); got != "db" {
		t.Errorf("ByPort(tcp, 5432) = %q; want db", got)
	}
}

func TestEndpoints(t *testing.T) {
	env := map[string]string{"DOCKER_HOST": "unix:///x/docker.sock"}
	eps, explicit, _ := Endpoints(func(k string) string { return env[k] })
	if !explicit || len(eps) != 1 || eps[0] != "unix:///x/docker.sock" {
		t.Errorf("Endpoints(DOCKER_HOST) = %q, %v; want the DOCKER_HOST, explicit", eps, explicit)
	}
	dir := t.TempDir()
	env = map[string]string{"XDG_RUNTIME_DIR": dir}
	_, explicit, missing := Endpoints(func(k string) string { return env[k] })
	if explicit {
		t.Errorf("Endpoints(no DOCKER_HOST) explicit = true")
	}
	want := "unix://" + filepath.Join(dir, "podman", "podman.sock")
	found := false
	for _, m := range missing {
		found = found || m == want
	}
	if !found {
		t.Errorf("Endpoints missing = %q; want it to name %s", missing, want)
	}
}

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"1.24", "1.25", true},
		{"1.25", "1.25", false},
		{"1.41", "1.25", false},
		{"1.9", "1.25", true},
		{"2.0", "1.25", false},
		{"garbage", "1.25", true},
	}
	for _, tt := range tests {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("versionLess(%q, %q) = %v; want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

package cli

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"homeport/internal/containers"
	"homeport/internal/origin"
	"homeport/internal/procs"
)

// published is a container publishing 127.0.0.1:8080 with nothing on the
// host listening there: Docker's kernel forwarding, Podman's netavark.
var published = []containers.Container{{
	ID: "a5dd1a172c69d7945b9d476d05411d1376505d3705cace17bef75cd69197b893", Name: "hp-kernel", Image: "busybox:1.36",
	Project: "shop", Service: "web", Engine: "unix:///run/podman/podman.sock",
	Ports: []containers.Port{{Proto: "tcp", Private: 80, Public: 8080, IP: netip.MustParseAddr("127.0.0.1")}},
}}

func TestWhoPublishedOnly(t *testing.T) {
	f, out, _ := fakeFactory(nil, 0)
	f.Attribute = func(context.Context) *origin.Attribution { return origin.FromContainers(published) }
	if code := runWho(t, f, "8080"); code != 0 {
		t.Fatalf("who 8080 = %d: %s; want held", code, out.String())
	}
	want := "8080/tcp is published on 127.0.0.1 by container hp-kernel (image busybox:1.36, compose project shop, service web), with no listener on this machine"
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "`podman stop hp-kernel`") {
		t.Errorf("who 8080 = %q; want %q and podman stop", out.String(), want)
	}

	out.Reset()
	if code := runWho(t, f, "[::1]:8080"); code != 1 {
		t.Errorf("who [::1]:8080 = %d: %q; want 1, published on 127.0.0.1 only", code, out.String())
	}

	out.Reset()
	if code := runWho(t, f, "8080", "--json"); code != 0 {
		t.Fatalf("who 8080 --json = %d", code)
	}
	var res []whoJSON
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || !res[0].Held || len(res[0].Sockets) != 1 || !res[0].Sockets[0].PublishedOnly ||
		res[0].Sockets[0].Container == nil || res[0].Sockets[0].Container.Name != "hp-kernel" || res[0].Sockets[0].Local != "127.0.0.1:8080" {
		t.Errorf("who 8080 --json = %s; want one published_only socket of hp-kernel on 127.0.0.1:8080", out.String())
	}
}

func TestPortsPublishedOnly(t *testing.T) {
	f, out, _ := fakeFactory(nil, 0)
	f.Attribute = func(context.Context) *origin.Attribution { return origin.FromContainers(published) }
	if code := runPorts(t, f, "ports"); code != 0 {
		t.Fatalf("ports = %d", code)
	}
	line := strings.TrimSpace(out.String())
	for _, want := range []string{"tcp\t127.0.0.1:8080\tloopback\t", "\thp-kernel (container)\t(forwarded by the kernel)"} {
		if !strings.Contains(line, want) {
			t.Errorf("ports = %q; want %q", line, want)
		}
	}
	out.Reset()
	if code := runPorts(t, f, "ports", "--process", "node"); code != 0 || out.Len() != 0 {
		t.Errorf("ports --process node = %d, %q; want nothing (a published port has no process)", code, out.String())
	}
}

func TestServiceText(t *testing.T) {
	tests := []struct {
		cg         procs.Cgroup
		root       bool
		unit, stop string
	}{
		{procs.Cgroup{Unit: "redis-server.service", UserUID: -1}, false, "redis-server.service", "sudo systemctl stop redis-server"},
		{procs.Cgroup{Unit: "redis-server.service", UserUID: -1}, true, "redis-server.service", "systemctl stop redis-server"},
		{procs.Cgroup{Unit: "vite-dev.service", UserUID: 1000}, false, "vite-dev.service", "systemctl --user stop vite-dev"},
		{procs.Cgroup{Unit: "session-2.scope", UserUID: -1}, false, "", ""},
		{procs.Cgroup{Unit: "docker-ab.scope", UserUID: -1, ContainerID: strings.Repeat("a", 64), Runtime: "docker"}, false, "", ""},
	}
	for _, tt := range tests {
		o := &origin.Owner{Cgroup: &tt.cg}
		unit, stop := serviceText(o, tt.root)
		if unit != tt.unit || stop != tt.stop {
			t.Errorf("serviceText(%+v, root %v) = %q, %q; want %q, %q", tt.cg, tt.root, unit, stop, tt.unit, tt.stop)
		}
	}
}

func TestPlaceText(t *testing.T) {
	defer func(h func() string) { home = h }(home)
	home = func() string { return "/home/dev" }
	tests := []struct {
		o    *origin.Owner
		want string
	}{
		{&origin.Owner{Cwd: "/home/dev/code/shop", Project: &procs.Project{Name: "shop"}}, "in ~/code/shop (shop)"},
		{&origin.Owner{Cwd: "/home/dev/code/shop/src", Project: &procs.Project{Name: "storefront"}}, "in ~/code/shop/src (storefront)"},
		{&origin.Owner{Cwd: "/home/dev"}, "in ~"},
		{&origin.Owner{Cwd: "/home/developer/x"}, "in /home/developer/x"},
		{&origin.Owner{Cwd: "/"}, ""},
		{&origin.Owner{}, ""},
	}
	for _, tt := range tests {
		if got := placeText(tt.o); got != tt.want {
			t.Errorf("placeText(%+v) = %q; want %q", tt.o, got, tt.want)
		}
	}
}

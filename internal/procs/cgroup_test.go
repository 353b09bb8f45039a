package procs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	testDockerID = "3f2c1e9d8b7a69584736251403f2e1d0c9b8a7f6e5d4c3b2a1908f7e6d5c4b3a"
	testPodmanID = "55ea3863351726184e26ca7418f577d04c96dac0009e1f088f6c0c7a1dc2ed7c"
	testCRIID    = "acb62391578595ec849d87d8556369cee7f935f0425097fd5f870df0e8aabd3c"
	testPodUID   = "4415fd05-2c0f-4533-909b-f2180dca8d7c"
)

func TestParseCgroup(t *testing.T) {
	tests := []struct {
		file    string
		want    Cgroup
		service string
	}{
		{"systemd-service-v2.txt", Cgroup{Path: "/system.slice/redis-server.service", Unit: "redis-server.service", UserUID: -1}, "redis-server.service"},
		{"systemd-service-v1.txt", Cgroup{Path: "/system.slice/redis-server.service", Unit: "redis-server.service", UserUID: -1}, "redis-server.service"},
		{"systemd-templated-v2.txt", Cgroup{Path: "/system.slice/system-postgresql.slice/postgresql@15-main.service", Unit: "postgresql@15-main.service", UserUID: -1}, "postgresql@15-main.service"},
		{"user-service-v2.txt", Cgroup{Path: "/user.slice/user-1000.slice/user@1000.service/app.slice/vite-dev.service", Unit: "vite-dev.service", UserUID: 1000}, "vite-dev.service"},
		{"user-app-scope-v2.txt", Cgroup{Path: "/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-8d1b7f54-3c1e-4b0e-9a55-6f0e3c2a7d11.scope", Unit: "vte-spawn-8d1b7f54-3c1e-4b0e-9a55-6f0e3c2a7d11.scope", UserUID: 1000}, ""},
		{"user-session-v2.txt", Cgroup{Path: "/user.slice/user-1000.slice/session-2.scope", Unit: "session-2.scope", UserUID: -1}, ""},
		{"user-manager-v2.txt", Cgroup{Path: "/user.slice/user-1000.slice/user@1000.service/init.scope", Unit: "init.scope", UserUID: 1000}, ""},
		{"docker-systemd-v2.txt", Cgroup{Path: "/system.slice/docker-" + testDockerID + ".scope", Unit: "docker-" + testDockerID + ".scope", UserUID: -1, Runtime: "docker", ContainerID: testDockerID}, ""},
		{"docker-cgroupfs-v2.txt", Cgroup{Path: "/docker/" + testDockerID, UserUID: -1, Runtime: "docker", ContainerID: testDockerID}, ""},
		{"docker-systemd-hybrid.txt", Cgroup{Path: "/system.slice/docker-" + testDockerID + ".scope", Unit: "docker-" + testDockerID + ".scope", UserUID: -1, Runtime: "docker", ContainerID: testDockerID}, ""},
		{"docker-rootless-v2.txt", Cgroup{Path: "/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" + testDockerID + ".scope", Unit: "docker-" + testDockerID + ".scope", UserUID: 1000, Runtime: "docker", ContainerID: testDockerID}, ""},
		{"docker-cgroupfs-v1.txt", Cgroup{Path: "/docker/a5dd1a172c69d7945b9d476d05411d1376505d3705cace17bef75cd69197b893", UserUID: -1, Runtime: "docker", ContainerID: "a5dd1a172c69d7945b9d476d05411d1376505d3705cace17bef75cd69197b893"}, ""},
		{"podman-rootful-v2.txt", Cgroup{Path: "/machine.slice/libpod-" + testPodmanID + ".scope/container", Unit: "libpod-" + testPodmanID + ".scope", UserUID: -1, Runtime: "podman", ContainerID: testPodmanID}, ""},
		{"podman-rootless-v2.txt", Cgroup{Path: "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + testPodmanID + ".scope", Unit: "libpod-" + testPodmanID + ".scope", UserUID: 1000, Runtime: "podman", ContainerID: testPodmanID}, ""},
		{"podman-conmon-v2.txt", Cgroup{Path: "/machine.slice/libpod-conmon-" + testPodmanID + ".scope", Unit: "libpod-conmon-" + testPodmanID + ".scope", UserUID: -1}, ""},
		{"podman-cgroupfs-v1.txt", Cgroup{Path: "/libpod_parent/libpod-" + testPodmanID, UserUID: -1, Runtime: "podman", ContainerID: testPodmanID}, ""},
		{"kubepods-containerd-systemd-v2.txt", Cgroup{Path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poddde1244b_5bb5_4297_b544_85f3bc0d80bf.slice/cri-containerd-" + testCRIID + ".scope", Unit: "cri-containerd-" + testCRIID + ".scope", UserUID: -1, Runtime: "containerd", ContainerID: testCRIID, Pod: "dde1244b-5bb5-4297-b544-85f3bc0d80bf"}, ""},
		{"kubepods-crio-systemd-v2.txt", Cgroup{Path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod4415fd05_2c0f_4533_909b_f2180dca8d7c.slice/crio-" + testCRIID + ".scope", Unit: "crio-" + testCRIID + ".scope", UserUID: -1, Runtime: "cri-o", ContainerID: testCRIID, Pod: testPodUID}, ""},
		{"kubepods-guaranteed-systemd-v2.txt", Cgroup{Path: "/kubepods.slice/kubepods-pod4415fd05_2c0f_4533_909b_f2180dca8d7c.slice/cri-containerd-" + testCRIID + ".scope", Unit: "cri-containerd-" + testCRIID + ".scope", UserUID: -1, Runtime: "containerd", ContainerID: testCRIID, Pod: testPodUID}, ""},
		{"kubepods-cgroupfs-v1.txt", Cgroup{Path: "/kubepods/burstable/pod4a163a05-439d-484b-8e53-2968bc15824f/cde6dfaf5007ed65aad2d6aed72af91b0f3d95813492f773286e29ae145d20f4", UserUID: -1, Runtime: "cri", ContainerID: "cde6dfaf5007ed65aad2d6aed72af91b0f3d95813492f773286e29ae145d20f4", Pod: "4a163a05-439d-484b-8e53-2968bc15824f"}, ""},
		{"container-private-ns-v2.txt", Cgroup{Path: "/", UserUID: -1}, ""},
		{"host-v1-root.txt", Cgroup{Path: "/process_api/fdfa9bbcf3125f5a048bf824d4bc7920", UserUID: -1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "cgroup", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseCgroup(strings.NewReader(string(b)))
			if err != nil {
				t.Fatalf("ParseCgroup(%q) error: %v", b, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseCgroup(%q) (-want +got):\n%s", b, diff)
			}
			if s := got.Service(); s != tt.service {
				t.Errorf("ParseCgroup(%q).Service() = %q; want %q", b, s, tt.service)
			}
		})
	}
}

func TestParseCgroupMalformed(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"no colon", "garbage\n"},
		{"one colon", "0:/x\n"},
		{"relative path", "0::x\n"},
		{"bad id", "x::/\n"},
		{"too many lines", strings.Repeat("1:pids:/\n", maxCgroupLines+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := ParseCgroup(strings.NewReader(tt.in)); err == nil {
				t.Errorf("ParseCgroup(%q) = %+v; want an error", tt.in, got)
			}
		})
	}
}

func TestParseCgroupNotAContainer(t *testing.T) {
	// Ids that are not 64 lowercase hex digits, and look-alike names, do
	// not make a container.
	tests := []string{
		"0::/docker/abc123\n",
		"0::/system.slice/docker.service\n",
		"0::/system.slice/docker-" + strings.ToUpper(testDockerID) + ".scope\n",
		"0::/" + testDockerID + "\n",
		"0::/machine.slice/libpod-" + testPodmanID[:12] + ".scope\n",
	}
	for _, in := range tests {
		got, err := ParseCgroup(strings.NewReader(in))
		if err != nil {
			t.Fatalf("ParseCgroup(%q) error: %v", in, err)
		}
		if got.ContainerID != "" || got.Runtime != "" {
			t.Errorf("ParseCgroup(%q) = %+v; want no container", in, got)
		}
	}
}

func FuzzParseCgroup(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "cgroup", "*.txt"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("0::/a/user@1000.service\n")
	f.Add("0::/kubepods-pod.slice\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseCgroup(strings.NewReader(in))
		if err != nil {
			return
		}
		if c.ContainerID != "" && !isContainerID(c.ContainerID) {
			t.Errorf("ParseCgroup(%q): container id %q is not 64 hex digits", in, c.ContainerID)
		}
		if (c.ContainerID == "") != (c.Runtime == "") {
			t.Errorf("ParseCgroup(%q) = %+v: runtime and id must come together", in, c)
		}
		if !strings.HasPrefix(c.Path, "/") {
			t.Errorf("ParseCgroup(%q): path %q is not absolute", in, c.Path)
		}
		if c.Unit != "" && !strings.Contains(in, c.Unit) {
			t.Errorf("ParseCgroup(%q): unit %q is not in the input", in, c.Unit)
		}
		if c.Pod != "" && !isUID(c.Pod) {
			t.Errorf("ParseCgroup(%q): pod %q is not a UID", in, c.Pod)
		}
	})
}

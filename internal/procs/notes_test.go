package procs

import (
	"runtime"
	"strings"
	"testing"
)

func TestSystemProcessNote(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		port uint16
		want []string // in Reason+Hint; nil: no note
	}{
		{name: "http.sys on 80", pid: 4, port: 80, want: []string{"port 80", "http.sys", "IIS", "netsh http show servicestate", "net stop"}},
		{name: "http.sys on 5985", pid: 4, port: 5985, want: []string{"WinRM", "net stop winrm"}},
		{name: "System without a port", pid: 4, want: []string{"a port is held by http.sys"}},
		{name: "idle", pid: 0, want: []string{"System Idle Process", "TIME_WAIT"}},
		{name: "an ordinary pid", pid: 4242},
		{name: "init", pid: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := SystemProcessNote(tt.pid, tt.port)
			if runtime.GOOS != "windows" {
				if ok {
					t.Fatalf("SystemProcessNote(%d, %d) = %+v on %s; want none outside Windows", tt.pid, tt.port, n, runtime.GOOS)
				}
				return
			}
			if ok != (tt.want != nil) {
				t.Fatalf("SystemProcessNote(%d, %d) = %+v, %v", tt.pid, tt.port, n, ok)
			}
			for _, w := range tt.want {
				if !strings.Contains(n.Reason+" "+n.Hint, w) {
					t.Errorf("SystemProcessNote(%d, %d) = %+v; want it to say %q", tt.pid, tt.port, n, w)
				}
			}
		})
	}
}

func TestOrphanNote(t *testing.T) {
	tests := []struct {
		name     string
		children []Process
		want     []string
	}{
		{name: "none left", want: []string{"pid 100", "port 3000", "has exited", "no process started by it"}},
		{name: "one", children: []Process{{PID: 104, Name: "node.exe"}}, want: []string{"node.exe (pid 104)", "stop that one"}},
		{name: "two", children: []Process{{PID: 104, Name: "node.exe"}, {PID: 108, Name: "esbuild.exe"}},
			want: []string{"its 2 children", "node.exe (pid 104)", "esbuild.exe (pid 108)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := OrphanNote(100, 3000, tt.children)
			for _, w := range tt.want {
				if !strings.Contains(n.Reason+" "+n.Hint, w) {
					t.Errorf("OrphanNote(100, 3000, %v) = %+v; want it to say %q", tt.children, n, w)
				}
			}
		})
	}
}

func TestChildrenOutsideWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("procs_windows_test.go tests Children on Windows")
	}
	if _, err := Children(1); err != ErrNotSupported {
		t.Errorf("Children(1) = %v; want ErrNotSupported", err)
	}
}

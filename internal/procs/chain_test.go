package procs

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestShortChain(t *testing.T) {
	npm := Ancestor{PID: 4200, Name: "npm run dev", Cmdline: []string{"npm", "run", "dev"}}
	shc := Ancestor{PID: 4241, Name: "sh", Cmdline: []string{"sh", "-c", "vite --port 3000"}}
	zsh := Ancestor{PID: 3100, Name: "zsh", Cmdline: []string{"-zsh"}, TTY: "pts/3"}
	tmux := Ancestor{PID: 900, Name: "tmux: server", Cmdline: []string{"tmux"}}
	systemd := Ancestor{PID: 1200, Name: "systemd", Cmdline: []string{"/lib/systemd/systemd", "--user"}}
	make := Ancestor{PID: 4100, Name: "make", Cmdline: []string{"make", "dev"}}
	script := Ancestor{PID: 4000, Name: "bash", Cmdline: []string{"bash", "./run.sh"}}
	// nginx rewrites its title into argv[0]: the words are the title's.
	nginx := Ancestor{PID: 2663, Name: "nginx", Cmdline: []string{"nginx: master process nginx -c /tmp/ngx/nginx.conf"}}
	tests := []struct {
		name  string
		chain []Ancestor
		want  []Ancestor
		label string
	}{
		{"npm from a terminal", []Ancestor{shc, npm, zsh, tmux}, []Ancestor{npm, zsh}, "npm run dev ← zsh (pts/3)"},
		{"user service", []Ancestor{systemd}, []Ancestor{systemd}, "systemd"},
		{"script without terminal", []Ancestor{script, make, zsh}, []Ancestor{script, make, zsh}, "bash ./run.sh ← make dev ← zsh (pts/3)"},
		{"long chain ends at its anchor", []Ancestor{make, make, make, make, zsh}, []Ancestor{make, make, zsh}, "make dev ← make dev ← zsh (pts/3)"},
		{"no anchor", []Ancestor{make, npm, make, npm}, []Ancestor{make, npm, make}, "make dev ← npm run dev ← make dev"},
		{"a rewritten title", []Ancestor{nginx, zsh}, []Ancestor{nginx, zsh}, "nginx: master process nginx … ← zsh (pts/3)"},
		{"empty", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ShortChain(tt.chain, 3)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ShortChain(%v) (-want +got):\n%s", tt.chain, diff)
			}
			var label string
			for i := range got {
				if i > 0 {
					label += " ← "
				}
				label += got[i].Label()
			}
			if label != tt.label {
				t.Errorf("labels of ShortChain(%v) = %q; want %q", tt.chain, label, tt.label)
			}
		})
	}
}

func TestRoleOf(t *testing.T) {
	tests := []struct {
		a    Ancestor
		want Role
	}{
		{Ancestor{Name: "bash", Cmdline: []string{"/bin/bash"}, TTY: "pts/0"}, Anchor},
		{Ancestor{Name: "bash", Cmdline: []string{"bash", "-c", "x"}}, Wrapper},
		{Ancestor{Name: "cmd.exe", Cmdline: []string{`C:\Windows\system32\cmd.exe`, "/c", "npm start"}}, Wrapper},
		{Ancestor{Name: "cmd.exe", Cmdline: []string{"cmd.exe", "/c", "npm start"}}, Wrapper},
		{Ancestor{Name: "sshd", Cmdline: []string{"sshd: dev@pts/1"}}, Anchor},
		{Ancestor{Name: "sshd"}, Anchor},
		{Ancestor{Name: "code", Cmdline: []string{"/usr/share/code/code", "--type=utility"}}, Anchor},
		{Ancestor{Name: "containerd-shim", Cmdline: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "moby"}}, Anchor},
		{Ancestor{Name: "node", Cmdline: []string{"node", "server.js"}}, Intermediate},
	}
	for _, tt := range tests {
		if got := RoleOf(&tt.a); got != tt.want {
			t.Errorf("RoleOf(%+v) = %v; want %v", tt.a, got, tt.want)
		}
	}
}

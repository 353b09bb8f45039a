package procs

import (
	"slices"
	"syscall"
	"testing"
)

// TestStepsPlanned: the signals planned per process, and --signal KILL is
// the only one (no "then SIGKILL").
func TestStepsPlanned(t *testing.T) {
	if isWindows {
		t.Skip("Windows has no signals to choose between: KnownServer knows no server there")
	}
	tests := []struct {
		name  string
		p     Process
		first syscall.Signal
		want  []string
	}{
		{"ordinary", Process{Name: "node"}, 0, []string{"SIGTERM", "SIGKILL"}},
		{"ordinary, INT", Process{Name: "node"}, syscall.SIGINT, []string{"SIGINT", "SIGKILL"}},
		{"KILL alone", Process{Name: "node"}, syscall.SIGKILL, []string{"SIGKILL"}},
		{"postgres", Process{Name: "postgres"}, 0, []string{"SIGINT", "SIGQUIT", "SIGKILL"}},
		{"postgres, TERM", Process{Name: "postgres"}, syscall.SIGTERM, []string{"SIGTERM", "SIGINT", "SIGQUIT", "SIGKILL"}},
		{"postgres, QUIT", Process{Name: "postgres"}, syscall.SIGQUIT, []string{"SIGQUIT", "SIGKILL"}},
		{"uwsgi", Process{Name: "uwsgi"}, 0, []string{"SIGINT", "SIGKILL"}},
		{"uwsgi, TERM reloads", Process{Name: "uwsgi"}, syscall.SIGTERM, []string{"SIGTERM", "SIGINT", "SIGKILL"}},
		{"nginx", Process{Name: "nginx"}, 0, []string{"SIGTERM", "SIGKILL"}},
		{"php-fpm", Process{Name: "php-fpm8.2"}, 0, []string{"SIGTERM", "SIGKILL"}},
		{"gunicorn in python", Process{Name: "python3", Cmdline: []string{"/usr/bin/python3", "/usr/bin/gunicorn", "app:app"}}, 0,
			[]string{"SIGTERM", "SIGINT", "SIGKILL"}},
		{"redis", Process{Name: "redis-server"}, 0, []string{"SIGTERM", "SIGKILL"}},
		{"unicorn's own title", Process{Name: "ruby", Cmdline: []string{"unicorn master -c unicorn.rb"}}, 0, []string{"SIGTERM", "SIGKILL"}},
		{"postgres named in an argument only", Process{Name: "sh", Cmdline: []string{"sh", "-c", "postgres"}}, 0, []string{"SIGTERM", "SIGKILL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, st := range StopSteps(&tt.p, tt.first) {
				got = append(got, SignalName(st.Signal))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("StopSteps(%s, %v) = %q; want %q", tt.p.Name, tt.first, got, tt.want)
			}
		})
	}
}

func TestKnownServer(t *testing.T) {
	if isWindows {
		t.Skip("KnownServer knows no server on Windows")
	}
	tests := []struct {
		name string
		p    Process
		want string // "" for an ordinary process
	}{
		{"postgres", Process{Name: "postgres", Cmdline: []string{"/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/15/main"}}, "PostgreSQL"},
		{"old postmaster", Process{Name: "postmaster"}, "PostgreSQL"},
		{"php-fpm with version", Process{Name: "php-fpm8.2", Cmdline: []string{"php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"}}, "PHP-FPM"},
		{"gunicorn in python", Process{Name: "python3", Cmdline: []string{"/usr/bin/python3", "/usr/bin/gunicorn", "app:app"}}, "Gunicorn"},
		{"unicorn title", Process{Name: "ruby", Cmdline: []string{"unicorn master -c unicorn.rb"}}, "Unicorn"},
		{"uwsgi", Process{Name: "uwsgi", Cmdline: []string{"uwsgi", "--ini", "app.ini"}}, "uWSGI"},
		{"nginx worker", Process{Name: "nginx", Cmdline: []string{"nginx: worker process"}}, "nginx"},
		{"mariadb", Process{Name: "mariadbd"}, "MySQL"},
		{"node", Process{Name: "node", Cmdline: []string{"node", "server.js"}}, ""},
		{"argument, not program", Process{Name: "python3", Cmdline: []string{"python3", "-m", "postgres"}}, ""},
		{"empty", Process{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if s := KnownServer(&tt.p); s != nil {
				got = s.Name
			}
			if got != tt.want {
				t.Errorf("KnownServer(%q %q) = %q; want %q", tt.p.Name, tt.p.Cmdline, got, tt.want)
			}
		})
	}
}

// FuzzStopSteps: any name and command line give a ladder that ends in
// SIGKILL and starts with the signal asked for.
func FuzzStopSteps(f *testing.F) {
	f.Add("postgres", "/usr/lib/postgresql/15/bin/postgres", "-D", 0)
	f.Add("php-fpm8.2", "php-fpm: master process", "", 15)
	f.Add("ruby", "unicorn master -c unicorn.rb", "", 2)
	f.Add("", "", "", 9)
	f.Fuzz(func(t *testing.T, name, arg0, arg1 string, sig int) {
		p := Process{Name: name, Cmdline: []string{arg0, arg1}}
		first := syscall.Signal(sig & 63)
		steps := StopSteps(&p, first)
		if len(steps) == 0 || steps[len(steps)-1].Signal != syscall.SIGKILL {
			t.Fatalf("StopSteps(%q, %v) = %v; want SIGKILL last", p.Cmdline, first, steps)
		}
		if first != 0 && steps[0].Signal != first {
			t.Fatalf("StopSteps(%q, %v) starts with %v", p.Cmdline, first, steps[0].Signal)
		}
	})
}

package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRunArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		msg     string // in the error, when code != 0
		want    *RunOptions
		command []string
	}{
		{"command", []string{"API", "--", "npm", "run", "dev"}, 0, "", &RunOptions{Name: "api", Timeout: 10 * time.Second}, []string{"npm", "run", "dev"}},
		{"flags before --", []string{"web", "--no-inject", "--port", "4000", "--timeout", "3s", "--", "vite", "--port", "1"}, 0, "",
			&RunOptions{Name: "web", NoInject: true, Port: 4000, Timeout: 3 * time.Second}, []string{"vite", "--port", "1"}},
		{"no --: services", []string{"api", "web"}, 0, "", &RunOptions{Project: true, Services: []string{"api", "web"}, Timeout: 10 * time.Second}, nil},
		{"project", nil, 0, "", &RunOptions{Project: true, Timeout: 10 * time.Second}, nil},
		{"project file", []string{"--file", "x.toml", "--no-watch", "--timeout", "1s"}, 0, "",
			&RunOptions{Project: true, File: "x.toml", NoWatch: true, Timeout: time.Second}, nil},
		{"project with --port", []string{"--port", "3000"}, 2, "--port is for one command", nil, nil},
		{"project with no timeout", []string{"--timeout", "0s"}, 2, "--timeout 0s is not a duration", nil, nil},
		{"command with --file", []string{"--file", "x.toml", "api", "--", "true"}, 2, "--file and --no-watch are for a project", nil, nil},
		{"no name", []string{"--", "npm", "start"}, 2, "needs a name before --", nil, nil},
		{"nothing after --", []string{"api", "--"}, 2, "nothing after --", nil, nil},
		{"two names", []string{"api", "web", "--", "npm", "start"}, 2, "one name before --", nil, nil},
		{"bad name", []string{"my_app", "--", "true"}, 2, `route name "my_app" has '_' at position 3`, nil, nil},
		{"bad port", []string{"api", "--port", "70000", "--", "true"}, 2, "--port 70000 is not a port", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io, _, _ := testIO("")
			var got *RunOptions
			cmd := NewCmdRun(&Factory{IO: io}, func(o *RunOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Err)
			cmd.SetErr(io.Err)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if code := exitCode(err); code != tt.code {
				t.Fatalf("run %q exit = %d (%v); want %d", tt.args, code, err, tt.code)
			}
			if tt.code != 0 {
				if !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("run %q error = %q; want it to say %q", tt.args, err, tt.msg)
				}
				return
			}
			if got.IO != io {
				t.Errorf("run %q: options lost the command's IO", tt.args)
			}
			tt.want.IO, tt.want.Command = nil, tt.command
			got.IO, got.Factory, got.Dir = nil, nil, ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("run %q options (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

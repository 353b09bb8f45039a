package cli

import (
	"strings"
	"testing"

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
		{"command", []string{"API", "--", "npm", "run", "dev"}, 0, "", &RunOptions{Name: "api"}, []string{"npm", "run", "dev"}},
		{"flags before --", []string{"web", "--no-inject", "--port", "4000", "--", "vite", "--port", "1"}, 0, "", &RunOptions{Name: "web", NoInject: true, Port: 4000}, []string{"vite", "--port", "1"}},
		{"no --", []string{"api", "npm", "start"}, 2, "needs -- before the command", nil, nil},
		{"no name", []string{"--", "npm", "start"}, 2, "needs a name and a command", nil, nil},
		{"nothing", nil, 2, "needs a name and a command", nil, nil},
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
			got.IO = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("run %q options (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

package supervisor

import (
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the shell is cmd on Windows")
	}
	tests := []struct {
		name, run string
		want      []string
	}{
		{"plain words", "npx vite", []string{"npx", "vite"}},
		{"flags and paths", "go run ./cmd/api --addr=:8080", []string{"go", "run", "./cmd/api", "--addr=:8080"}},
		{"extra spaces", "  redis-server   --port 6380 ", []string{"redis-server", "--port", "6380"}},
		{"a variable first", "FOO=1 node app.js", []string{"/bin/sh", "-c", "FOO=1 node app.js"}},
		{"quotes", `sh -c 'exit 3'`, []string{"/bin/sh", "-c", `sh -c 'exit 3'`}},
		{"an expansion", "python3 -m http.server $PORT", []string{"/bin/sh", "-c", "python3 -m http.server $PORT"}},
		{"operators", "make build && ./app", []string{"/bin/sh", "-c", "make build && ./app"}},
		{"a redirection", "app >log", []string{"/bin/sh", "-c", "app >log"}},
		{"a glob", "cat *.txt", []string{"/bin/sh", "-c", "cat *.txt"}},
		{"a home folder", "~/bin/app", []string{"/bin/sh", "-c", "~/bin/app"}},
		{"empty", "   ", []string{"/bin/sh", "-c", "   "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Command(tt.run)); diff != "" {
				t.Errorf("Command(%q) (-want +got):\n%s", tt.run, diff)
			}
		})
	}
}

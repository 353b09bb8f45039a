package project

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// formatProblems writes problems as homeport check shows them, one block
// per problem.
func formatProblems(ps Problems) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Error())
		b.WriteString("\n")
		if p.Hint != "" {
			b.WriteString("\thint: " + p.Hint + "\n")
		}
	}
	return b.String()
}

// TestGoldenProblems parses each testdata/*.toml and compares what is wrong
// with it to the .txt beside it (go test -update rewrites them).
func TestGoldenProblems(t *testing.T) {
	files, err := filepath.Glob("testdata/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".toml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(filepath.Base(file), data)
			got := "ok\n"
			if err != nil {
				var ps Problems
				if !errors.As(err, &ps) {
					t.Fatalf("Parse(%s) = %v; want Problems", file, err)
				}
				got = formatProblems(ps)
			}
			golden := strings.TrimSuffix(file, ".toml") + ".txt"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if d := cmp.Diff(string(want), got); d != "" {
				t.Errorf("Parse(%s) problems differ from %s (-want +got):\n%s", file, golden, d)
			}
		})
	}
}

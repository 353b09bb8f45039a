package project

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no document makes Parse panic, every problem has a place inside
// the document and says what would be right, and a document that parses has
// its services in name order.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.toml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("services.a.run = 'x'\nservices.a.after = [['a']]\n"))
	f.Add([]byte("[[services]]\nrun = 'x'\n"))
	f.Add([]byte("[services.a]\nrun = \"\"\"\n${a.port\"\"\"\nenv.X.Y = 'z'\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		file, err := Parse("f.toml", doc)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse(%q) = %v; want Problems", doc, err)
			}
			lines := 1
			for _, c := range doc {
				if c == '\n' {
					lines++
				}
			}
			for _, p := range ps {
				if p.File != "f.toml" || p.Line < 1 || p.Line > lines || p.Column < 1 || p.Msg == "" || p.Hint == "" {
					t.Fatalf("Parse(%q): problem %+v is not placed or not explained", doc, p)
				}
			}
			return
		}
		for i := 1; i < len(file.Services); i++ {
			if file.Services[i-1].Name >= file.Services[i].Name {
				t.Fatalf("Parse(%q): services out of order", doc)
			}
		}
	})
}

package cli

import (
	"strings"
	"sync"
	"testing"
)

func TestPrefixedLines(t *testing.T) {
	var b strings.Builder
	m := &lineMux{out: &b, width: 8}
	api, db := m.source("api", ""), m.source("db", "")
	api.Write([]byte("one\ntw"))
	db.Write([]byte("ready\r\n"))
	api.Write([]byte("o\nthree"))
	api.Flush()
	db.Flush()
	want := "api      | one\ndb       | ready\napi      | two\napi      | three\n"
	if got := b.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}

	b.Reset()
	m.color = true
	m.source("web", serviceColors[0]).Write([]byte("x\n"))
	if got, want := b.String(), serviceColors[0]+"web      |"+styleReset+" x\n"; got != want {
		t.Errorf("coloured line %q; want %q", got, want)
	}
}

// Lines written at once from several goroutines come out whole.
func TestPrefixedLinesConcurrent(t *testing.T) {
	var b strings.Builder
	m := &lineMux{out: &b, width: 3}
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c"} {
		w := m.source(name, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				w.Write([]byte(strings.Repeat(name, 50) + "\n"))
			}
		}()
	}
	wg.Wait()
	for i, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		name := line[:1]
		if line != name+"   | "+strings.Repeat(name, 50) {
			t.Fatalf("line %d mixed: %q", i+1, line)
		}
	}
}

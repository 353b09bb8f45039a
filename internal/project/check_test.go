package project

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"homeport/internal/sockets"
)

// Check reports the mistakes of the text and those only the system shows in
// one go, in the order of the file.
func TestCheckAll(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	dir := t.TempDir()
	doc := "[services.db]\nrun = \"x\"\nport = " + port + "\nprot = 1\n[services.web]\nrun = \"x\"\ndir = \"nope\"\n"
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = Check(context.Background(), CheckOptions{Dir: filepath.Join(dir, "sub"), Plan: PlanOptions{Take: sockets.Take}})
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Check = %v; want Problems", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.File+":"+strconv.Itoa(p.Line)+" "+string(p.Kind))
	}
	want := []string{"../homeport.toml:3 port held", "../homeport.toml:4 unknown key", "../homeport.toml:7 bad value"}
	if !slices.Equal(got, want) {
		t.Errorf("Check problems = %q; want %q", got, want)
	}
}

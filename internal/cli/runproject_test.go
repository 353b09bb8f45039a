package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// A project's routes are named as its processes' attribution names them.
func TestProjectName(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("named by the folder on Windows")
	}
	root := t.TempDir()
	plain := filepath.Join(root, "shop")
	named := filepath.Join(root, "checkout")
	for _, d := range []string{plain, named} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "homeport.toml"), []byte("[services.a]\nrun = \"true\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(named, "package.json"), []byte(`{"name": "@acme/shop"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{plain: "shop", named: "@acme/shop"} {
		if got := projectName(dir); got != want {
			t.Errorf("projectName(%q) = %q; want %q", dir, got, want)
		}
	}
}

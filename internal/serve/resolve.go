package serve

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strings"
	"unicode/utf8"
)

// Errors of the path resolver. They map to statuses in one place
// (Server.fail).
var (
	errBadPath = errors.New("bad path")
	errHidden  = errors.New("hidden dotfile")
)

// cleanPath turns a request's decoded URL path into a name relative to the
// root, in the slash-separated form os.Root takes ("." for the root itself).
//
// It is the one function every route goes through — files, directory
// listings, the SPA fallback and live-reload injection — so that a path is
// judged in one place. It refuses rather than repairs anything odd: a path
// that does not start with "/", a NUL, a backslash (a separator on Windows),
// bytes that are not UTF-8 (overlong encodings of "." and "/" among them),
// on Windows another name for a file (see windowsAlias), and, unless
// dotfiles is set, any segment that starts with "." (.git, .env).
// ".." segments are folded by path.Clean against the root, never above it;
// escape through symlinks is stopped later by os.Root itself.
func cleanPath(urlPath string, dotfiles bool) (string, error) {
	if urlPath == "" || urlPath[0] != '/' {
		return "", errBadPath
	}
	if strings.ContainsAny(urlPath, "\x00\\") || !utf8.ValidString(urlPath) {
		return "", errBadPath
	}
	if runtime.GOOS == "windows" && windowsAlias(urlPath) {
		return "", errBadPath
	}
	// A dot segment is refused even when ".." would fold it away
	// ("/.git/../x"): such a request can only come from a probe.
	if !dotfiles {
		for seg := range strings.SplitSeq(urlPath, "/") {
			if strings.HasPrefix(seg, ".") && seg != "." && seg != ".." {
				return "", errHidden
			}
		}
	}
	name := path.Clean(urlPath)[1:]
	if name == "" {
		return ".", nil
	}
	return name, nil
}

// windowsAlias reports a path that Windows would read as another name for a
// file: a drive or stream ("C:", "x.txt::$DATA"), or an 8.3 short name
// ("GIT~1" for .git) that would get around the dotfile rule.
func windowsAlias(p string) bool {
	if strings.ContainsRune(p, ':') {
		return true
	}
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '~' && p[i+1] >= '0' && p[i+1] <= '9' {
			return true
		}
	}
	return false
}

// resolve cleans urlPath and stats what it names inside root, following
// symlinks only as far as they stay inside the root.
func resolve(root *os.Root, urlPath string, dotfiles bool) (string, fs.FileInfo, error) {
	name, err := cleanPath(urlPath, dotfiles)
	if err != nil {
		return "", nil, err
	}
	fi, err := root.Stat(name)
	if err != nil {
		return name, nil, err
	}
	return name, fi, nil
}

// open opens a regular file found by resolve. It opens through root again,
// so that a file swapped for a symlink between the stat and the open is
// still held inside the root, and refuses anything that is no longer a
// regular file.
func open(root *os.Root, name string) (*os.File, fs.FileInfo, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fs.ErrNotExist
	}
	return f, fi, nil
}

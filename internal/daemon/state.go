// Package daemon runs homeport's long-lived process (`homeport up`) and finds
// it again for the commands that talk to it (`down`, `status`, `ui`).
//
// One daemon runs per user. Its state directory ($XDG_STATE_HOME/homeport,
// or ~/.local/state/homeport) holds, each readable by that user alone:
//
//	token        the per-user secret every request to the API carries
//	daemon.json  where the running daemon listens, its pid and start time
//	daemon.lock  held (flock) while a daemon runs: the one-per-user rule
//	daemon.log   what a detached daemon writes
//
// The HTTP side (page, API, SSE, metrics) is internal/dashboard's.
package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// DefaultPort is the daemon's port on 127.0.0.1 and [::1].
const DefaultPort = 62893

// Dir returns the state directory, creating it with mode 0700.
func Dir() (string, error) {
	var dir string
	switch x := os.Getenv("XDG_STATE_HOME"); {
	case x != "" && filepath.IsAbs(x):
		dir = filepath.Join(x, "homeport")
	case runtime.GOOS == "windows" && os.Getenv("LOCALAPPDATA") != "":
		dir = filepath.Join(os.Getenv("LOCALAPPDATA"), "homeport")
	default:
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the state directory: %w", err)
		}
		dir = filepath.Join(home, ".local", "state", "homeport")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	// An existing directory keeps its mode; make sure others cannot list
	// or write it (the token's own mode keeps it secret either way).
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("making %s private: %w", dir, err)
		}
	}
	return dir, nil
}

// Token returns the per-user token stored in dir, creating it (32 random
// bytes, hex, mode 0600) when there is none. A token file that others may
// read is not trusted: it is replaced by a new one.
func Token(dir string) (string, error) {
	path := filepath.Join(dir, "token")
	b, err := os.ReadFile(path)
	if err == nil {
		fi, serr := os.Stat(path)
		tok := strings.TrimSpace(string(b))
		if serr == nil && (runtime.GOOS == "windows" || fi.Mode().Perm()&0o077 == 0) && len(tok) >= 32 {
			return tok, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw)
	if err := writePrivate(path, []byte(tok+"\n")); err != nil {
		return "", err
	}
	return tok, nil
}

// TokenPath is where the token of dir lives (for Prometheus'
// credentials_file, for instance).
func TokenPath(dir string) string { return filepath.Join(dir, "token") }

// writePrivate writes a file readable by its owner alone, replacing any
// file there atomically.
func writePrivate(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// State says where a daemon runs. It is daemon.json's content and the
// answer of /api/v1/status.
type State struct {
	PID     int       `json:"pid"`
	Address string    `json:"address"` // the dashboard's URL, http://127.0.0.1:PORT/
	Port    int       `json:"port"`
	Since   time.Time `json:"since"`
	Version string    `json:"version,omitempty"`
}

func statePath(dir string) string { return filepath.Join(dir, "daemon.json") }

func writeState(dir string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writePrivate(statePath(dir), append(b, '\n'))
}

// readState reads daemon.json; a missing file is (nil, nil).
func readState(dir string) (*State, error) {
	b, err := os.ReadFile(statePath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", statePath(dir), err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("reading %s: %w", statePath(dir), err)
	}
	return &st, nil
}

package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DetachedEnv is set in the environment of a daemon started by Detach.
const DetachedEnv = "HOMEPORT_DETACHED"

// Detach starts exe with args (an `up` command line) in the background, in
// a session of its own with its output in daemon.log, and returns once the
// daemon answers. A daemon that stops before it answers returns an error
// with the end of what it wrote.
func Detach(ctx context.Context, exe string, args []string) (*State, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "daemon.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", logPath, err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), DetachedEnv+"=1")
	cmd.SysProcAttr = detachAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(30 * time.Second)
	for {
		st, err := Find(ctx)
		if err == nil && st.PID == cmd.Process.Pid {
			return st, nil
		}
		select {
		case werr := <-exited:
			b, _ := os.ReadFile(logPath)
			msg := strings.TrimSpace(string(lastLines(b, 3)))
			if msg == "" && werr != nil {
				msg = werr.Error()
			}
			if st, ferr := Find(ctx); ferr == nil {
				// Another daemon of this user answered first.
				return st, &RunningError{State: *st}
			}
			return nil, errors.New("the daemon stopped before it answered: " + msg)
		case <-deadline:
			return nil, fmt.Errorf("the daemon (pid %d) did not answer within 30s; see %s", cmd.Process.Pid, logPath)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func lastLines(b []byte, n int) []byte {
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

package supervisor

import (
	"context"
	"runtime"
	"strings"
	"time"

	"homeport/internal/project"
	"homeport/internal/sockets"
)

// waitFree waits up to within for nothing to listen on TCP port p. When
// something still does, it names the holders.
func waitFree(ctx context.Context, p int, within time.Duration) (bool, string) {
	deadline := time.Now().Add(within)
	for {
		socks, err := sockets.List(ctx, sockets.Filter{TCP: true, Port: uint16(p)})
		var held []sockets.Socket
		for _, s := range socks {
			if s.State.Listening() {
				held = append(held, s)
			}
		}
		if err == nil && len(held) == 0 {
			return true, ""
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return false, "(the socket list cannot be read: " + err.Error() + ")"
			}
			return false, project.Holders(held)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Command is the argv of a service's run: its words when it is a plain
// command (so that a dev server is recognised and gets its port flag, as
// `homeport run` gives it), else the shell's.
func Command(run string) []string {
	if plain(run) {
		return strings.Fields(run)
	}
	if runtime.GOOS == "windows" {
		return []string{"cmd", "/C", run}
	}
	return []string{"/bin/sh", "-c", run}
}

// plain says run is words the shell would pass on as they are: no
// quotes, expansions, redirections, globs or operators.
func plain(run string) bool {
	words := strings.Fields(run)
	if len(words) == 0 || strings.Contains(words[0], "=") {
		// "FOO=1 cmd" sets a variable, as only the shell does.
		return false
	}
	for _, r := range run {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(" -_./:=@%+,", r):
		default:
			return false
		}
	}
	return true
}

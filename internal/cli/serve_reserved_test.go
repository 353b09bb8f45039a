package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// TestServeExcludedPort: a port inside a range Windows excludes is named as
// the cause, and serve moves on (or, with --strict-port, stops with the
// reservation as the message). The port is held here so that the bind
// fails on Linux too; the injected provider says it is excluded.
func TestServeExcludedPort(t *testing.T) {
	port := holdPort(t)
	dir := t.TempDir()
	ex := ports.FixedReserved{Exclusions: map[string][]ports.Exclusion{"tcp": {{Range: ports.Range{Lo: uint16(port), Hi: uint16(port)}}}}}
	want := fmt.Sprintf("port %d is in the range %d that Windows excludes", port, port)

	f, _, errb := serveTestFactory()
	urls, stop := runServe(t, &ServeOptions{IO: f.IO, Factory: f, Dir: dir, Port: port, Hosts: []string{"127.0.0.1"}, Reserved: ex})
	if !strings.Contains(errb.String(), want) || !strings.Contains(errb.String(), "trying "+strconv.Itoa(port+1)) {
		t.Errorf("stderr = %q; want %q and the next port tried", errb, want)
	}
	if !strings.Contains(urls[0], ":") {
		t.Errorf("urls = %q", urls)
	}
	stop()

	f, _, _ = serveTestFactory()
	err := serveRun(context.Background(), &ServeOptions{IO: f.IO, Factory: f, Dir: dir, Port: port, Hosts: []string{"127.0.0.1"}, StrictPort: true, Reserved: ex})
	var ee *ExitError
	if !errors.As(err, &ee) || !strings.HasPrefix(ee.Msg, want) || !strings.Contains(ee.Hint, "homeport free") {
		t.Errorf("serve --strict-port on an excluded port = %#v; want the reservation named", err)
	}
}

// TestServeDynamicPort: a taken port that no listener holds, inside the
// dynamic range, is explained as such.
func TestServeDynamicPort(t *testing.T) {
	port := holdPort(t)
	dir := t.TempDir()
	dyn := ports.FixedReserved{DynamicRange: ports.Range{Lo: uint16(port), Hi: uint16(port)}}
	f, _, _ := serveTestFactory()
	f.Take = func(context.Context, sockets.Filter) (*sockets.Snapshot, error) { return &sockets.Snapshot{}, nil }
	err := serveRun(context.Background(), &ServeOptions{IO: f.IO, Factory: f, Dir: dir, Port: port, Hosts: []string{"127.0.0.1"}, StrictPort: true, Reserved: dyn})
	var ee *ExitError
	want := fmt.Sprintf("port %d is in the dynamic port range %d,", port, port)
	if !errors.As(err, &ee) || ee.Msg != fmt.Sprintf("port %d is taken", port) || !strings.Contains(ee.Hint, want) {
		t.Errorf("serve --strict-port on a taken dynamic port = %#v; want the hint %q", err, want)
	}
}

// Package containers names the containers behind ports: it asks the Docker
// Engine API (Docker, rootless Docker, and Podman's compatible API) which
// containers run, with their names, images, Compose labels and published
// ports.
//
// It speaks HTTP/1.1 over the daemon's socket with net/http, which homeport
// links anyway, and decodes one endpoint, GET /containers/json, instead of
// using github.com/moby/moby/client: that module brings OpenTelemetry,
// distribution/reference (regular expressions compiled at start) and a
// dozen more packages, whose initialisation cost every homeport command
// about 1.9 ms and 1.5 MB (bench/results/ports.md).
package containers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Container is one running container.
type Container struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Image   string `json:"image"`
	Project string `json:"compose_project,omitempty"` // com.docker.compose.project
	Service string `json:"compose_service,omitempty"` // com.docker.compose.service
	State   string `json:"state,omitempty"`           // running, paused, ...
	// Engine is the endpoint the container was listed from
	// ("unix:///var/run/docker.sock"), which says whether `docker` or
	// `podman` stops it.
	Engine string `json:"engine"`
	Ports  []Port `json:"ports,omitempty"`
}

// Port is a container port, and where the host publishes it.
type Port struct {
	Proto   string     `json:"proto"`          // "tcp" or "udp"
	Private uint16     `json:"container_port"` // the port inside the container
	Public  uint16     `json:"host_port"`      // 0: not published
	IP      netip.Addr `json:"host_ip"`        // the host address it is published on; unspecified for all
}

// Podman reports whether the container is Podman's, by its engine's socket.
func (c *Container) Podman() bool { return strings.Contains(c.Engine, "podman") }

// StopCommand is the command that stops the container: "docker stop NAME",
// or podman's.
func (c *Container) StopCommand() string {
	tool := "docker"
	if c.Podman() {
		tool = "podman"
	}
	name := c.Name
	if name == "" {
		name = c.ID[:min(12, len(c.ID))]
	}
	return tool + " stop " + name
}

// Kind says why container names are missing.
type Kind string

// The kinds of Unavailable.
const (
	NoSocket    Kind = "no-socket"   // no daemon socket where one was expected
	Denied      Kind = "denied"      // the socket may not be opened
	NotRunning  Kind = "not-running" // the socket exists, nothing answers on it
	OldAPI      Kind = "old-api"     // the daemon speaks an API older than homeport reads
	Unsupported Kind = "unsupported" // DOCKER_HOST names a transport homeport does not speak
	Failed      Kind = "failed"      // any other failure of the request
)

// Unavailable says why one engine could not be asked.
type Unavailable struct {
	Kind     Kind
	Endpoint string // "unix:///var/run/docker.sock"
	Err      error
}

func (u *Unavailable) Error() string {
	return fmt.Sprintf("%s: %v", u.Endpoint, u.Err)
}

func (u *Unavailable) Unwrap() error { return u.Err }

// Reason says, in a sentence for the user, why container names are
// missing, and Hint what to do about it.
func (u *Unavailable) Reason() string {
	switch u.Kind {
	case NoSocket:
		return fmt.Sprintf("container names are missing: no Docker daemon socket at %s", u.socketPath())
	case Denied:
		return fmt.Sprintf("container names are missing: no permission to use %s", u.socketPath())
	case NotRunning:
		return fmt.Sprintf("container names are missing: nothing answers on %s (is the daemon running?)", u.socketPath())
	case OldAPI:
		return fmt.Sprintf("container names are missing: the daemon on %s speaks too old an API (%v)", u.socketPath(), u.Err)
	case Unsupported:
		return fmt.Sprintf("container names are missing: %v", u.Err)
	}
	return fmt.Sprintf("container names are missing: asking %s failed: %v", u.Endpoint, u.Err)
}

// Hint is the next step for Reason.
func (u *Unavailable) Hint() string {
	switch u.Kind {
	case NoSocket, NotRunning:
		return "start the daemon, or point DOCKER_HOST at its socket (DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock for rootless Docker)"
	case Denied:
		return "run with sudo, or join the docker group: sudo usermod -aG docker $USER (then log in again)"
	case OldAPI:
		return "upgrade the container engine to Docker 1.13 (API 1.25) or later"
	case Unsupported:
		return "use a unix:// or tcp:// DOCKER_HOST"
	}
	return "check the daemon with `docker info`"
}

func (u *Unavailable) socketPath() string {
	if p, ok := strings.CutPrefix(u.Endpoint, "unix://"); ok {
		return p
	}
	return u.Endpoint
}

// minAPI is the oldest Engine API homeport reads: 1.25 (Docker 1.13) has
// every field of /containers/json it uses.
const minAPI = "1.25"

// Endpoints returns the engine endpoints to ask and whether the user named
// one: DOCKER_HOST when set (explicit), else each default socket that
// exists: Docker's (/var/run/docker.sock), rootless Docker's
// ($XDG_RUNTIME_DIR/docker.sock), Podman's ($XDG_RUNTIME_DIR/podman/podman.sock,
// /run/podman/podman.sock), and Docker Desktop's on macOS
// (~/.docker/run/docker.sock). missing lists the default sockets that do
// not exist, for the note when a container is seen but no engine answers.
func Endpoints(getenv func(string) string) (endpoints []string, explicit bool, missing []string) {
	if h := getenv("DOCKER_HOST"); h != "" {
		return []string{h}, true, nil
	}
	var candidates []string
	candidates = append(candidates, "/var/run/docker.sock")
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		candidates = append(candidates, filepath.Join(d, "docker.sock"), filepath.Join(d, "podman", "podman.sock"))
	}
	candidates = append(candidates, "/run/podman/podman.sock")
	if runtime.GOOS == "darwin" {
		if home := getenv("HOME"); home != "" {
			candidates = append(candidates, filepath.Join(home, ".docker", "run", "docker.sock"))
		}
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			endpoints = append(endpoints, "unix://"+c)
		} else if !errors.Is(err, fs.ErrNotExist) && err != nil {
			// A socket we may not even stat (a folder without search
			// permission) is still worth a Denied note.
			endpoints = append(endpoints, "unix://"+c)
		} else {
			missing = append(missing, "unix://"+c)
		}
	}
	return endpoints, false, missing
}

// List asks each endpoint for its running containers. It returns the
// containers of the engines that answered, and why the others did not.
func List(ctx context.Context, endpoints []string) ([]Container, []*Unavailable) {
	var out []Container
	var problems []*Unavailable
	for _, ep := range endpoints {
		cs, err := list(ctx, ep)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		out = append(out, cs...)
	}
	return out, problems
}

// requestTimeout bounds one listing: a daemon that hangs must not hang
// `homeport who`.
const requestTimeout = 2 * time.Second

func list(ctx context.Context, endpoint string) ([]Container, *Unavailable) {
	fail := func(k Kind, err error) *Unavailable { return &Unavailable{Kind: k, Endpoint: endpoint, Err: err} }
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fail(Unsupported, fmt.Errorf("DOCKER_HOST %q is not a URL", endpoint))
	}
	var dial func(ctx context.Context) (net.Conn, error)
	base := "http://docker"
	switch u.Scheme {
	case "unix":
		p := u.Path
		if p == "" {
			p = u.Opaque
		}
		dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p)
		}
	case "tcp", "http":
		host := u.Host
		base = "http://" + host
		dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", host)
		}
	default:
		return nil, fail(Unsupported, fmt.Errorf("DOCKER_HOST %q: homeport speaks to unix:// and tcp:// (without TLS) endpoints only", endpoint))
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	tr := &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	// No version in the path: the daemon answers in its own current API,
	// which every daemon accepts (a pinned version is refused by daemons
	// that have dropped it), and says which in the Api-Version header.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/containers/json", nil)
	if err != nil {
		return nil, fail(Failed, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT):
			return nil, fail(NoSocket, err)
		case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
			return nil, fail(Denied, err)
		case errors.Is(err, syscall.ECONNREFUSED):
			return nil, fail(NotRunning, err)
		}
		return nil, fail(Failed, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fail(Failed, fmt.Errorf("reading the container list: %w", err))
	}
	if v := resp.Header.Get("Api-Version"); v != "" && versionLess(v, minAPI) {
		return nil, fail(OldAPI, fmt.Errorf("API %s, homeport needs %s or later", v, minAPI))
	}
	if resp.StatusCode != http.StatusOK {
		msg := apiMessage(body)
		if resp.StatusCode == http.StatusBadRequest && strings.Contains(msg, "API version") {
			return nil, fail(OldAPI, errors.New(msg))
		}
		return nil, fail(Failed, fmt.Errorf("GET /containers/json: %s: %s", resp.Status, msg))
	}
	cs, err := ParseList(body)
	if err != nil {
		return nil, fail(Failed, err)
	}
	for i := range cs {
		cs[i].Engine = endpoint
	}
	return cs, nil
}

// apiMessage is the "message" of an Engine API error body, or the body.
func apiMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	return strings.TrimSpace(string(body[:min(len(body), 200)]))
}

// versionLess compares API versions "1.41" < "1.44" numerically.
func versionLess(a, b string) bool {
	am, an, _ := strings.Cut(a, ".")
	bm, bn, _ := strings.Cut(b, ".")
	x, _ := strconv.Atoi(am)
	y, _ := strconv.Atoi(bm)
	if x != y {
		return x < y
	}
	x, _ = strconv.Atoi(an)
	y, _ = strconv.Atoi(bn)
	return x < y
}

// ParseList decodes the body of GET /containers/json (Engine API, the
// ContainerSummary array). Names lose their leading "/"; ports without a
// public port are kept with Public 0.
func ParseList(body []byte) ([]Container, error) {
	var raw []struct {
		ID     string            `json:"Id"`
		Names  []string          `json:"Names"`
		Image  string            `json:"Image"`
		State  string            `json:"State"`
		Labels map[string]string `json:"Labels"`
		Ports  []struct {
			IP          string `json:"IP"`
			PrivatePort uint16 `json:"PrivatePort"`
			PublicPort  uint16 `json:"PublicPort"`
			Type        string `json:"Type"`
		} `json:"Ports"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("decoding the container list: %w", err)
	}
	out := make([]Container, 0, len(raw))
	for _, r := range raw {
		c := Container{
			ID:      strings.ToLower(r.ID),
			Image:   r.Image,
			State:   r.State,
			Project: r.Labels["com.docker.compose.project"],
			Service: r.Labels["com.docker.compose.service"],
		}
		if len(r.Names) > 0 {
			c.Name = strings.TrimPrefix(r.Names[0], "/")
		}
		for _, p := range r.Ports {
			port := Port{Proto: strings.ToLower(p.Type), Private: p.PrivatePort, Public: p.PublicPort}
			if port.Proto == "" {
				port.Proto = "tcp"
			}
			if a, err := netip.ParseAddr(p.IP); err == nil {
				port.IP = a.WithZone("")
			} else if p.PublicPort != 0 {
				port.IP = netip.IPv4Unspecified()
			}
			c.Ports = append(c.Ports, port)
		}
		out = append(out, c)
	}
	return out, nil
}

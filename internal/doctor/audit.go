package doctor

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"homeport/internal/sockets"
)

// Service is what a well-known port usually is, and what exposing it risks.
type Service struct {
	Name     string
	Severity Severity // when reachable from other machines
	Risk     string
}

// services by port. The risk notes say what an attacker on the network
// gets; severities follow how often each is found open and abused.
var knownServices = map[uint16]Service{
	2375:  {"Docker API (plain)", Critical, "the unauthenticated Docker API gives anyone who reaches it root on this machine (run a privileged container)"},
	2376:  {"Docker API (TLS)", High, "the Docker API gives root on this machine to whoever holds a client certificate; check it requires one (--tlsverify)"},
	6379:  {"Redis", High, "Redis has no password by default: anyone can read and change the data, and write files as the redis user (CONFIG SET dir)"},
	11211: {"Memcached", High, "Memcached has no authentication: anyone can read the cache, and UDP 11211 amplifies DDoS attacks"},
	9200:  {"Elasticsearch", High, "Elasticsearch without security enabled lets anyone read and delete every index"},
	9300:  {"Elasticsearch transport", High, "the Elasticsearch node protocol joins and controls the cluster"},
	27017: {"MongoDB", High, "MongoDB without --auth lets anyone read and drop every database"},
	5432:  {"PostgreSQL", Medium, "the database is reachable by other machines; only pg_hba.conf and passwords stand in between"},
	3306:  {"MySQL", Medium, "the database is reachable by other machines; only its accounts and passwords stand in between"},
	1433:  {"SQL Server", Medium, "the database is reachable by other machines"},
	5984:  {"CouchDB", High, "CouchDB in admin party mode gives anyone full control"},
	9229:  {"Node.js inspector", Critical, "the Node inspector runs any code in the process for whoever connects: remote code execution"},
	9222:  {"Chrome DevTools", Critical, "the DevTools protocol controls the browser: read cookies, run code in every page"},
	5005:  {"Java debugger (JDWP)", Critical, "JDWP runs any code in the JVM for whoever connects: remote code execution"},
	8000:  {"HTTP dev server or JDWP", Low, "a development server reachable by other machines"},
	8888:  {"Jupyter", High, "Jupyter runs code for whoever has its token (or for anyone, when the token is disabled)"},
	5900:  {"VNC", High, "remote desktop: often protected by a weak password only"},
	11434: {"Ollama", Medium, "the Ollama API has no authentication: anyone can run and pull models"},
	15672: {"RabbitMQ management", Medium, "the management UI, with guest/guest on old setups"},
	2181:  {"ZooKeeper", High, "ZooKeeper has no authentication by default"},
	8500:  {"Consul", High, "the Consul HTTP API can run scripts (when enabled) and change service registrations"},
	4444:  {"Selenium / debug shell", Medium, "a remote-control service"},
	6443:  {"Kubernetes API", Medium, "the cluster's API server"},
	10250: {"kubelet", High, "the kubelet API can run commands in pods"},
}

// serviceOf names what a socket likely is: first from its owner's command
// line (a debugger flag says more than the port), then from the port.
func serviceOf(s *sockets.Socket) (Service, bool) {
	for _, p := range s.Owners {
		cmd := strings.Join(p.Cmdline, " ")
		switch {
		case strings.Contains(cmd, "jdwp") && strings.Contains(cmd, "server=y"):
			return knownServices[5005], true
		case strings.Contains(cmd, "--inspect") && (p.Name == "node" || strings.Contains(cmd, "node")):
			if s.Port() == 9229 || strings.Contains(cmd, fmt.Sprint(s.Port())) {
				return knownServices[9229], true
			}
		case strings.Contains(cmd, "jupyter") || strings.Contains(cmd, "ipykernel"):
			return knownServices[8888], true
		case p.Name == "dockerd" && s.Proto == sockets.TCP:
			if s.Port() == 2376 {
				return knownServices[2376], true
			}
			return knownServices[2375], true
		}
	}
	svc, ok := knownServices[s.Port()]
	return svc, ok
}

// AuditOptions tune an audit.
type AuditOptions struct {
	// ProbeTimeout bounds each DNS-rebinding probe (default 1s).
	ProbeTimeout time.Duration
	// Progress, when set, is called as probes finish.
	Progress func(done, total int)
	// NoProbe skips the DNS-rebinding probes.
	NoProbe bool
}

// AuditListener is one listener as the audit shows it.
type AuditListener struct {
	Proto    string         `json:"proto"`
	Addr     netip.AddrPort `json:"addr"`
	Exposure string         `json:"exposure"`
	Process  string         `json:"process"`
	PIDs     []int          `json:"pids,omitempty"`
	Service  string         `json:"service,omitempty"`
}

// AuditReport is the result of an audit.
type AuditReport struct {
	// Exposed lists every listener reachable from other machines.
	Exposed []AuditListener `json:"exposed"`
	// Probed counts the loopback HTTP probes made.
	Probed   int       `json:"probed"`
	Findings []Finding `json:"findings"`
}

// Max returns the highest severity among the findings, and false when there
// are none.
func (r *AuditReport) Max() (Severity, bool) {
	if len(r.Findings) == 0 {
		return 0, false
	}
	m := Info
	for _, f := range r.Findings {
		m = max(m, f.Severity)
	}
	return m, true
}

// Audit lists what this machine exposes, and which loopback web servers
// answer requests for any Host (open to DNS rebinding: a web page on
// evil.example whose name is made to resolve to 127.0.0.1 can then read
// them). It only ever connects to this machine's own loopback addresses.
func Audit(ctx context.Context, env *Env, opts *AuditOptions) (*AuditReport, error) {
	if opts == nil {
		opts = &AuditOptions{}
	}
	socks, err := env.Inventory(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("reading the socket inventory: %w", err)
	}
	rep := &AuditReport{Exposed: []AuditListener{}, Findings: []Finding{}}
	var loopbackTCP []sockets.Socket
	seen := map[string]bool{}
	for i := range socks {
		s := &socks[i]
		if !s.State.Listening() {
			continue
		}
		if !s.Exposed() {
			if s.Proto == sockets.TCP && !seen[fmt.Sprint(s.Port())] {
				seen[fmt.Sprint(s.Port())] = true
				loopbackTCP = append(loopbackTCP, *s)
			}
			continue
		}
		rep.Exposed = append(rep.Exposed, auditListener(s))
		rep.Findings = append(rep.Findings, exposureFinding(s))
	}
	if !opts.NoProbe {
		rep.Probed = len(loopbackTCP)
		rep.Findings = append(rep.Findings, probeRebinding(ctx, env, loopbackTCP, opts)...)
	}
	slices.SortStableFunc(rep.Findings, func(a, b Finding) int { return int(b.Severity) - int(a.Severity) })
	return rep, nil
}

func auditListener(s *sockets.Socket) AuditListener {
	l := AuditListener{Proto: string(s.Proto), Addr: s.Local, Exposure: string(s.Exposure()),
		Process: describeProcs(s), PIDs: ownerPIDs(s)}
	if s.DualStack() {
		l.Exposure = "all interfaces (IPv4 and IPv6)"
	}
	if svc, ok := serviceOf(s); ok {
		l.Service = svc.Name
	}
	return l
}

// exposureFinding is the audit's finding for one exposed listener: a risk
// note for a known dangerous service, a low "reachable" note otherwise.
func exposureFinding(s *sockets.Socket) Finding {
	who := describeProcs(s)
	where := fmt.Sprintf("%s/%s", sockets.FormatAddr(s.Local), s.Proto)
	reach := "every network this machine is on"
	if s.Exposure() == sockets.Address {
		reach = "whoever can reach " + s.Local.Addr().Unmap().String()
	}
	bindFix := fmt.Sprintf("bind it to 127.0.0.1 (loopback) unless other machines need it, or allow only trusted hosts in the firewall (`sudo ufw deny %d/%s`)", s.Port(), s.Proto)
	if svc, ok := serviceOf(s); ok && svc.Severity >= Medium {
		return Finding{ID: IDDangerousService, Severity: svc.Severity, Addr: where, PIDs: ownerPIDs(s),
			Title:    fmt.Sprintf("%s (%s) listens on %s, reachable from %s", svc.Name, who, where, reach),
			Evidence: []string{svc.Risk},
			Fix:      bindFix,
		}
	}
	return Finding{ID: IDExposed, Severity: Low, Addr: where, PIDs: ownerPIDs(s),
		Title:    fmt.Sprintf("%s listens on %s, reachable from %s", who, where, reach),
		Evidence: []string{fmt.Sprintf("bound to %s, not to loopback", s.Local.Addr().Unmap())},
		Fix:      bindFix,
	}
}

// rebindHost is the foreign Host header of the probe: a name no local
// server should answer for.
const rebindHost = "rebind-check.homeport.invalid"

// probeRebinding sends one GET with a foreign Host header to each loopback
// TCP listener, 16 at a time, and reports the HTTP servers that answer it
// like any other request.
func probeRebinding(ctx context.Context, env *Env, socks []sockets.Socket, opts *AuditOptions) []Finding {
	timeout := opts.ProbeTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	var (
		mu       sync.Mutex
		out      []Finding
		done     int
		wg       sync.WaitGroup
		parallel = make(chan struct{}, 16)
	)
	for i := range socks {
		s := &socks[i]
		wg.Add(1)
		parallel <- struct{}{}
		go func() {
			defer func() { <-parallel; wg.Done() }()
			ap := netip.AddrPortFrom(connectIP(s.Local.Addr()), s.Port())
			status, line := rebindProbe(ctx, env, ap, timeout)
			mu.Lock()
			defer mu.Unlock()
			done++
			if opts.Progress != nil {
				opts.Progress(done, len(socks))
			}
			if status < 200 || status >= 400 {
				return // not HTTP, or it refused the foreign Host: good
			}
			who := describeProcs(s)
			sev := Medium
			if svc, ok := serviceOf(s); ok && svc.Severity >= High {
				sev = High
			}
			out = append(out, Finding{ID: IDDNSRebinding, Severity: sev, Addr: sockets.FormatAddr(ap), PIDs: ownerPIDs(s),
				Title: fmt.Sprintf("%s on %s answers any Host header: open to DNS rebinding", who, sockets.FormatAddr(ap)),
				Evidence: []string{
					fmt.Sprintf("GET / with Host: %s got %s", rebindHost, line),
					"a web page on any site can make its own name resolve to 127.0.0.1 and then read this server's answers in the browser",
				},
				Fix: "make the server check the Host header (allow only localhost and 127.0.0.1), e.g. Vite/webpack `allowedHosts`, Django `ALLOWED_HOSTS`; or require a token",
			})
		}()
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b Finding) int { return strings.Compare(a.Addr, b.Addr) })
	return out
}

func connectIP(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.IsUnspecified() {
		if a.Is4() {
			return netip.MustParseAddr("127.0.0.1")
		}
		return netip.IPv6Loopback()
	}
	return a
}

// rebindProbe sends the request by hand (no client library: it must not
// follow redirects or retry) and returns the status and status line, or 0
// when the answer is not HTTP.
func rebindProbe(ctx context.Context, env *Env, ap netip.AddrPort, timeout time.Duration) (int, string) {
	if !ap.Addr().IsLoopback() {
		return 0, "" // only this machine's own loopback, ever
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := env.Dial(ctx, "tcp", ap.String())
	if err != nil {
		return 0, ""
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: homeport-audit\r\nAccept: */*\r\nConnection: close\r\n\r\n", rebindHost)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		return 0, ""
	}
	return parseStatusLine(line)
}

// parseStatusLine reads "HTTP/1.1 200 OK" into 200 and the trimmed line.
func parseStatusLine(line string) (int, string) {
	line = strings.TrimRight(line, "\r\n")
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/") {
		return 0, ""
	}
	code, _, _ := strings.Cut(rest, " ")
	if len(code) != 3 {
		return 0, ""
	}
	n := 0
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, ""
		}
		n = n*10 + int(c-'0')
	}
	return n, line
}

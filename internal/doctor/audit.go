package doctor

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"homeport/internal/ports"
	"homeport/internal/sockets"
)

// Service is what a well-known port usually is, and what exposing it risks.
type Service struct {
	Name     string
	Severity Severity // when reachable from other machines
	Risk     string
}

// services by port. The risk notes say what an attacker on the network
// gets; severities follow how often each is found open and abused. This
// table and the others of the audit are built on first use: a map literal
// at package level would be built at the start of every homeport command.
var knownServices = sync.OnceValue(func() map[uint16]Service {
	return map[uint16]Service{
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
})

// nonHTTP are servers that speak their own protocol, by process name and
// by port. The audit never sends them an HTTP request: Redis logs one as
// "Possible SECURITY ATTACK detected", PostgreSQL as "invalid length of
// startup packet", and neither answers it.
var (
	nonHTTPProcs = sync.OnceValue(func() map[string]string {
		return map[string]string{
			"redis-server": "Redis", "redis-sentinel": "Redis Sentinel", "valkey-server": "Valkey", "keydb-server": "KeyDB",
			"postgres": "PostgreSQL", "postmaster": "PostgreSQL", "mysqld": "MySQL", "mariadbd": "MariaDB",
			"mongod": "MongoDB", "mongos": "MongoDB", "memcached": "Memcached", "sshd": "SSH", "dnsmasq": "DNS (dnsmasq)",
			"named": "DNS (BIND)", "unbound": "DNS (Unbound)", "systemd-resolve": "DNS (systemd-resolved)", "exim4": "SMTP (Exim)",
			"epmd": "Erlang port mapper", "cupsd": "", "sqlservr": "SQL Server",
		}
	})
	nonHTTPPorts = sync.OnceValue(func() map[uint16]string {
		return map[uint16]string{
			21: "FTP", 22: "SSH", 25: "SMTP", 53: "DNS", 110: "POP3", 143: "IMAP", 465: "SMTP", 587: "SMTP",
			993: "IMAP", 995: "POP3", 1433: "SQL Server", 2181: "ZooKeeper", 3306: "MySQL", 4369: "Erlang port mapper",
			5432: "PostgreSQL", 5672: "AMQP", 5900: "VNC", 6379: "Redis", 9092: "Kafka", 9300: "Elasticsearch transport",
			11211: "Memcached", 27017: "MongoDB",
		}
	})
)

// nonHTTPService names the non-web server behind s, from its owner's name;
// byPort also goes by the port, for the audit, which guesses where doctor
// was told the port is a web server.
func nonHTTPService(s *sockets.Socket, byPort bool) (string, bool) {
	for _, p := range s.Owners {
		if svc, ok := nonHTTPProcs()[p.Name]; ok && svc != "" {
			return svc, true
		}
	}
	if svc, ok := nonHTTPPorts()[s.Port()]; ok && byPort {
		return svc, true
	}
	return "", false
}

// inspectPort reads the Node.js inspector's port from node's own options,
// the ones before the script: --inspect, --inspect-brk and --inspect-wait
// take [=[host:]port] (9229 when none is given), --inspect-port (and the
// old --debug-port) set it apart. Options after the script are the
// application's. ok is false without an inspector flag; port 0 means the
// inspector picked a port at random (ask it: inspectorAnswers).
// NODE_OPTIONS is not visible in the command line.
func inspectPort(cmdline []string) (port int, ok bool) {
	port = 9229
	for i := 1; i < len(cmdline); i++ {
		arg := cmdline[i]
		if !strings.HasPrefix(arg, "-") || arg == "--" {
			break // the script, or the end of node's options
		}
		name, val, hasVal := strings.Cut(arg, "=")
		switch name {
		case "--inspect", "--inspect-brk", "--inspect-wait":
			ok = true
			if hasVal {
				if p, err := strconv.Atoi(val[strings.LastIndexByte(val, ':')+1:]); err == nil && p >= 0 && p <= 65535 {
					port = p
				}
			}
		case "--inspect-port", "--debug-port":
			if !hasVal && i+1 < len(cmdline) {
				i++
				val = cmdline[i]
			}
			if p, err := strconv.Atoi(val[strings.LastIndexByte(val, ':')+1:]); err == nil && p >= 0 && p <= 65535 {
				port = p
			}
		case "-e", "--eval", "-p", "--print":
			return port, ok // the code is the script; what follows is its
		case "-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions", "--input-type", "--title":
			if !hasVal {
				i++ // the option's value
			}
		}
	}
	return port, ok
}

// serviceOf names what a socket likely is: first from its owner's command
// line (a debugger flag says more than the port), then from the port.
// inspectors are the sockets that answered as a Node.js inspector.
func serviceOf(s *sockets.Socket, inspectors map[netip.AddrPort]bool) (Service, bool) {
	for _, p := range s.Owners {
		cmd := strings.Join(p.Cmdline, " ")
		switch {
		case strings.Contains(cmd, "jdwp") && strings.Contains(cmd, "server=y"):
			return knownServices()[5005], true
		case isNode(p.Name, p.Cmdline):
			port, inspect := inspectPort(p.Cmdline)
			if inspectors[s.Local] || inspect && int(s.Port()) == port {
				return knownServices()[9229], true
			}
			if inspect && s.Port() == 9229 {
				return Service{}, false // the inspector is elsewhere: this port is the application's
			}
		case strings.Contains(cmd, "jupyter") || strings.Contains(cmd, "ipykernel"):
			return knownServices()[8888], true
		case p.Name == "dockerd" && s.Proto == sockets.TCP:
			if s.Port() == 2376 {
				return knownServices()[2376], true
			}
			return knownServices()[2375], true
		}
	}
	// A known server on a port of its own is still that server.
	for _, p := range s.Owners {
		if port, ok := serviceProcs()[p.Name]; ok {
			return knownServices()[port], true
		}
	}
	svc, ok := knownServices()[s.Port()]
	return svc, ok
}

// serviceProcs are the dangerous services of knownServices by process name
// (the port each is listed under): found on any port.
var serviceProcs = sync.OnceValue(func() map[string]uint16 {
	return map[string]uint16{
		"redis-server": 6379, "valkey-server": 6379, "keydb-server": 6379, "memcached": 11211, "mongod": 27017,
		"postgres": 5432, "mysqld": 3306, "mariadbd": 3306, "ollama": 11434, "zookeeper": 2181,
	}
})

func isNode(name string, cmdline []string) bool {
	if name == "node" || name == "nodejs" {
		return true
	}
	return len(cmdline) > 0 && (filepath.Base(cmdline[0]) == "node" || filepath.Base(cmdline[0]) == "nodejs")
}

// AuditOptions tune an audit.
type AuditOptions struct {
	// ProbeTimeout bounds each loopback probe (default 1s).
	ProbeTimeout time.Duration
	// Progress, when set, is called as probes finish.
	Progress func(done, total int)
	// NoProbe skips the DNS-rebinding probes.
	NoProbe bool
}

// AuditListener is one listener as the audit shows it.
type AuditListener struct {
	Proto string         `json:"proto"`
	Addr  netip.AddrPort `json:"addr"`
	// Exposure is "all interfaces" or "address" (one non-loopback
	// address); DualStack marks an IPv6 wildcard that takes IPv4 too.
	Exposure  sockets.Exposure `json:"exposure"`
	DualStack bool             `json:"dual_stack,omitempty"`
	Process   string           `json:"process"`
	PIDs      []int            `json:"pids,omitempty"`
	Service   string           `json:"service,omitempty"`
}

// ProbeResult is what a loopback listener turned out to be.
type ProbeResult string

// The results of a probe.
const (
	// ProbeHTTP: an HTTP server; Status is its answer to the foreign Host.
	ProbeHTTP ProbeResult = "http"
	// ProbeBanner: the server spoke first (SSH, SMTP, FTP, MySQL ...);
	// nothing was sent to it.
	ProbeBanner ProbeResult = "banner"
	// ProbeNotHTTP: it answered the request with something else than HTTP
	// (a TLS alert, a protocol error), or closed the connection.
	ProbeNotHTTP ProbeResult = "not-http"
	// ProbeSilent: no answer within the probe timeout.
	ProbeSilent ProbeResult = "silent"
	// ProbeSkipped: a known non-web service (by process or port), not
	// contacted at all.
	ProbeSkipped ProbeResult = "skipped"
	// ProbeFailed: the connection failed (the listener went away).
	ProbeFailed ProbeResult = "failed"
)

// Probe is one loopback listener the audit looked at for DNS rebinding.
type Probe struct {
	Addr    netip.AddrPort `json:"addr"`
	Process string         `json:"process"`
	PIDs    []int          `json:"pids,omitempty"`
	Result  ProbeResult    `json:"result"`
	// Status is the HTTP status of the answer to the foreign Host.
	Status int `json:"status,omitempty"`
	// Service names a known service (skipped, or told by its banner).
	Service string `json:"service,omitempty"`
	// Said is what the server sent first, for banners and non-HTTP answers.
	Said string `json:"said,omitempty"`
}

// AuditReport is the result of an audit.
type AuditReport struct {
	// Exposed lists every listener reachable from other machines.
	Exposed []AuditListener `json:"exposed"`
	// Probed lists the loopback TCP listeners looked at for DNS rebinding,
	// one per port, with what each turned out to be.
	Probed   []Probe   `json:"probed"`
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
// them). It only ever connects to this machine's own loopback addresses,
// all probes side by side, and sends an HTTP request only to what may be a
// web server: not to known databases and other non-web services, nor to a
// server that speaks first.
func Audit(ctx context.Context, env *Env, opts *AuditOptions) (*AuditReport, error) {
	if opts == nil {
		opts = &AuditOptions{}
	}
	timeout := opts.ProbeTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	socks, err := env.Inventory(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("reading the socket inventory: %w", err)
	}
	inspectors := askInspectors(ctx, env, socks, timeout)
	rep := &AuditReport{Exposed: []AuditListener{}, Probed: []Probe{}, Findings: []Finding{}}
	var loopbackTCP []sockets.Socket
	seen := map[uint16]bool{}
	for i := range socks {
		s := &socks[i]
		if !s.State.Listening() {
			continue
		}
		if !s.Exposed() {
			if s.Proto == sockets.TCP && !seen[s.Port()] {
				seen[s.Port()] = true
				loopbackTCP = append(loopbackTCP, *s)
			}
			continue
		}
		rep.Exposed = append(rep.Exposed, auditListener(s, inspectors))
		rep.Findings = append(rep.Findings, exposureFinding(s, inspectors))
	}
	if !opts.NoProbe {
		probes, findings := probeRebinding(ctx, env, loopbackTCP, inspectors, timeout, opts.Progress)
		rep.Probed = probes
		rep.Findings = append(rep.Findings, findings...)
	}
	slices.SortStableFunc(rep.Findings, func(a, b Finding) int { return int(b.Severity) - int(a.Severity) })
	return rep, nil
}

// askInspectors finds the Node.js inspectors whose port the command line
// does not tell (--inspect=0, or several listeners in one process) by
// asking each of the process's loopback-reachable TCP listeners for
// /json/version, which only the inspector answers with a "Protocol-Version".
func askInspectors(ctx context.Context, env *Env, socks []sockets.Socket, timeout time.Duration) map[netip.AddrPort]bool {
	var ask []netip.AddrPort
	for i := range socks {
		s := &socks[i]
		if s.Proto != sockets.TCP || !s.State.Listening() {
			continue
		}
		for _, p := range s.Owners {
			if port, ok := inspectPort(p.Cmdline); ok && isNode(p.Name, p.Cmdline) && port == 0 {
				ask = append(ask, s.Local)
				break
			}
		}
	}
	out := map[netip.AddrPort]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ap := range ask {
		a := ap.Addr().Unmap()
		if !a.IsLoopback() && !a.IsUnspecified() {
			continue // only this machine's own loopback, ever
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			to := netip.AddrPortFrom(connectIP(a), ap.Port())
			u := &url.URL{Scheme: "http", Host: to.String(), Path: "/json/version"}
			an := httpGet(ctx, env, to, "http", u, to.String())
			if an.err == nil && an.status == 200 && strings.Contains(an.body, `"Protocol-Version"`) {
				mu.Lock()
				out[ap] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

func auditListener(s *sockets.Socket, inspectors map[netip.AddrPort]bool) AuditListener {
	l := AuditListener{Proto: string(s.Proto), Addr: s.Local, Exposure: s.Exposure(), DualStack: s.DualStack(),
		Process: describeProcs(s), PIDs: ownerPIDs(s)}
	if svc, ok := serviceOf(s, inspectors); ok {
		l.Service = svc.Name
	}
	return l
}

// exposureFinding is the audit's finding for one exposed listener: a risk
// note for a known dangerous service, a low "reachable" note otherwise.
func exposureFinding(s *sockets.Socket, inspectors map[netip.AddrPort]bool) Finding {
	who := describeProcs(s)
	where := fmt.Sprintf("%s/%s", sockets.FormatAddr(s.Local), s.Proto)
	reach := "every network this machine is on"
	if s.Exposure() == sockets.Address {
		reach = "whoever can reach " + s.Local.Addr().Unmap().String()
	}
	bindFix := fmt.Sprintf("bind it to 127.0.0.1 (loopback) unless other machines need it, or allow only trusted hosts in the firewall (`sudo ufw deny %d/%s`)", s.Port(), s.Proto)
	if svc, ok := serviceOf(s, inspectors); ok && svc.Severity >= Medium {
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

// bannerWait is how long a probe listens before it speaks: servers that
// speak first (SSH, SMTP, FTP, MySQL) do so at once on loopback, and are
// then known without a byte sent to them. Probes run side by side, so an
// audit pays it once.
const bannerWait = 100 * time.Millisecond

// probeRebinding probes each loopback TCP listener, 16 at a time, and
// reports the HTTP servers that answer a foreign Host like any other
// request.
func probeRebinding(ctx context.Context, env *Env, socks []sockets.Socket, inspectors map[netip.AddrPort]bool, timeout time.Duration, progress func(done, total int)) ([]Probe, []Finding) {
	var (
		mu       sync.Mutex
		probes   = make([]Probe, len(socks))
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
			p := Probe{Addr: ap, Process: describeProcs(s), PIDs: ownerPIDs(s)}
			if svc, ok := nonHTTPService(s, true); ok {
				p.Result, p.Service = ProbeSkipped, svc
			} else {
				probeOne(ctx, env, &p, timeout)
			}
			probes[i] = p
			mu.Lock()
			defer mu.Unlock()
			done++
			if progress != nil {
				progress(done, len(socks))
			}
			if p.Result != ProbeHTTP || p.Status < 200 || p.Status >= 400 {
				return // not HTTP, or it refused the foreign Host: good
			}
			sev := Medium
			if svc, ok := serviceOf(s, inspectors); ok && svc.Severity >= High {
				sev = High
			}
			out = append(out, Finding{ID: IDDNSRebinding, Severity: sev, Addr: sockets.FormatAddr(ap), PIDs: p.PIDs,
				Title: fmt.Sprintf("%s on %s answers any Host header: open to DNS rebinding", p.Process, sockets.FormatAddr(ap)),
				Evidence: []string{
					fmt.Sprintf("GET / with Host: %s got %d %s", rebindHost, p.Status, http.StatusText(p.Status)),
					"a web page on any site can make its own name resolve to 127.0.0.1 and then read this server's answers in the browser",
				},
				Fix: "make the server check the Host header (allow only localhost and 127.0.0.1), e.g. Vite/webpack `allowedHosts`, Django `ALLOWED_HOSTS`; or require a token",
			})
		}()
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b Finding) int { return strings.Compare(a.Addr, b.Addr) })
	slices.SortFunc(probes, func(a, b Probe) int { return cmp.Compare(a.Addr.Port(), b.Addr.Port()) })
	return probes, out
}

// probeOne connects to ap (loopback only, ever), listens for a banner, and
// only when the server waits for the client sends one GET with a foreign
// Host header, through the same exchange doctor uses.
func probeOne(ctx context.Context, env *Env, p *Probe, timeout time.Duration) {
	if !p.Addr.Addr().IsLoopback() {
		p.Result = ProbeFailed
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := env.Dial(ctx, "tcp", p.Addr.String())
	if err != nil {
		p.Result = ProbeFailed
		return
	}
	defer c.Close()
	first, err := hearFirst(c, min(bannerWait, timeout/2))
	switch {
	case len(first) > 0:
		p.Result, p.Said, p.Service = ProbeBanner, ports.Printable(first), bannerService(first)
		return
	case err != nil:
		p.Result = ProbeNotHTTP // closed before a word
		return
	}
	u := &url.URL{Scheme: "http", Host: rebindHost, Path: "/"}
	an := exchange(ctx, c, "http", u, rebindHost)
	switch {
	case an.err == nil:
		p.Result, p.Status = ProbeHTTP, an.status
	case classifyDialError(an.err) == TimedOut && len(an.first) == 0:
		p.Result = ProbeSilent
	default:
		p.Result, p.Said = ProbeNotHTTP, ports.Printable(an.first)
		if ports.FirstBytesSpeak(an.first) == ports.SpeaksTLS {
			p.Service = "TLS"
		}
	}
}

// bannerService names a server by its first words.
func bannerService(b []byte) string {
	s := string(b)
	switch {
	case strings.HasPrefix(s, "SSH-"):
		return "SSH"
	case strings.HasPrefix(s, "220") && strings.Contains(strings.ToUpper(s), "FTP"):
		return "FTP"
	case strings.HasPrefix(s, "220"):
		return "SMTP"
	case strings.HasPrefix(s, "+OK"):
		return "POP3"
	case strings.HasPrefix(s, "* OK"):
		return "IMAP"
	case strings.HasPrefix(s, "RFB "):
		return "VNC"
	case len(b) > 4 && b[3] == 0 && b[4] == 10:
		// A MySQL/MariaDB handshake: 3-byte length, sequence 0, protocol 10.
		return "MySQL"
	}
	return ""
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

package procs

import (
	"path/filepath"
	"strings"
	"syscall"
)

// Step is one signal of a way to stop a process, with what it does to it.
type Step struct {
	Signal syscall.Signal
	// Does says what the signal does to this server, for people:
	// "fast shutdown: disconnects its clients, then stops cleanly". Empty
	// for an ordinary process.
	Does string
	// WaitsForClients is true when, on this signal, the server stops
	// only once its clients have finished or disconnected (PostgreSQL's
	// smart shutdown, nginx's graceful QUIT): connections still open say
	// why it has not stopped.
	WaitsForClients bool
	// Stops is false for a signal that does not stop the server at all
	// (PostgreSQL reloads its configuration on SIGHUP; uWSGI before 2.1
	// reloads on SIGTERM).
	Stops bool
	// Unclean is true when stopping this way costs something at the next
	// start or loses data (crash recovery, writes since the last save).
	Unclean bool
}

// Server is what homeport knows about how one kind of server stops, for
// the servers whose graceful signal is not SIGTERM, or for which SIGKILL
// does harm.
type Server struct {
	Name string // "PostgreSQL"

	// Ladder are the signals that stop it, in the order homeport sends
	// them: the first is its clean, prompt stop; each next one follows
	// when the server has not stopped in time. SIGKILL follows the last.
	Ladder []Step

	// Other signals a user may choose (--signal), and what they do.
	Other []Step

	// KillHarm says what SIGKILL costs, "" when nothing but the usual.
	KillHarm string
}

// servers, by the name the process runs as (comm, or the program of its
// command line). Sources: each server's documentation of its signals.
var servers = []struct {
	names []string
	s     Server
}{
	{[]string{"postgres", "postmaster"}, Server{
		// https://www.postgresql.org/docs/current/server-shutdown.html
		Name: "PostgreSQL",
		Ladder: []Step{
			{Signal: syscall.SIGINT, Stops: true, Does: "fast shutdown: disconnects its clients, then stops cleanly"},
			{Signal: syscall.SIGQUIT, Stops: true, Unclean: true, Does: "immediate shutdown: stops at once, and the next start runs crash recovery"},
		},
		Other: []Step{
			{Signal: syscall.SIGTERM, Stops: true, WaitsForClients: true, Does: "smart shutdown: waits for every client to disconnect"},
			{Signal: syscall.SIGHUP, Does: "reloads its configuration; it does not stop"},
		},
		KillHarm: "it leaves its shared memory and backends behind, and the next start runs crash recovery",
	}},
	{[]string{"uwsgi"}, Server{
		// https://uwsgi-docs.readthedocs.io/en/latest/Management.html#signals-for-controlling-uwsgi
		Name:   "uWSGI",
		Ladder: []Step{{Signal: syscall.SIGINT, Stops: true, Does: "stops at once"}},
		Other: []Step{
			{Signal: syscall.SIGTERM, Does: "reloads its workers (uWSGI before 2.1); it does not stop"},
			{Signal: syscall.SIGQUIT, Stops: true, Does: "stops at once"},
			{Signal: syscall.SIGHUP, Does: "reloads gracefully; it does not stop"},
		},
	}},
	{[]string{"nginx"}, Server{
		// https://nginx.org/en/docs/control.html
		Name:   "nginx",
		Ladder: []Step{{Signal: syscall.SIGTERM, Stops: true, Does: "fast shutdown"}},
		Other: []Step{
			{Signal: syscall.SIGQUIT, Stops: true, WaitsForClients: true, Does: "graceful shutdown: waits for open connections to finish"},
			{Signal: syscall.SIGINT, Stops: true, Does: "fast shutdown"},
			{Signal: syscall.SIGHUP, Does: "reloads its configuration; it does not stop"},
		},
	}},
	{[]string{"php-fpm"}, Server{
		// php-fpm(8): SIGQUIT graceful, SIGINT and SIGTERM immediate.
		Name:   "PHP-FPM",
		Ladder: []Step{{Signal: syscall.SIGTERM, Stops: true, Does: "immediate shutdown"}},
		Other: []Step{
			{Signal: syscall.SIGQUIT, Stops: true, WaitsForClients: true, Does: "graceful shutdown: waits for running requests"},
			{Signal: syscall.SIGINT, Stops: true, Does: "immediate shutdown"},
		},
	}},
	{[]string{"gunicorn"}, Server{
		// https://docs.gunicorn.org/en/stable/signals.html
		Name: "Gunicorn",
		Ladder: []Step{
			{Signal: syscall.SIGTERM, Stops: true, WaitsForClients: true, Does: "graceful shutdown: workers finish their requests (up to --graceful-timeout, 30s)"},
			{Signal: syscall.SIGINT, Stops: true, Does: "quick shutdown"},
		},
		Other: []Step{
			{Signal: syscall.SIGQUIT, Stops: true, Does: "quick shutdown"},
			{Signal: syscall.SIGHUP, Does: "reloads its workers; it does not stop"},
		},
	}},
	{[]string{"unicorn"}, Server{
		// https://yhbt.net/unicorn/SIGNALS.html
		Name:   "Unicorn",
		Ladder: []Step{{Signal: syscall.SIGTERM, Stops: true, Does: "quick shutdown"}},
		Other: []Step{
			{Signal: syscall.SIGQUIT, Stops: true, WaitsForClients: true, Does: "graceful shutdown: workers finish their requests"},
			{Signal: syscall.SIGINT, Stops: true, Does: "quick shutdown"},
			{Signal: syscall.SIGHUP, Does: "reloads; it does not stop"},
		},
	}},
	{[]string{"redis-server", "valkey-server"}, Server{
		// https://redis.io/docs/latest/operate/oss_and_stack/management/signals/
		Name:     "Redis",
		Ladder:   []Step{{Signal: syscall.SIGTERM, Stops: true, Does: "saves the dataset when persistence is on, then stops"}},
		KillHarm: "writes since its last save are lost",
	}},
	{[]string{"mysqld", "mariadbd"}, Server{
		// https://dev.mysql.com/doc/refman/8.4/en/unix-signal-response.html
		Name:     "MySQL",
		Ladder:   []Step{{Signal: syscall.SIGTERM, Stops: true, Does: "clean shutdown"}},
		Other:    []Step{{Signal: syscall.SIGHUP, Does: "reloads its grant tables and flushes its logs; it does not stop"}},
		KillHarm: "the next start runs InnoDB crash recovery",
	}},
	{[]string{"mongod"}, Server{
		Name:     "MongoDB",
		Ladder:   []Step{{Signal: syscall.SIGTERM, Stops: true, Does: "clean shutdown"}},
		KillHarm: "the next start replays its journal",
	}},
}

// KnownServer returns what homeport knows about how p stops, or nil for an
// ordinary process. It goes by the name p runs as: comm ("postgres",
// "php-fpm8.2", "nginx"), or the program of its command line for servers
// that run inside an interpreter ("python3 /usr/bin/gunicorn app:app") or
// set their own title ("unicorn master -c unicorn.rb").
//
// On Windows it knows none: there every signal but SIGKILL is a polite
// close or a termination (kill_windows.go), so no server stops otherwise.
func KnownServer(p *Process) *Server {
	if isWindows {
		return nil
	}
	names := []string{p.Name}
	for i, a := range p.Cmdline {
		if i > 1 {
			break
		}
		// A server that sets its own title may put it in one argument:
		// "unicorn master -c unicorn.rb".
		word, _, _ := strings.Cut(a, " ")
		names = append(names, filepath.Base(word))
	}
	for _, n := range names {
		for i := range servers {
			for _, known := range servers[i].names {
				// php-fpm runs as php-fpm8.2 and the like.
				if n == known || known == "php-fpm" && strings.HasPrefix(n, known) {
					return &servers[i].s
				}
			}
		}
	}
	return nil
}

// StopSteps returns the signals that stop p, in order: first (0: p's own
// clean signal, SIGTERM for an ordinary process), then for a known server
// the next rungs of its ladder, and SIGKILL last. A first signal of
// SIGKILL is the only step.
func StopSteps(p *Process, first syscall.Signal) []Step {
	kill := Step{Signal: syscall.SIGKILL, Stops: true}
	s := KnownServer(p)
	if s != nil && s.KillHarm != "" {
		kill.Unclean, kill.Does = true, s.KillHarm
	}
	if first == syscall.SIGKILL {
		return []Step{kill}
	}
	if s == nil {
		if first == 0 {
			first = syscall.SIGTERM
		}
		return []Step{{Signal: first, Stops: true}, kill}
	}
	var steps []Step
	rest := s.Ladder
	switch i := ladderIndex(s, first); {
	case first == 0:
	case i >= 0:
		rest = s.Ladder[i:]
	default:
		steps = append(steps, s.Step(first))
	}
	steps = append(steps, rest...)
	return append(steps, kill)
}

func ladderIndex(s *Server, sig syscall.Signal) int {
	for i, st := range s.Ladder {
		if st.Signal == sig {
			return i
		}
	}
	return -1
}

// Step returns what sig does to the server; a signal it does not document
// stops it, as far as homeport knows.
func (s *Server) Step(sig syscall.Signal) Step {
	for _, steps := range [][]Step{s.Ladder, s.Other} {
		for _, st := range steps {
			if st.Signal == sig {
				return st
			}
		}
	}
	return Step{Signal: sig, Stops: true}
}

package procs

import "strings"

// Ancestor is one process in the chain of parents of an owner.
type Ancestor struct {
	PID     int      `json:"pid"`
	Name    string   `json:"name"`
	Cmdline []string `json:"cmdline"`
	// TTY is the controlling terminal ("pts/3", "tty1"), "" when none.
	TTY string `json:"tty,omitempty"`
}

// maxChain bounds the walk up the parents: a chain longer than this is a
// loop in a broken /proc, or nothing a person reads.
const maxChain = 32

// Chain returns the parents of pid, its parent first, up to (without) PID 1
// or the first parent outside this PID namespace. It returns what it could
// read; a parent that exits during the walk ends it.
func Chain(pid int) []Ancestor { return chain(pid) }

// Role says what an ancestor is to the chain's short form.
type Role int

// The roles. An Anchor ends the short form of a chain: it is where the
// user started the owner from (their shell, a terminal, an IDE) or what
// keeps it running (a service manager, a container runtime).
const (
	Intermediate Role = iota // anything else: npm, make, a script
	Wrapper                  // a shell running one command (sh -c ...): adds nothing
	Anchor
)

// RoleOf classifies an ancestor by its name and command line.
func RoleOf(a *Ancestor) Role {
	name := a.Name
	if len(a.Cmdline) > 0 {
		// comm is truncated to 15 bytes; argv[0] is not, and a login
		// shell's starts with "-" ("-zsh").
		name = strings.TrimPrefix(baseName(a.Cmdline[0]), "-")
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".exe")
	if isShell(name) {
		for _, arg := range a.Cmdline[min(1, len(a.Cmdline)):] {
			if arg == "-c" || arg == "/c" || arg == "-Command" || arg == "-command" {
				return Wrapper
			}
		}
		// An interactive shell; a shell running a script without a
		// terminal is the script.
		if a.TTY != "" || len(a.Cmdline) <= 1 {
			return Anchor
		}
		return Intermediate
	}
	if isAnchor(name) || isAnchor(strings.ToLower(a.Name)) {
		return Anchor
	}
	return Intermediate
}

// isShell and isAnchor are switches, not maps: a map literal is built at
// package initialisation, which every command pays for.
func isShell(name string) bool {
	switch name {
	case "sh", "bash", "zsh", "fish", "dash", "ksh", "mksh", "tcsh", "csh",
		"nu", "elvish", "xonsh", "pwsh", "powershell", "cmd":
		return true
	}
	return false
}

// isAnchor recognises terminals, multiplexers, remote shells, IDEs and
// service managers, by executable or kernel name.
func isAnchor(name string) bool {
	switch name {
	case "tmux", "tmux: server", "screen", "gnome-terminal-server",
		"gnome-terminal-", "konsole", "alacritty", "kitty", "wezterm-gui",
		"xterm", "foot", "terminator", "tilix", "iterm2", "terminal",
		"windowsterminal", "conhost", "sshd", "login", "mosh-server", "code",
		"code-insiders", "cursor", "codium", "idea", "goland", "pycharm",
		"webstorm", "clion", "rider", "nvim", "vim", "emacs", "zed",
		"systemd", "init", "launchd", "supervisord", "s6-supervise", "runsv",
		"pm2", "services", "svchost", "dockerd", "containerd-shim",
		"containerd-shim-runc-v2", "conmon", "runc", "wininit", "explorer":
		return true
	}
	return false
}

// ShortChain is the part of a chain worth a line of output: up to and
// including the first anchor (see Role), without one-command shells
// (`sh -c`) in between, at most max entries. Without an anchor it is the
// first max ancestors.
func ShortChain(chain []Ancestor, max int) []Ancestor {
	var out []Ancestor
	for i := range chain {
		a := &chain[i]
		switch RoleOf(a) {
		case Wrapper:
			continue
		case Anchor:
			if len(out) == max {
				out[max-1] = *a
			} else {
				out = append(out, *a)
			}
			return out
		}
		if len(out) < max {
			out = append(out, *a)
		}
	}
	return out
}

// Label is how an ancestor reads in a chain: its command, shortened
// ("npm run dev"), or for an anchor its name and terminal ("zsh (pts/3)").
func (a *Ancestor) Label() string {
	var s string
	words := commandWords(a.Cmdline)
	if RoleOf(a) == Anchor || len(words) == 0 {
		s = a.Name
		if len(words) > 0 {
			s = strings.TrimPrefix(baseName(words[0]), "-")
		}
	} else {
		parts := []string{baseName(words[0])}
		for _, arg := range words[1:] {
			if len(parts) == 4 {
				parts = append(parts, "…")
				break
			}
			parts = append(parts, arg)
		}
		s = strings.Join(parts, " ")
		if r := []rune(s); len(r) > 40 {
			s = string(r[:39]) + "…"
		}
	}
	if a.TTY != "" {
		s += " (" + a.TTY + ")"
	}
	return s
}

// commandWords is a command line as words. A process that rewrote its
// title (nginx's "nginx: master process nginx -c /etc/nginx/nginx.conf",
// postgres's) has it all in one argument, whose last path element would be
// the config file's name: its words are the title's.
func commandWords(cmdline []string) []string {
	if len(cmdline) == 1 && strings.ContainsRune(cmdline[0], ' ') {
		return strings.Fields(cmdline[0])
	}
	return cmdline
}

// baseName is the last element of a Unix or Windows path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 && i < len(p)-1 {
		return p[i+1:]
	}
	return p
}

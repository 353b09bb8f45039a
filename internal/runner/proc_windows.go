package runner

import (
	"os/exec"
	"syscall"
	"time"
)

// group on Windows is the command alone: there are no process groups to
// signal, and a console's Ctrl-C reaches the command by itself.
type group struct {
	cmd *exec.Cmd
}

func newGroup(cmd *exec.Cmd) *group { return &group{cmd: cmd} }

func (g *group) started()  {}
func (g *group) finished() {}

func (g *group) signal(sig syscall.Signal) {
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		_ = g.cmd.Process.Kill()
	}
}

func (g *group) stopLeft(time.Duration) (int, syscall.Signal) { return 0, 0 }

package cli

import (
	"errors"
	"fmt"
)

// Exit codes shared by every command. Commands with their own meanings
// (who: 1 nothing there) return an *ExitError with one of these or of the
// command codes below.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitInternal = 2
)

// Exit codes of one command each. A script may rely on them: they are in
// the command's help and in the README.
const (
	// exitKillNotFreed: `kill` signalled what it could, and a port is
	// still held (refused, permission denied, restarted, stuck).
	exitKillNotFreed = 3
	// exitKillDeclined: `kill` asked, and the answer was no; nothing was
	// sent.
	exitKillDeclined = 4
	// exitWaitCannotRun: `wait -- CMD` found CMD but could not run it
	// (not executable, permission denied), as a shell exits 126.
	exitWaitCannotRun = 126
	// exitWaitNotFound: `wait -- CMD` could not find CMD, as a shell
	// exits 127.
	exitWaitNotFound = 127
)

// ExitError ends a command with a given exit code. Msg, when set, is printed
// as "homeport: error: Msg" and Hint as "hint: Hint"; a silent ExitError
// (Msg empty) only sets the code, for commands that already said everything.
type ExitError struct {
	Code int
	Msg  string
	Hint string
	Err  error
}

func (e *ExitError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageErrorf reports bad input: exit 2 with a message naming what was wrong.
func usageErrorf(format string, args ...any) error {
	return &ExitError{Code: exitUsage, Msg: fmt.Sprintf(format, args...)}
}

// silent returns an error that only sets the exit code.
func silent(code int) error { return &ExitError{Code: code} }

// exitCode maps an error from a command to the process exit code, in this one
// place.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return exitFailure
}

package cli

import (
	"errors"
	"fmt"
)

// Exit codes shared by every command. Commands with their own meanings
// (who: 1 nothing there; kill: 3 could not free) return an *ExitError.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitInternal = 2
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

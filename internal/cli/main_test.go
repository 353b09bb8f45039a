package cli

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: a
// command that returns must have stopped its spinners, probes and signal
// watchers.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

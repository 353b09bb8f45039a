//go:build !linux

package sockets

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind; on
// Linux, fixture_linux_test.go's TestMain does the same.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

//go:build !linux

package doctor

import (
	"testing"

	"go.uber.org/goleak"
)

// Every probe and dial goroutine ends with its diagnosis.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

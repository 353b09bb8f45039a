//go:build !unix

package daemon

import "os"

// tryLock does nothing where flock(2) is missing: the port itself then keeps
// a second daemon out.
func tryLock(*os.File) error { return nil }

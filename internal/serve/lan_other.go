//go:build !linux

package serve

// osDefaultRoutes has no route table to read here: pickLAN falls back to
// the first private address of a real interface.
func osDefaultRoutes() ([]defaultRoute, error) { return nil, nil }

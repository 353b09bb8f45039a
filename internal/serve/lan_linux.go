package serve

import (
	"errors"
	"io/fs"
	"os"
)

// osDefaultRoutes reads the kernel's IPv4 route table.
func osDefaultRoutes() ([]defaultRoute, error) {
	f, err := os.Open("/proc/net/route")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseRoutes(f)
}

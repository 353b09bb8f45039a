//go:build !unix

package cli

import "io"

// readerGone: without poll(2), a closed pipe is noticed at the next write.
func readerGone(io.Writer) <-chan struct{} { return nil }

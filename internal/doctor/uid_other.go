//go:build !unix

package doctor

func uid() int { return -1 }

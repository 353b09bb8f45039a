//go:build !linux

package metrics

const isLinux = false

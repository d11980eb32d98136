//go:build !linux

package statsd

import "testing"

// raiseOpenFiles does nothing here: the Go runtime raises the soft
// RLIMIT_NOFILE to the hard one on Unix systems (up to OPEN_MAX on
// macOS), and Windows has no such limit.
func raiseOpenFiles(t *testing.T, n uint64) {}

//go:build !linux

package statsd

import "testing"

// receiveBuffer is not known here: assume it holds what the tests send.
func receiveBuffer(t *testing.T, srv *Server) int { return 1 << 30 }

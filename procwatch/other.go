//go:build !linux

package procwatch

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// reader is Linux's only.
type reader struct {
	bootTime float64
	bootErr  error
	wantTCP  bool
	// wantBeats is Linux's only.
	wantBeats bool
}

func newReader(*config) (*reader, error) {
	return nil, fmt.Errorf("procwatch: watching Gunicorn needs Linux's /proc and sock_diag, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func (r *reader) read(time.Time) (*observation, []readErr) { return &observation{}, nil }

// readErr is a failure of a pass, counted under reason.
type readErr struct {
	reason int
	err    error
}

// tcpTimesOf is Linux's only.
func tcpTimesOf([]byte) tcpTimes { return tcpTimes{} }

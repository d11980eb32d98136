//go:build !linux

package procwatch

import (
	"errors"
	"fmt"
	"runtime"
)

type osState struct{}

func (w *Watcher) initOS() error {
	return fmt.Errorf("procwatch: watching Gunicorn needs Linux's /proc and sock_diag, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func (w *Watcher) pass() error { return errors.ErrUnsupported }

package main

import (
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/examples/internal/cmdtest"
)

// TestBinary builds the program with go build and runs it, for what only
// the real binary shows: --version from its build information, and that
// with --log.format=json every line of its stderr is JSON, the bridge's
// limit warnings and what the process-wide loggers write included.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	bin := cmdtest.Build(t, ".")
	t.Run("version", func(t *testing.T) { cmdtest.CheckVersion(t, bin, programName) })
	t.Run("json log", func(t *testing.T) {
		p := cmdtest.Start(t, bin, []string{"--statsd.listen-udp=127.0.0.1:0", "--statsd.listen-tcp=",
			"--web.listen-address=127.0.0.1:0", "--log.format=json", "--otel.max-series=1"})
		up := p.WaitRecord(t, "accepting StatsD traffic", 30*time.Second)
		addr, _ := up["udp"].(string)
		cmdtest.CheckLimitLog(t, p, addr)
	})
}

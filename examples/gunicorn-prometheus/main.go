// Command gunicorn-prometheus is a drop-in replacement for statsd_exporter,
// made for Gunicorn: it receives Gunicorn's StatsD traffic (UDP, TCP, Unix
// datagram socket), records it in OpenTelemetry instruments through
// otelbridge, and serves them to Prometheus.
//
// With no flags it listens for StatsD on :9125 (UDP and TCP) and serves
// /metrics on :9102, with the built-in Gunicorn profile:
//
//	go -C examples run ./gunicorn-prometheus
//	gunicorn --statsd-host localhost:9125 --statsd-prefix myapp app:app
//
// It takes statsd_exporter's command line (the same flags, parsed the same
// way) and serves the metric names statsd_exporter would serve for the same
// traffic, but Gunicorn's own metrics, which the built-in profile names when
// no mapping file is given. With --statsd.mapping-config it reads a
// statsd_exporter mapping file. SIGHUP (and POST /-/reload with
// --web.enable-lifecycle) reloads that file, keeping the rules in use when the
// new file is invalid; SIGTERM, SIGINT (and POST /-/quit) stop reading, record
// everything already read, then stop the web server. See README.md for the
// flags, the limits and what differs from statsd_exporter.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/gunicornotel/gunicornotel/examples/internal/wiring"
)

func main() {
	setGlobal = true
	wiring.Main(programName, func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return run(ctx, args, stdout, stderr, nil)
	})
}

// setGlobal says whether run makes its logger the process's (slog.Default,
// the log package, OpenTelemetry's): main sets it; the tests, which run the
// program many times in one process, do not.
var setGlobal = false

// run is the whole program: it parses args, starts the listeners, calls ready
// (if not nil) with the addresses bound, and serves until ctx ends, then shuts
// down gracefully. Logs go to stderr; --check-config, --help and --version
// print on stdout (the last two then return errExit).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(listenAddrs)) (err error) {
	cfg, err := parseFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	logger := cfg.Log.Logger(stderr)
	if setGlobal {
		wiring.SetGlobal(logger)
	}
	defer wiring.LogError(logger, &err)
	cfg.Limits.ApplyMemoryLimit(os.LookupEnv, setMemoryLimit, logger)
	a, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	defer a.close()
	if cfg.checkConfig {
		n := 0
		if a.rules != nil {
			n = a.rules.Len()
		}
		fmt.Fprintf(stdout, "configuration OK (%d mapping rules)\n", n)
		return nil
	}
	if err := a.start(); err != nil {
		return err
	}
	if ready != nil {
		ready(a.addrs)
	}
	return a.serve(ctx)
}

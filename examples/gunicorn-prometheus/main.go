// Command gunicorn-prometheus is a drop-in replacement for statsd_exporter,
// made for Gunicorn: it receives Gunicorn's StatsD traffic (UDP, TCP, Unix
// datagram socket), records it in OpenTelemetry instruments through
// otelbridge, and serves them to Prometheus.
//
// With no flags it listens for StatsD on :9125 (UDP and TCP) and serves
// /metrics on :9102, with the built-in Gunicorn profile:
//
//	go run ./examples/gunicorn-prometheus
//	gunicorn --statsd-host localhost:9125 --statsd-prefix myapp app:app
//
// With --statsd.mapping-config it reads a statsd_exporter mapping file and
// exposes the names and labels statsd_exporter would. SIGHUP reloads that
// file (keeping the rules in use when the new file is invalid); SIGTERM and
// SIGINT stop reading, record everything already read, then stop the web
// server. See README.md for the flags and what differs from statsd_exporter.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintf(os.Stderr, "gunicorn-prometheus: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// run is the whole program: it parses args, starts the listeners, calls ready
// (if not nil) with the addresses bound, and serves until ctx ends, then shuts
// down gracefully. Logs go to stderr; --check-config reports on stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(listenAddrs)) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
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

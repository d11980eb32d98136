// Command gunicorn-otlp forwards Gunicorn's StatsD metrics to an OTLP endpoint.
//
// It listens for the StatsD datagrams Gunicorn sends (--statsd-host), maps
// them with the built-in Gunicorn profile (gunicorn.requests,
// gunicorn.responses by http.response.status_code, gunicorn.request.duration
// in seconds, gunicorn.workers, gunicorn.log.messages by level,
// gunicorn.backlog; the --statsd-prefix as the attribute app) and exports them
// with the OpenTelemetry SDK over OTLP, HTTP or gRPC.
//
// The exporter is configured by the standard environment variables, which the
// OTLP exporters read themselves:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT
//	OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_METRICS_HEADERS
//	OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_COMPRESSION (gzip)
//	OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_INSECURE, ...
//	OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL:
//	    grpc or http/protobuf (the default)
//	OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the resource
//	OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRIC_EXPORT_TIMEOUT (milliseconds)
//
// With --gunicorn.pid-file, --gunicorn.pid or --gunicorn.discover it also
// watches the Gunicorn master and its workers from outside, through /proc and
// socket diagnostics (package procwatch, Linux only): busy and idle workers,
// busy worker-seconds, the longest request in flight, each process's CPU,
// memory and uptime, worker restarts, the listen sockets' accept queues, and
// gunicorn.up. These go out in the same export, with --gunicorn.app as the
// app attribute: the forwarder cannot know Gunicorn's --statsd-prefix
// before datagrams arrive, so it is given again. Elsewhere than on Linux the
// watcher is logged as unsupported and the forwarder carries on.
//
// It takes the daemon's (gunicorn-prometheus's) flags for what the two
// share, with the same names and meaning: --log.level and --log.format
// (logfmt or json, every line of the program's), --statsd.mapping-config (a
// statsd_exporter mapping file instead of the built-in profile, reloaded on
// SIGHUP), --otel.max-* and --statsd.max-* (the limits), --gunicorn.* (the
// watcher), --otel.prefix-key.
//
// On SIGTERM or SIGINT it stops reading, records every datagram already
// received, stops the watcher, exports one last time and exits.
//
// Usage:
//
//	gunicorn-otlp [--statsd.listen udp://:8125] [--export.interval 60s]
//	    [--gunicorn.pid-file /run/gunicorn.pid --gunicorn.app shop.web]
//	    [--statsd.mapping-config mapping.yml] [--log.format json]
package main

import (
	"context"
	"io"

	"github.com/gunicornotel/gunicornotel/examples/internal/wiring"
)

func main() {
	setGlobal = true
	wiring.Main(programName, func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return run(ctx, args, stdout, stderr, nil)
	})
}

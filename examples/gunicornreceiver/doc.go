// Package gunicornreceiver is an OpenTelemetry Collector receiver for
// Gunicorn (component type "gunicorn", metadata.yaml), for building into a
// Collector with ocb (builder-config.yaml). It takes the StatsD traffic
// Gunicorn sends, and with a watch block (WatchConfig) it also watches
// Gunicorn's master and workers from outside, through /proc and the
// kernel's socket diagnostics on Linux (package procwatch): workers by
// state, busy and queued requests, the longest request, restarts, each
// process's CPU, memory and uptime, the accept queues, gunicorn.up. Without
// a watch block it knows only what Gunicorn sends, so gunicorn.workers is
// missing until the worker count changes when the Collector starts after
// Gunicorn. It is not used by the gunicornotel library.
//
// It listens on a UDP, TCP or Unix datagram endpoint (confignet's
// AddrConfig) with a statsd.Server, gives every sample meaning with the
// gunicornotel mapper (the built-in Gunicorn profile, and the rules of a
// statsd_exporter mapping file if configured), and records it through an
// otelbridge.Bridge in an OpenTelemetry SDK MeterProvider private to the
// receiver, where the watcher records too. The Collector's scraper
// controller (scraperhelper) collects that provider every
// collection_interval and hands the result to the next consumer as
// pmetric.Metrics (see Convert):
//
//	gunicorn.requests           Sum, monotonic, cumulative  {request}
//	gunicorn.responses          Sum, monotonic, cumulative  {response}  http.response.status_code (int)
//	gunicorn.request.duration   Histogram, cumulative       s           buckets 0.005 … 10 s
//	gunicorn.workers            Gauge                       {worker}
//	gunicorn.log.messages       Sum, monotonic, cumulative  {message}   level
//	gunicorn.backlog            Gauge                       {connection}
//
// each with the attribute app (prefix_attribute) holding Gunicorn's
// --statsd-prefix, and DogStatsD tags as string attributes; and the
// watcher's gunicorn.worker.*, gunicorn.process.*, gunicorn.listen.* and
// gunicorn.up. The resource is empty: set it with the Collector's resource
// processor. The receiver's own telemetry (documentation.md) goes to the
// Collector's MeterProvider.
//
// Shutdown stops reading, records every datagram already read, and sends a
// final collection before it returns, so nothing that arrived is lost.
//
// The receiver is a nested Go module, so that the gunicornotel library never
// depends on the Collector. See README.md for every configuration key, the
// ocb manifest and a Collector configuration.
package gunicornreceiver

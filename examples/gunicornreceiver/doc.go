// Package gunicornreceiver is an OpenTelemetry Collector receiver for the
// StatsD traffic Gunicorn sends (component type "gunicorn"), for building
// into a Collector with ocb. It is not used by the gunicornotel library. Of
// itself it knows only what Gunicorn sends, so gunicorn.workers is missing
// until the worker count changes when the Collector starts after Gunicorn;
// a watch block (WatchConfig) adds the Gunicorn watcher, package procwatch,
// which reads the master and its workers through /proc on Linux (see
// README.md).
//
// It listens on a UDP, TCP or Unix datagram endpoint with a statsd.Server,
// gives every sample meaning with the gunicornotel mapper (the built-in
// Gunicorn profile, and the rules of a statsd_exporter mapping file if
// configured), and records it through an otelbridge.Bridge in an
// OpenTelemetry SDK MeterProvider private to the receiver. Every
// collection_interval a ManualReader collects the aggregated state and the
// receiver hands it to the next consumer as pmetric.Metrics (see Convert):
//
//	gunicorn.requests           Sum, monotonic, cumulative  {request}
//	gunicorn.responses          Sum, monotonic, cumulative  {response}  http.response.status_code (int)
//	gunicorn.request.duration   Histogram, cumulative       s           buckets 0.005 … 10 s
//	gunicorn.workers            Gauge                       {worker}
//	gunicorn.log.messages       Sum, monotonic, cumulative  {message}   level
//	gunicorn.backlog            Gauge                       {connection}
//
// each with the attribute app (prefix_attribute) holding Gunicorn's
// --statsd-prefix, and DogStatsD tags as string attributes. The resource is
// empty: set it with the Collector's resource processor.
//
// Shutdown stops reading, records every datagram already read, and sends a
// final collection before it returns, so nothing that arrived is lost.
//
// The receiver is a nested Go module, so that the gunicornotel library never
// depends on the Collector. See README.md for the ocb manifest and a
// Collector configuration.
package gunicornreceiver

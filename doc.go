// Package gunicornotel takes in the telemetry that Gunicorn, the Python WSGI
// server, sends over StatsD, and records it in OpenTelemetry instruments, so
// it leaves through OTLP, Prometheus, or anything else a metric.MeterProvider
// can feed.
//
// This package holds only documentation. The data flows like this:
//
//	Gunicorn workers ──datagrams──▶ statsd.Server ──[]statsd.Sample──▶ statsd.Handler
//	  (UDP, unixgram, TCP)           read in batches,   zero-copy views    │
//	                                 parsed in place                       ▼
//	                                          otelbridge.Bridge (a statsd.Handler)
//	                                            │ mapper.Mapper: name+type+tags ─▶ which
//	                                            │   instrument, which attributes, what scale
//	                                            ▼
//	                                  OpenTelemetry instruments (metric.Meter)
//	                                            ▼
//	                       SDK MeterProvider ─▶ Prometheus exporter │ OTLP │ Collector pdata
//
// A second source sits beside the StatsD path: Gunicorn watched from
// outside, through /proc and the kernel's socket diagnostics, with no change
// to Gunicorn (Linux):
//
//	Gunicorn master + workers ──/proc, sock_diag──▶ procwatch.Watcher ──▶ the same MeterProvider
//	  (pid, pid file, or found)    sampled ~10/s      busy/idle, busy time,    (same prefix
//	                                                  request age, CPU, memory,  attribute app)
//	                                                  restarts, accept queue
//
// Each package can be used alone:
//
//   - statsd: the wire format (Sample, Type, Parser, typed ParseError with a
//     stable Reason) and Server, shaped like net/http: ListenAndServe, Serve,
//     Shutdown. It depends on the standard library and golang.org/x only.
//   - statsd/statsdtest: fakes for tests: a byte-exact Gunicorn emitter, a
//     recording Handler, a loopback server.
//   - mapper: what a StatsD name means: the built-in Gunicorn profile (zero
//     configuration), generic rules, and statsd_exporter mapping files.
//   - otelbridge: Bridge, the statsd.Handler that maps each sample and records
//     it in instruments made from a metric.MeterProvider.
//   - procwatch: Watcher, which watches one Gunicorn master and its workers
//     through /proc and sock_diag and records what it sees (busy and idle
//     workers, busy worker-seconds, the longest request in flight, CPU,
//     memory and uptime per process, restarts, the listen queues,
//     gunicorn.up) in instruments made from a metric.MeterProvider. Linux
//     only; elsewhere New returns an error wrapping errors.ErrUnsupported.
//
// A complete program that serves Gunicorn's metrics to Prometheus:
//
//	func main() {
//		exporter, err := prometheus.New() // go.opentelemetry.io/otel/exporters/prometheus
//		if err != nil {
//			log.Fatal(err)
//		}
//		provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
//		r, err := otelbridge.Listen("udp://:8125", provider) // the Gunicorn profile, zero configuration
//		if err != nil {
//			log.Fatal(err)
//		}
//		defer r.Shutdown(context.Background()) // drains: a last scrape sees every datagram read
//		http.Handle("/metrics", promhttp.Handler())
//		log.Fatal(http.ListenAndServe(":9102", nil))
//	}
//
// Point Gunicorn at it with --statsd-host localhost:8125 --statsd-prefix myapp.
// examples/gunicorn-prometheus is that program grown into a drop-in
// replacement for statsd_exporter.
package gunicornotel

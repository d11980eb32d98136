// Package otelbridge records StatsD samples in OpenTelemetry instruments.
//
// A Bridge is a statsd.Handler: give it to a statsd.Server (or call
// HandleDatagram with bytes) and every sample is mapped by a Mapper (by
// default mapper.New(), the built-in Gunicorn profile) and recorded in an
// instrument made from the metric.MeterProvider given to New. It leaves
// through whatever reads that provider: the Prometheus exporter, OTLP, a
// ManualReader in a test. Listen wires the common case in one call: a
// statsd.Server on an address, a Bridge, and the caller's MeterProvider.
//
//	r, err := otelbridge.Listen("127.0.0.1:8125", meterProvider)
//	...
//	r.Shutdown(ctx) // drains the socket; a final collection sees everything read
//
// # Instruments
//
// Each instrument is made once, the first time a mapping names it, with the
// mapping's name, kind, unit and description, and for histograms its bucket
// boundaries as advice (Mapping.Buckets), under the scope ScopeName (see
// WithMeterName). An instrument name belongs to the kind and unit that made
// it first: a later mapping with the same name (compared case-insensitively,
// as the SDK does) but another kind or unit is rejected as "type_conflict",
// and the first instrument and all its series go on working. A timer (ms) and
// a histogram (h, d) that map to the same histogram with the same unit are
// one instrument; with the generic mapping a timer is in "s" and a histogram
// has no unit, so they conflict. Descriptions and bucket advice of later
// mappings are ignored.
//
// # Recording
//
// Counters, up-down counters and gauges are asynchronous instruments
// (Float64ObservableCounter, Float64ObservableUpDownCounter,
// Float64ObservableGauge): the bridge keeps each series' value, a sample is one
// atomic add or store on it, and one callback per instrument reports every
// series at collection time. The bridge must keep a gauge's last value anyway
// (for deltas), and StatsD counters are cumulative by nature; this way a sample
// costs a few nanoseconds instead of a trip through the SDK's attribute
// handling, and a gauge's exported value is exactly the series' state, in
// whatever order concurrent samples arrived. Exporters see the same data as
// from synchronous instruments (cumulative sums, last values; the SDK computes
// deltas for delta temporality); Views select them by the observable kinds. A
// series is reported from its first accepted sample on. Histograms are
// synchronous (Float64Histogram): OpenTelemetry has no asynchronous
// histogram.
//
// Every value is first multiplied by Mapping.Scale (0.001 turns Gunicorn's
// milliseconds into seconds). Then, by instrument kind:
//
//   - Counter: adds value/rate (1|c|@0.1 adds 10). A negative increment is
//     rejected as "negative_counter". The sample's type does not matter.
//   - Histogram: records the value 1/rate times. OpenTelemetry histograms take
//     whole observations, so each series carries the fraction: the weight
//     1/rate is added to the series' carry, the whole part is recorded and the
//     rest kept (at rate 0.3, 3, 3, 4, 3, 3, 4, ... observations: exactly 10
//     per 3 samples in the long run, deterministically, never truncated). A
//     sum within 1e-9 of a whole number counts as that number, so that float
//     rounding of 1/rate never loses an observation. The weight is capped at
//     DefaultMaxHistogramWeight (rates under 0.001), counted in
//     Stats.WeightCapped. Negative values are recorded as sent (StatsD
//     histograms may be negative; they land in the first explicit bucket).
//   - Gauge: a signed gauge sample (+3|g, -2|g) moves the series' value (a
//     series first seen with a delta starts from 0); any other sample (4|g)
//     replaces it. The sample rate is ignored.
//   - UpDownCounter: a gauge sample moves (signed) or replaces (absolute) the
//     sum, so the sum follows the gauge; any other sample adds value/rate.
//
// A value that is not finite after scaling, weighting or applying a delta is
// rejected as "bad_value" (the parser already rejects NaN and Inf as sent).
// StatsD sets (|s) are rejected as "unsupported_type". DogStatsD timestamps
// (|T) are ignored: synchronous instruments record at collection time.
// Mapping.TTL is not applied: series live as long as the bridge.
//
// # Series
//
// A series is an instrument and an attribute set. For each, the bridge builds
// the measurement option (metric.WithAttributeSet) once and keeps it with the
// series' state, so steady-state recording allocates nothing. A series table
// (internal/seriescache, keyed by the raw name, type and tags) maps each
// incoming StatsD series to its state without allocating; on a miss the
// Mapper is asked. Several StatsD series may share one state (tags in another
// order).
//
// # Limits
//
// Everything that grows with input is bounded, and what goes over is counted:
//
//   - WithMaxSeriesPerInstrument (default 2000, the SDK's default cardinality
//     limit): n-1 attribute sets per instrument, then new sets are recorded in
//     one overflow series with the attribute otel.metric.overflow=true, as the
//     SDK does, so sums and counts stay exact; counted in
//     Stats.SeriesOverflow. Keep the provider's cardinality limit
//     (sdkmetric.WithCardinalityLimit) at least as high, or the SDK overflows
//     first. The bridge cannot set it: the provider is the caller's.
//   - WithMaxSeries (default 100,000): series over all instruments, and so
//     the gauge and histogram state; over it, new series overflow as above.
//     It also sizes the series table, which evicts at random when full.
//   - WithMaxInstruments (default 1000): distinct instrument names; a new name
//     over it is rejected as "name_limit".
//
// # Rejections and telemetry
//
// A rejected sample is counted under a stable reason: the parser's (the
// String of a statsd.Reason: "malformed_line", "bad_value", "bad_type", ...,
// counted per rejected line) and the bridge's own (the Reason... constants).
// A sample the mapping drops on purpose (Mapping.Drop) is counted as dropped,
// not rejected. Stats returns all counters as a plain struct. Unless
// WithTelemetry(false), the same numbers are asynchronous instruments under
// ScopeName (the Metric... constants: gunicornotel.datagrams,
// gunicornotel.samples by statsd.metric.type, gunicornotel.samples.rejected
// by reason, gunicornotel.samples.dropped, gunicornotel.series.overflow,
// gunicornotel.mapper.cache.hits and .misses, ...), observed by one callback
// at collection time: the hot path only counts on its stack and adds to a few
// atomic counters once per batch. A Receiver adds the server's counters
// (gunicornotel.server.*).
//
// # Concurrency and reloads
//
// Handle is safe for concurrent use by any number of server goroutines.
// SetMapper swaps the Mapper atomically (for a SIGHUP reload) and clears the
// series table; instruments, series and their state stay.
//
// # Performance
//
// BenchmarkBridgeGunicorn and BenchmarkBridgeGunicornTags measure one
// Gunicorn datagram parsed, mapped and recorded into a real SDK
// MeterProvider: 0 allocations. BenchmarkSDKFloor records the same mix
// straight into synchronous SDK instruments, for comparison: what sending
// every sample through the SDK costs. StatsD samples never carry a span
// context, so a provider made for the bridge alone can turn exemplars off
// (sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter)) and save the
// trace-based filter's work on every histogram measurement.
package otelbridge

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
// It is not where StatsD is read (package statsd) or given meaning (package
// mapper), nor an exporter: it records into the caller's MeterProvider, under
// limits that hold whatever a client sends.
//
// New takes Options; Listen takes ListenOptions: every Option, for its
// Bridge, and WithServer. An option given a value it does not take makes the
// constructor fail with an error naming it.
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
// WithMeterFor picks the Meter that makes each instrument, for a program that
// sends some instruments to one MeterProvider and some to another (two
// exporters, two expositions): it is asked once per instrument, not per
// sample. Chain and Rewrite compose Mappers (a profile first, then a
// mapping file's rules renamed for another exposition, ...) and keep what
// the bridge asks of them: reserved mappings and counters.
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
//   - Counter: adds value × 1/rate (1|c|@0.1 adds 10). The weight 1/rate is
//     capped at WithMaxSampleWeight (default 1000: rates under 0.001 count as
//     0.001), counted under "sample_weight", so that x:1|c|@1e-308 cannot set
//     a counter to 1e308 for good. A negative increment is rejected as
//     "negative_counter". The sample's type does not matter.
//   - Histogram: records the value 1/rate times (the weight capped the same
//     way). OpenTelemetry histograms take whole observations, so each series
//     carries the fraction: the weight is added to the series' carry, the
//     whole part is recorded and the rest kept (at rate 0.3, 3, 3, 4, 3, 3,
//     4, ... observations: exactly 10 per 3 samples in the long run,
//     deterministically, never truncated). A sum within 1e-9 of a whole number
//     counts as that number, so that float rounding of 1/rate never loses an
//     observation. OpenTelemetry has no weighted record, so a weight of 1000
//     is 1000 calls: the observations a datagram's samples add beyond one
//     each are bounded by WithMaxDatagramWeight (default 10,000; a TCP line is
//     a datagram), counted under "datagram_weight". A 60 KB datagram of
//     x:1|ms|@0.001 lines costs 14,286 observations instead of 4.3 million
//     (BenchmarkBridgeSampledFlood). Negative values are recorded as sent
//     (StatsD histograms may be negative; they land in the first explicit
//     bucket).
//   - Gauge: a signed gauge sample (+3|g, -2|g) moves the series' value (a
//     series first seen with a delta starts from 0); any other sample (4|g)
//     replaces it. The sample rate is ignored.
//   - UpDownCounter: a gauge sample moves (signed) or replaces (absolute) the
//     sum, so the sum follows the gauge; any other sample adds value × 1/rate.
//
// A value that is not finite after scaling, weighting or applying a delta is
// rejected as "bad_value" (the parser already rejects NaN and Inf as sent).
// StatsD sets (|s) are rejected as "unsupported_type". DogStatsD timestamps
// (|T) are ignored: synchronous instruments record at collection time.
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
// # Gunicorn's room
//
// The built-in Gunicorn profile's mappings are reserved (Mapping.Reserved):
// their instruments are made when the Bridge is (so that no other mapping can
// take their names with another kind: gunicorn.requests:1|g is a
// "type_conflict", not a squatter), do not count against WithMaxInstruments,
// and their series have room of their own (WithMaxReservedSeries, and an
// eighth of WithMaxMemory) that no other traffic can use. However many names,
// series or bytes other clients send, Gunicorn's own metrics are recorded.
// Only traffic that impersonates Gunicorn's names can fill that room.
//
// # Forgetting series
//
// Counter, up-down counter and gauge series are forgotten, their memory given
// back, in two cases, at a collection (they are asynchronous instruments:
// a series the callback no longer reports is gone from that collection on, in
// Prometheus and OTLP alike):
//
//   - TTL: when their mapping has a TTL (a statsd_exporter rule's ttl) and no
//     sample came for that long: counted in Stats.SeriesExpired.
//   - Idle reclaiming: when a limit on the series of other mappings than
//     reserved ones (WithMaxSeries, WithMaxMemory, or
//     WithMaxSeriesPerInstrument for that instrument) is 90% used or more,
//     those idle for WithReclaimIdle (default 10 minutes) are forgotten, so
//     that a flood of junk series does not hold its room until a restart;
//     counted in Stats.SeriesReclaimed and logged. Reserved series are never
//     reclaimed (Gunicorn sends gunicorn.workers only when it changes).
//
// A series that comes back starts again from its next sample (a counter
// reset, which rate() and OTLP consumers handle). Samples that went to an
// overflow series get a series of their own again once room is given back.
//
// The hot path cannot read the clock for every sample, so a series is
// stamped with an epoch; epochs begin at each collection and, under
// traffic, at most once a second (the clock is read every 64 datagrams). A series is forgotten at the first collection at least its TTL
// (or WithReclaimIdle) after the epoch of its last sample ended: never early,
// and late by at most one epoch (a second under steady traffic, one
// collection interval when traffic is sparse).
//
// Histogram series are never forgotten, and TTL does not apply to them: the
// OpenTelemetry API has no asynchronous histogram, and the SDK keeps every
// attribute set a synchronous instrument has seen for the life of the
// MeterProvider with cumulative temporality (with delta temporality it drops
// those without new observations at each collection). Forgetting them in the
// bridge would free nothing and keep exporting them. So histogram series of
// other mappings than reserved ones have a limit of their own,
// WithMaxHistogramSeries (default 10,000), lest they fill WithMaxSeries for
// good. Instruments are never forgotten either (the SDK keeps them): the name
// limit counts every name made.
//
// # Limits
//
// Everything that grows with input is bounded by an option, and what goes
// over is counted under a reason and logged (see Logs):
//
//	option                       default   over it                                      reason
//	WithMaxInstruments           2,000     new names rejected (reserved: own 2,000)      name_limit
//	WithMaxSeries                100,000   new series to the overflow series             series_limit
//	WithMaxSeriesPerInstrument   2,000     new series to the overflow series             instrument_series_limit
//	WithMaxHistogramSeries       10,000    new histogram series to the overflow series   histogram_series_limit
//	WithMaxReservedSeries        5,000     new reserved series to the overflow series    reserved_series_limit
//	WithMaxAttributeBytes        4,096     the new series to the overflow series         attribute_bytes
//	WithMaxMemory                256 MiB   new series overflow, new names rejected       memory_limit
//	WithMaxSampleWeight          1,000     the weight is capped                          sample_weight
//	WithMaxDatagramWeight        10,000    the observations are capped                   datagram_weight
//	WithReclaimIdle              10 min    (idle series forgotten under pressure)        idle_reclaimed
//
// An overflow series is the instrument's one series with the attribute
// otel.metric.overflow=true, as the SDK's own cardinality limit makes: sums
// and counts stay exact, only the attributes are lost. Keep the provider's
// cardinality limit (sdkmetric.WithCardinalityLimit, default 2000) at least
// WithMaxSeriesPerInstrument, or the SDK overflows first, uncounted; the
// bridge cannot set it: the provider is the caller's. WithMaxAttributeBytes
// counts 64 bytes per attribute plus the bytes of its key and value. The
// series table holds at most WithMaxSeries + WithMaxReservedSeries entries and
// an eighth of WithMaxMemory; it evicts at random beyond, which costs only a
// call to the Mapper.
//
// # Memory
//
// WithMaxMemory bounds what the bridge counts for its instruments, series and
// series table, and the count includes what one Prometheus scrape of them
// allocates (the text format is the heaviest exposition: it repeats a
// histogram's attributes on every bucket line), so that the bound holds
// whatever the shape of the traffic, scrapes included. An eighth is for the
// series table, an eighth for reserved instruments and series, the rest for
// the others. With n attributes whose keys and values take r bytes:
//
//	counter, up-down counter or gauge series   4096 + 576n + 3r
//	histogram series, b bucket boundaries      7168 + 1024b + 1280n + (b+5)(r+16n)   (b is 15 by default)
//	instrument                                 8192 + its overflow series, counted when it is made
//	series table entry                         160 + the length of the StatsD name and tags
//
// These are upper bounds of what was measured with the OpenTelemetry Go SDK
// v1.47 and its Prometheus exporter v0.69, one reader: a counter series with
// one attribute counts 4.9 KB for 0.4 KB of live heap and 2.1 KB allocated by
// a scrape; a histogram series 24.6 KB for 4.2 KB and 16.8 KB; with 50
// attributes, 35.7 KB for 5.3 and 25.3 KB (counter), 116 KB for 9.1 and 69.1
// KB (histogram). Stats.Memory and the gunicornotel.memory instrument report
// the count.
//
// With the defaults, the bridge's count stays under 256 MiB: 192 MiB are
// room, for example, for 18,000 counter series and 2,000 histogram series
// with four attributes of 20 bytes each in 500 instruments. Not counted: the
// Mapper's own cache (bounded by mapper.WithCacheSize), each further reader
// of the provider (its own copy of the SDK's state: up to 4 KB more per
// histogram series), scrapes running at once, and the garbage collector's
// headroom: with GOGC=100 the heap may grow to twice its live size between
// collections; set GOMEMLIMIT to hold a process to a figure.
//
// # Rejections, telemetry and logs
//
// A rejected sample is counted under a stable reason: the parser's (the
// String of a statsd.Reason: "malformed_line", "bad_value", "bad_type", ...,
// counted per rejected line) and the bridge's own (the Reason... constants).
// A sample the mapping drops on purpose (Mapping.Drop) is counted as dropped,
// not rejected. Stats returns all counters as a plain struct. Unless
// WithTelemetry(false), the same numbers are asynchronous instruments under
// ScopeName, observed by one callback at collection time: the hot path only
// counts on its stack and adds to a few atomic counters once per batch. They
// are the Metric... constants:
//
//   - gunicornotel.datagrams: datagrams (TCP: lines) handled;
//   - gunicornotel.samples, by statsd.metric.type: samples parsed;
//   - gunicornotel.samples.recorded: recorded in an instrument;
//   - gunicornotel.samples.rejected, by reason: rejected lines and samples;
//   - gunicornotel.lines.forgiven, by reason: lines a lenient statsd.Dialect
//     kept where statsd.DialectDefault rejects them;
//   - gunicornotel.samples.dropped: dropped on purpose by the mapping;
//   - gunicornotel.samples.weight_capped, by reason: weights (1/rate) capped;
//   - gunicornotel.series.overflow, by reason: samples sent to an overflow
//     series by a limit;
//   - gunicornotel.series.removed, by reason (ttl, idle): series forgotten;
//   - gunicornotel.series, gunicornotel.instruments, gunicornotel.memory:
//     what is tracked now;
//   - gunicornotel.series.cache.hits and gunicornotel.series.cache.misses,
//     gunicornotel.mapper.cache.hits and gunicornotel.mapper.cache.misses:
//     lookups;
//   - gunicornotel.tags.dropped, by reason: tags left out of series.
//
// A Receiver adds the server's counters: gunicornotel.server.bytes,
// gunicornotel.server.reads, gunicornotel.server.read_errors,
// gunicornotel.server.kernel_drops, gunicornotel.server.connections,
// gunicornotel.server.connections.evicted and
// gunicornotel.server.connections.open.
//
// Each limit that drops data also says so in the log (WithLogger, default
// slog.Default()), at level Warn: the first time, then at most once a minute,
// with the limit's reason, its option and value, and the count since the last
// line.
//
// # Options and logging
//
// New takes options in the OpenTelemetry SDK's style: each Option is made by
// a With... function, options apply in order (a later one wins), a nil
// Option is ignored, and an option given a value it does not take makes New
// fail with an error that names it (every such error, joined).
//
// The package logs with log/slog, to slog.Default() (as it is when New is
// called) unless WithLogger gives another logger: slog.New(slog.DiscardHandler)
// logs nothing, and WithLogger(nil) makes New fail. WithLogger says what is
// logged, at which level and how often.
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
// BenchmarkBridgeSampledFlood measures the worst datagram for work (a 60 KB
// datagram of sampled timers, see WithMaxDatagramWeight), and
// BenchmarkBridgeDistinctTags the slow path of a cardinality flood (a new
// series in every datagram).
package otelbridge

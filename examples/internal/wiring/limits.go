package wiring

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// Limits are the bounds a program sets on what StatsD traffic may make it
// hold: the bridge's (otelbridge.WithMax...) and the StatsD server's.
type Limits struct {
	MaxInstruments     int           // --otel.max-instruments
	MaxSeries          int           // --otel.max-series
	CardinalityLimit   int           // --otel.cardinality-limit
	MaxHistogramSeries int           // --otel.max-histogram-series
	MaxReservedSeries  int           // --otel.max-reserved-series
	MaxAttributeBytes  int           // --otel.max-attribute-bytes
	MaxMemory          int64         // --otel.max-memory, bytes
	MaxSampleWeight    int           // --otel.max-sample-weight
	MaxDatagramWeight  int           // --otel.max-datagram-weight
	ReclaimIdle        time.Duration // --otel.reclaim-idle
	MaxLineLength      int           // --statsd.max-line-length
	MaxDatagramSize    int           // --statsd.max-datagram-size
	TCPMaxConns        int           // --statsd.tcp-max-connections
	TCPIdleTimeout     time.Duration // --statsd.tcp-idle-timeout; 0: none
}

// Register adds the limits' flags to app, with the library's defaults.
func (l *Limits) Register(app *kingpin.Application) {
	intFlag := func(name, help string, def int, p *int) {
		app.Flag(name, help).Default(strconv.Itoa(def)).IntVar(p)
	}
	intFlag("otel.max-instruments", "Most distinct metric names; samples of a new name over it are rejected (reason name_limit).",
		otelbridge.DefaultMaxInstruments, &l.MaxInstruments)
	intFlag("otel.max-series", "Most series (attribute sets) over all metrics; new ones over it go to their metric's overflow series.",
		otelbridge.DefaultMaxSeries, &l.MaxSeries)
	intFlag("otel.cardinality-limit", `Most attribute sets per metric; new ones over it go to one series with otel.metric.overflow=true (the label otel_metric_overflow="true" in Prometheus).`,
		otelbridge.DefaultMaxSeriesPerInstrument, &l.CardinalityLimit)
	intFlag("otel.max-histogram-series", "Most series of generic histograms and timers, over all their metrics (the SDK never forgets a histogram's series); new ones over it go to the overflow series.",
		otelbridge.DefaultMaxHistogramSeries, &l.MaxHistogramSeries)
	intFlag("otel.max-reserved-series", "Most series of Gunicorn's own metrics (the built-in profile), kept apart so that no other traffic can crowd them out.",
		otelbridge.DefaultMaxReservedSeries, &l.MaxReservedSeries)
	intFlag("otel.max-attribute-bytes", "Most bytes of attribute names and values in one series; a series over it is rejected (reason attribute_bytes).",
		otelbridge.DefaultMaxAttributeBytes, &l.MaxAttributeBytes)
	app.Flag("otel.max-memory", "Most memory for series state and one collection of it (e.g. 256MiB); new series over it are rejected (reason memory_limit). It is also the Go runtime's soft memory limit (64MiB at least), unless GOMEMLIMIT is set.").
		Default(strconv.FormatInt(otelbridge.DefaultMaxMemory>>20, 10) + "MiB").BytesVar((*units.Base2Bytes)(&l.MaxMemory))
	intFlag("otel.max-sample-weight", "Most a sampled counter or timer line counts for (1/rate is capped to it).",
		otelbridge.DefaultMaxSampleWeight, &l.MaxSampleWeight)
	intFlag("otel.max-datagram-weight", "Most extra histogram observations the sample rates of one datagram may add.",
		otelbridge.DefaultMaxDatagramWeight, &l.MaxDatagramWeight)
	app.Flag("otel.reclaim-idle", "When a series limit is nearly reached, series idle this long are forgotten to make room.").
		Default(otelbridge.DefaultReclaimIdle.String()).DurationVar(&l.ReclaimIdle)
	intFlag("statsd.max-line-length", "Longest StatsD line in bytes; longer ones are rejected (reason too_long). It bounds each TCP connection's buffer.",
		statsd.DefaultMaxLineLength, &l.MaxLineLength)
	intFlag("statsd.max-datagram-size", "Largest datagram read whole, in bytes; longer ones are rejected (reason too_long). Each reader holds 64 of them.",
		statsd.DefaultMaxDatagramSize, &l.MaxDatagramSize)
	intFlag("statsd.tcp-max-connections", "Most StatsD TCP connections open at once; a new one over it closes the one idle longest.",
		statsd.DefaultMaxConns, &l.TCPMaxConns)
	app.Flag("statsd.tcp-idle-timeout", "How long a StatsD TCP connection may send nothing before it is closed; 0 means no timeout.").
		Default(statsd.DefaultIdleTimeout.String()).DurationVar(&l.TCPIdleTimeout)
}

// Check returns an error for each limit out of its range, naming its flag.
func (l *Limits) Check() []error {
	var errs []error
	if l.CardinalityLimit < 2 {
		errs = append(errs, fmt.Errorf("--otel.cardinality-limit %d: want at least 2", l.CardinalityLimit))
	}
	errs = append(errs, AtLeastOne(
		IntOf("otel.max-instruments", l.MaxInstruments),
		IntOf("otel.max-series", l.MaxSeries),
		IntOf("otel.max-histogram-series", l.MaxHistogramSeries),
		IntOf("otel.max-reserved-series", l.MaxReservedSeries),
		IntOf("otel.max-attribute-bytes", l.MaxAttributeBytes),
		IntOf("otel.max-sample-weight", l.MaxSampleWeight),
		IntOf("statsd.max-line-length", l.MaxLineLength),
		IntOf("statsd.max-datagram-size", l.MaxDatagramSize),
		IntOf("statsd.tcp-max-connections", l.TCPMaxConns),
	)...)
	if l.MaxDatagramWeight < 0 {
		errs = append(errs, fmt.Errorf("--otel.max-datagram-weight %d: want 0 (none) or more", l.MaxDatagramWeight))
	}
	if l.MaxMemory < 1 {
		errs = append(errs, fmt.Errorf("--otel.max-memory %d: want at least 1 byte", l.MaxMemory))
	}
	errs = append(errs, NotNegative(
		DurationOf("otel.reclaim-idle", l.ReclaimIdle),
		DurationOf("statsd.tcp-idle-timeout", l.TCPIdleTimeout),
	)...)
	return errs
}

// BridgeOptions returns the bridge's options for the limits, with log as
// the logger that says when a limit dropped data (otelbridge.WithLogger).
// The bridge's parser is the program's (otelbridge.WithParser): give it
// Parser's line length.
func (l *Limits) BridgeOptions(log *slog.Logger) []otelbridge.Option {
	return []otelbridge.Option{
		otelbridge.WithMaxInstruments(l.MaxInstruments),
		otelbridge.WithMaxSeries(l.MaxSeries),
		otelbridge.WithMaxSeriesPerInstrument(l.CardinalityLimit),
		otelbridge.WithMaxHistogramSeries(l.MaxHistogramSeries),
		otelbridge.WithMaxReservedSeries(l.MaxReservedSeries),
		otelbridge.WithMaxAttributeBytes(l.MaxAttributeBytes),
		otelbridge.WithMaxMemory(l.MaxMemory),
		otelbridge.WithMaxSampleWeight(l.MaxSampleWeight),
		otelbridge.WithMaxDatagramWeight(l.MaxDatagramWeight),
		otelbridge.WithReclaimIdle(l.ReclaimIdle),
		otelbridge.WithLogger(log),
	}
}

// MeterProviderOptions returns the options of the SDK's MeterProvider the
// bridge records into that the limits set: the cardinality limit, which the
// SDK applies to every instrument, the watcher's and the program's included.
func (l *Limits) MeterProviderOptions() []sdkmetric.Option {
	return []sdkmetric.Option{sdkmetric.WithCardinalityLimit(l.CardinalityLimit)}
}

// Server returns a StatsD server with the limits, parsing as p does (with
// the line length limit), logging to log, without its Handler.
func (l *Limits) Server(p statsd.Parser, log *slog.Logger) *statsd.Server {
	p.MaxLineLength = l.MaxLineLength
	idle := l.TCPIdleTimeout
	if idle == 0 {
		idle = -1 // the flag's 0 is none; the field's zero is its default
	}
	return &statsd.Server{
		MaxDatagramSize: l.MaxDatagramSize,
		Parser:          p,
		MaxConns:        l.TCPMaxConns,
		IdleTimeout:     idle,
		ErrorLog:        log,
	}
}

// MinMemoryLimit is the least soft memory limit ApplyMemoryLimit sets: what
// the runtime, the readers' buffers, the mapper's cache and the exporters
// take with an empty series state, and more, so that a small
// --otel.max-memory does not make the garbage collector run without pause.
const MinMemoryLimit = 64 << 20

// MemoryLimit returns the Go runtime's soft memory limit --otel.max-memory
// sets: MaxMemory, at least MinMemoryLimit. The bridge counts its series
// state and one collection of it under --otel.max-memory, but resident
// memory is not the count: with the collector's default pacing (GOGC=100)
// the heap grows to twice the live heap before a collection, and wide tag
// sets took the process to 1.2 times --otel.max-memory (BENCHMARKS.md). The
// limit makes the collector work harder as the heap nears it instead. It
// returns false when the environment sets GOMEMLIMIT (lookupEnv is
// os.LookupEnv), which the runtime has applied already, "off" included.
func (l *Limits) MemoryLimit(lookupEnv func(string) (string, bool)) (int64, bool) {
	if _, ok := lookupEnv("GOMEMLIMIT"); ok {
		return 0, false
	}
	return max(l.MaxMemory, MinMemoryLimit), true
}

// ApplyMemoryLimit sets the runtime's soft memory limit with set
// (debug.SetMemoryLimit; tests, which share the process, pass another) as
// MemoryLimit says, and logs the limit in force.
func (l *Limits) ApplyMemoryLimit(lookupEnv func(string) (string, bool), set func(int64) int64, log *slog.Logger) {
	limit, ok := l.MemoryLimit(lookupEnv)
	if !ok {
		log.Info("Go runtime memory limit from GOMEMLIMIT", "limit_bytes", debug.SetMemoryLimit(-1))
		return
	}
	set(limit)
	log.Info("Go runtime memory limit from --otel.max-memory (set GOMEMLIMIT to choose another)", "limit_bytes", limit)
}

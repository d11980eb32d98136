package otelbridge

import (
	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// Mapper says where a sample goes. *mapper.Mapper satisfies it; tests may use
// a stub. Map is called only when a series is not in the bridge's series table
// (the first sample of a series, or after an eviction or a SetMapper), from
// several goroutines at once: it must be safe for concurrent use. The returned
// Mapping is not modified by the bridge; it must not be nil (a nil Mapping is
// counted as dropped).
//
// If the Mapper also has the method CacheStats() mapper.CacheStats, as
// *mapper.Mapper does, the bridge reports its hits and misses in Stats and in
// its telemetry.
type Mapper interface {
	Map(s *statsd.Sample) *mapper.Mapping
}

// cacheStatser is the optional interface a Mapper may implement to expose its
// cache counters.
type cacheStatser interface {
	CacheStats() mapper.CacheStats
}

// Default limits.
const (
	// DefaultMaxSeries is the default of WithMaxSeries.
	DefaultMaxSeries = 100_000
	// DefaultMaxSeriesPerInstrument is the default of
	// WithMaxSeriesPerInstrument: the same as the OpenTelemetry Go SDK's
	// default cardinality limit.
	DefaultMaxSeriesPerInstrument = 2000
	// DefaultMaxInstruments is the default of WithMaxInstruments.
	DefaultMaxInstruments = 1000
	// DefaultMaxHistogramWeight is the most observations one sampled
	// histogram or timer sample counts as: a sample rate under 1/1000 is
	// counted as 1/1000 (and counted in Stats.WeightCapped).
	DefaultMaxHistogramWeight = 1000
)

// ScopeName is the instrumentation scope of the bridge's own telemetry, and
// the default scope of the instruments it makes for samples.
const ScopeName = "github.com/gunicornotel/gunicornotel/otelbridge"

// An Option configures a Bridge.
type Option func(*config)

type config struct {
	mapper                 Mapper
	maxSeries              int
	maxSeriesPerInstrument int
	maxInstruments         int
	meterName              string
	telemetry              bool
	parser                 statsd.Parser
	server                 *statsd.Server
}

func defaultConfig() config {
	return config{
		maxSeries:              DefaultMaxSeries,
		maxSeriesPerInstrument: DefaultMaxSeriesPerInstrument,
		maxInstruments:         DefaultMaxInstruments,
		meterName:              ScopeName,
		telemetry:              true,
	}
}

// WithMapper sets the Mapper. The default is mapper.New() with no options:
// the built-in Gunicorn profile.
func WithMapper(m Mapper) Option {
	return func(c *config) { c.mapper = m }
}

// WithMaxSeries bounds the series the bridge tracks, over all instruments:
// each distinct (instrument, attribute set) pair with its state (a gauge's
// last value, a histogram's fractional weight). It also sizes the series
// table that maps a raw StatsD series (name, type, tags) to its state; that
// table evicts at random when full and is recomputed through the Mapper.
// A new series over the limit is recorded in its instrument's overflow series
// (see WithMaxSeriesPerInstrument) and counted in Stats.SeriesOverflow.
// Default DefaultMaxSeries; n <= 0 keeps the default.
func WithMaxSeries(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxSeries = n
		}
	}
}

// WithMaxSeriesPerInstrument bounds the attribute sets of one instrument, the
// same way the OpenTelemetry SDK's cardinality limit does: n-1 distinct sets,
// then every new set is recorded in one overflow series whose only attribute
// is otel.metric.overflow=true, so sums and counts stay exact. Each sample
// recorded in an overflow series is counted in Stats.SeriesOverflow (reason
// "series_overflow" in the telemetry).
//
// Keep it at or under the cardinality limit of the MeterProvider
// (sdkmetric.WithCardinalityLimit, default 2000), or the SDK will overflow
// first, without the bridge counting it. Default
// DefaultMaxSeriesPerInstrument; n < 2 keeps the default.
func WithMaxSeriesPerInstrument(n int) Option {
	return func(c *config) {
		if n >= 2 {
			c.maxSeriesPerInstrument = n
		}
	}
}

// WithMaxInstruments bounds the distinct instrument names the bridge creates.
// A sample whose mapping names a new instrument over the limit is rejected
// with reason "name_limit". Default DefaultMaxInstruments; n <= 0 keeps the
// default.
func WithMaxInstruments(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxInstruments = n
		}
	}
}

// WithMeterName sets the instrumentation scope name of the instruments made
// for samples. The default is ScopeName. The bridge's own telemetry always
// uses ScopeName.
func WithMeterName(name string) Option {
	return func(c *config) {
		if name != "" {
			c.meterName = name
		}
	}
}

// WithTelemetry turns the bridge's own instruments (see the package
// documentation) on or off. Default on. Stats works either way.
func WithTelemetry(on bool) Option {
	return func(c *config) { c.telemetry = on }
}

// WithParser sets the parser HandleDatagram uses (for its MaxLineLength).
// The default is the zero statsd.Parser.
func WithParser(p statsd.Parser) Option {
	return func(c *config) { c.parser = p }
}

// WithServer makes Listen use s, configured by the caller (Readers,
// BatchSize, MaxDatagramSize, ErrorLog, ...), instead of a zero
// statsd.Server. Listen sets its Handler to the Bridge; s must not be in use
// yet. New ignores this option.
func WithServer(s *statsd.Server) Option {
	return func(c *config) { c.server = s }
}

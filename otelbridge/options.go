package otelbridge

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"

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
// its telemetry; likewise the tags it left out, if it has the method
// TagStats() mapper.TagStats. If it has the method ReservedMappings() []*mapper.Mapping, as
// *mapper.Mapper does, the bridge makes those instruments at once (see
// Mapping.Reserved), so that no other mapping can take their names. A Mapper
// that wraps others must have these methods too, or the bridge loses them:
// Chain and Rewrite compose Mappers and keep them all.
type Mapper interface {
	Map(s *statsd.Sample) *mapper.Mapping
}

// cacheStatser is the optional interface a Mapper may implement to expose its
// cache counters.
type cacheStatser interface {
	CacheStats() mapper.CacheStats
}

// tagStatser is the optional interface a Mapper may implement to expose the
// tags it left out of series (*mapper.Mapper does).
type tagStatser interface {
	TagStats() mapper.TagStats
}

// reserver is the optional interface a Mapper may implement to name the
// instruments of its reserved mappings in advance.
type reserver interface {
	ReservedMappings() []*mapper.Mapping
}

// Default limits. Each is the default of the option of the same name; the
// package documentation says what each protects and what it costs.
const (
	// DefaultMaxInstruments is the default of WithMaxInstruments.
	DefaultMaxInstruments = 2000
	// DefaultMaxSeries is the default of WithMaxSeries.
	DefaultMaxSeries = 100_000
	// DefaultMaxSeriesPerInstrument is the default of
	// WithMaxSeriesPerInstrument: the same as the OpenTelemetry Go SDK's
	// default cardinality limit.
	DefaultMaxSeriesPerInstrument = 2000
	// DefaultMaxHistogramSeries is the default of WithMaxHistogramSeries.
	DefaultMaxHistogramSeries = 10_000
	// DefaultMaxReservedSeries is the default of WithMaxReservedSeries.
	DefaultMaxReservedSeries = 5000
	// DefaultMaxAttributeBytes is the default of WithMaxAttributeBytes:
	// for example 40 attributes whose key and value together take 38 bytes.
	DefaultMaxAttributeBytes = 4096
	// DefaultMaxMemory is the default of WithMaxMemory: 256 MiB.
	DefaultMaxMemory = 256 << 20
	// DefaultMaxSampleWeight is the default of WithMaxSampleWeight.
	DefaultMaxSampleWeight = 1000
	// DefaultMaxDatagramWeight is the default of WithMaxDatagramWeight.
	DefaultMaxDatagramWeight = 10_000
	// DefaultReclaimIdle is the default of WithReclaimIdle.
	DefaultReclaimIdle = 10 * time.Minute
)

// ScopeName is the instrumentation scope of the bridge's own telemetry, and
// the default scope of the instruments it makes for samples.
const ScopeName = "github.com/gunicornotel/gunicornotel/otelbridge"

// An Option configures a Bridge made by New. Every Option is also a
// ListenOption, for the Bridge that Listen makes.
type Option interface {
	ListenOption
	applyBridge(*config)
}

// A ListenOption configures Listen: WithServer, and every Option of the
// Bridge it makes.
type ListenOption interface {
	applyListen(*listenConfig)
}

// bridgeOption is an Option: it configures the Bridge, whether New or Listen
// makes it.
type bridgeOption func(*config)

func (o bridgeOption) applyBridge(c *config)       { o(c) }
func (o bridgeOption) applyListen(c *listenConfig) { o(&c.bridge) }

// listenOption configures only what Listen adds to the Bridge.
type listenOption func(*listenConfig)

func (o listenOption) applyListen(c *listenConfig) { o(c) }

type config struct {
	mapper                 Mapper
	meterName              string
	meterFor               func(*mapper.Mapping) metric.Meter
	telemetry              bool
	parser                 statsd.Parser
	logger                 *slog.Logger
	maxInstruments         int
	maxSeries              int
	maxSeriesPerInstrument int
	maxHistogramSeries     int
	maxReservedSeries      int
	maxAttributeBytes      int
	maxMemory              int64
	maxSampleWeight        int
	maxDatagramWeight      int
	reclaimIdle            time.Duration
	now                    func() time.Time // the clock; tests set a fake one
	errs                   []error
}

type listenConfig struct {
	bridge config
	server *statsd.Server
}

func defaultConfig() config {
	return config{
		meterName:              ScopeName,
		telemetry:              true,
		maxInstruments:         DefaultMaxInstruments,
		maxSeries:              DefaultMaxSeries,
		maxSeriesPerInstrument: DefaultMaxSeriesPerInstrument,
		maxHistogramSeries:     DefaultMaxHistogramSeries,
		maxReservedSeries:      DefaultMaxReservedSeries,
		maxAttributeBytes:      DefaultMaxAttributeBytes,
		maxMemory:              DefaultMaxMemory,
		maxSampleWeight:        DefaultMaxSampleWeight,
		maxDatagramWeight:      DefaultMaxDatagramWeight,
		reclaimIdle:            DefaultReclaimIdle,
		now:                    time.Now,
	}
}

// invalid records the error of an option given a value it does not take; New
// and Listen return it.
func (c *config) invalid(option string, value any, want string) {
	c.errs = append(c.errs, fmt.Errorf("otelbridge: %s(%v): %s", option, value, want))
}

func (c *config) err() error { return errors.Join(c.errs...) }

// atLeast returns an Option setting *field to n, or making New fail when n
// is under min.
func atLeast(option string, n, min int, field func(*config) *int) Option {
	return bridgeOption(func(c *config) {
		if n < min {
			c.invalid(option, n, fmt.Sprintf("must be at least %d", min))
			return
		}
		*field(c) = n
	})
}

// WithMapper sets the Mapper. The default is mapper.New() with no options:
// the built-in Gunicorn profile. A nil Mapper makes New fail.
func WithMapper(m Mapper) Option {
	return bridgeOption(func(c *config) {
		if m == nil {
			c.invalid("WithMapper", "nil", "a Mapper is required")
			return
		}
		c.mapper = m
	})
}

// WithMeterName sets the instrumentation scope name of the instruments made
// for samples. The default is ScopeName. The bridge's own telemetry always
// uses ScopeName. An empty name makes New fail.
func WithMeterName(name string) Option {
	return bridgeOption(func(c *config) {
		if name == "" {
			c.invalid("WithMeterName", `""`, "the name must not be empty")
			return
		}
		c.meterName = name
	})
}

// WithMeterFor makes the bridge ask pick which Meter makes the instrument of
// a mapping, as a program that sends some instruments to one exporter and
// some to another would choose between its MeterProviders: pick is called
// when the bridge is about to make an instrument, with the first mapping of
// its name (never per sample: an instrument is made once, and its series'
// attribute sets with it), and the Meter it returns makes that instrument
// and registers its callback. A nil Meter, like every instrument without
// this option, is the default: the one New's MeterProvider gives under
// WithMeterName's scope. The bridge's own telemetry is never picked.
//
// The bridge checks an instrument name against OpenTelemetry's syntax
// (1 to 255 characters: a letter, then letters, digits, '_', '.', '-', '/')
// only for the default Meter. A picked Meter is given any name of 1 to 255
// bytes and judges it: an error from it rejects the mapping's samples under
// reason "instrument_error". (A Meter whose Prometheus exporter translates no
// names may, for example, take statsd_exporter's names, which may start with
// '_'.) A name belongs to one instrument whatever Meter made it.
//
// pick runs while the bridge holds the lock of its instruments: it must be
// quick and must not call the Bridge. It may be called for a mapping whose
// instrument a limit then refuses; it should only choose. A nil pick makes
// New fail.
func WithMeterFor(pick func(m *mapper.Mapping) metric.Meter) Option {
	return bridgeOption(func(c *config) {
		if pick == nil {
			c.invalid("WithMeterFor", "nil", "a function is required")
			return
		}
		c.meterFor = pick
	})
}

// WithTelemetry turns the bridge's own instruments (see the package
// documentation) on or off. Default on. Stats works either way.
func WithTelemetry(on bool) Option {
	return bridgeOption(func(c *config) { c.telemetry = on })
}

// WithParser sets the parser HandleDatagram uses (its line length limit, tag
// formats and the rest of its settings), and the Server Listen makes unless
// WithServer gives one (which parses with its own Parser field). The default
// is the zero statsd.Parser.
func WithParser(p statsd.Parser) Option {
	return bridgeOption(func(c *config) { c.parser = p })
}

// WithLogger sets where the bridge says that a limit dropped data (see
// Limits in the package documentation): at level Warn, at most once a minute
// for each limit. The default is slog.Default(); see Options and logging in
// the package documentation.
func WithLogger(l *slog.Logger) Option {
	return bridgeOption(func(c *config) {
		if l == nil {
			c.invalid("WithLogger", "nil", "a logger is required (slog.New(slog.DiscardHandler) logs nothing)")
			return
		}
		c.logger = l
	})
}

// WithMaxInstruments bounds the instrument names the bridge makes for
// mappings other than reserved ones (Mapping.Reserved: the Gunicorn profile's
// instruments never count). A sample whose mapping names a new instrument
// over the limit is rejected with reason "name_limit". An instrument is never
// forgotten: OpenTelemetry SDKs keep every instrument for the life of the
// MeterProvider. Default DefaultMaxInstruments; n must be at least 1.
func WithMaxInstruments(n int) Option {
	return atLeast("WithMaxInstruments", n, 1, func(c *config) *int { return &c.maxInstruments })
}

// WithMaxSeries bounds the series (instrument and attribute set) of mappings
// other than reserved ones, over all instruments. A new series over the limit
// is recorded in its instrument's overflow series (see
// WithMaxSeriesPerInstrument) and counted under reason "series_limit".
// Series idle for WithReclaimIdle are reclaimed to make room (see the package
// documentation). Default DefaultMaxSeries; n must be at least 1.
func WithMaxSeries(n int) Option {
	return atLeast("WithMaxSeries", n, 1, func(c *config) *int { return &c.maxSeries })
}

// WithMaxSeriesPerInstrument bounds the attribute sets of one instrument, the
// same way the OpenTelemetry SDK's cardinality limit does: n-1 distinct sets,
// then every new set is recorded in one overflow series whose only attribute
// is otel.metric.overflow=true, so sums and counts stay exact. Each sample
// recorded there is counted under reason "instrument_series_limit".
//
// Keep it at or under the cardinality limit of the MeterProvider
// (sdkmetric.WithCardinalityLimit, default 2000), or the SDK will overflow
// first, without the bridge counting it. Default
// DefaultMaxSeriesPerInstrument; n must be at least 2.
func WithMaxSeriesPerInstrument(n int) Option {
	return atLeast("WithMaxSeriesPerInstrument", n, 2, func(c *config) *int { return &c.maxSeriesPerInstrument })
}

// WithMaxHistogramSeries bounds the histogram series of mappings other than
// reserved ones. They count in WithMaxSeries too, but unlike other series
// they are never forgotten (ttl and idle reclaiming do not apply: the
// OpenTelemetry SDK keeps a synchronous histogram's series for the life of
// the MeterProvider), so they get a bound of their own, lest they fill
// WithMaxSeries for good. Over it, new histogram series overflow under reason
// "histogram_series_limit". Default DefaultMaxHistogramSeries; n must be at
// least 1.
func WithMaxHistogramSeries(n int) Option {
	return atLeast("WithMaxHistogramSeries", n, 1, func(c *config) *int { return &c.maxHistogramSeries })
}

// WithMaxReservedSeries bounds the series of reserved mappings
// (Mapping.Reserved: the built-in Gunicorn profile's), which have this room
// of their own, apart from WithMaxSeries: no other traffic can take it. Over
// it, new reserved series overflow under reason "reserved_series_limit".
// Default DefaultMaxReservedSeries; n must be at least 1.
func WithMaxReservedSeries(n int) Option {
	return atLeast("WithMaxReservedSeries", n, 1, func(c *config) *int { return &c.maxReservedSeries })
}

// WithMaxAttributeBytes bounds the attributes of one series, counted as the
// package documentation says (Memory): a new series whose attributes weigh more is recorded in
// its instrument's overflow series, under reason "attribute_bytes". Default
// DefaultMaxAttributeBytes; n must be at least 1.
func WithMaxAttributeBytes(n int) Option {
	return atLeast("WithMaxAttributeBytes", n, 1, func(c *config) *int { return &c.maxAttributeBytes })
}

// WithMaxMemory bounds the memory of the bridge's series, counted as the
// package documentation says (Memory): an eighth of n for the series table,
// an eighth for reserved series, the rest for other series. A new series that
// does not fit overflows under reason "memory_limit"; series table entries
// that do not fit are evicted. Default DefaultMaxMemory; n must be at least
// 1 MiB.
func WithMaxMemory(n int64) Option {
	return bridgeOption(func(c *config) {
		if n < 1<<20 {
			c.invalid("WithMaxMemory", n, "must be at least 1 MiB (1048576)")
			return
		}
		c.maxMemory = n
	})
}

// WithMaxSampleWeight bounds the weight of one sample: a counter sample adds
// value/rate, and a histogram sample counts as 1/rate observations, with
// 1/rate at most w; a sample over it counts as w, counted under reason
// "sample_weight". Default DefaultMaxSampleWeight (rates under 0.001); w must
// be at least 1.
func WithMaxSampleWeight(w int) Option {
	return atLeast("WithMaxSampleWeight", w, 1, func(c *config) *int { return &c.maxSampleWeight })
}

// WithMaxDatagramWeight bounds the work one datagram (on TCP, one line) can
// cause: the observations its sampled histogram samples record beyond one
// each. OpenTelemetry histograms take one observation at a time, so a sample
// at rate 0.001 is 1000 calls; a datagram full of them would be millions.
// Datagrams handled together (a Server reader's batch) share their budgets.
// A sample over the budget records what is left of it (at least its own
// observation), counted under reason "datagram_weight". Default
// DefaultMaxDatagramWeight; n must be at least 0.
func WithMaxDatagramWeight(n int) Option {
	return atLeast("WithMaxDatagramWeight", n, 0, func(c *config) *int { return &c.maxDatagramWeight })
}

// WithReclaimIdle sets how long a series must go without samples before it
// may be forgotten to make room: when a limit on series or memory is 90%
// used or more, each collection forgets the counter, up-down counter and
// gauge series of mappings other than reserved ones that have been idle that
// long, counted in Stats.SeriesReclaimed. A series that returns starts again
// from its first new sample. Default DefaultReclaimIdle; d must be at least
// one second.
func WithReclaimIdle(d time.Duration) Option {
	return bridgeOption(func(c *config) {
		if d < time.Second {
			c.invalid("WithReclaimIdle", d, "must be at least 1s")
			return
		}
		c.reclaimIdle = d
	})
}

// withClock sets the bridge's clock, for tests.
func withClock(now func() time.Time) Option {
	return bridgeOption(func(c *config) { c.now = now })
}

// WithServer makes Listen use s, configured by the caller (Readers,
// BatchSize, MaxDatagramSize, ErrorLog, ...), instead of a zero
// statsd.Server. Listen sets its Handler to the Bridge; s must not be in use
// yet. A nil Server makes Listen fail.
func WithServer(s *statsd.Server) ListenOption {
	return listenOption(func(c *listenConfig) {
		if s == nil {
			c.bridge.invalid("WithServer", "nil", "a Server is required")
			return
		}
		c.server = s
	})
}

package gunicornreceiver

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gunicornotel/gunicornotel/internal/watchopt"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/procwatch"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// WatchConfig turns on the Gunicorn watcher (package procwatch): the master
// and its workers seen from outside through /proc and socket diagnostics,
// Linux only. Its figures (gunicorn.worker.count by state, busy time, the
// longest request, restarts, each process's CPU, memory and uptime, the
// accept queues, gunicorn.up) go down the same pipeline as the StatsD ones.
// Exactly one of PIDFile, PID and Discover turns it on; none leaves it off.
type WatchConfig struct {
	// PIDFile is Gunicorn's --pid file, read at each pass: a master replaced
	// by a USR2 upgrade or a restart is followed.
	PIDFile string `mapstructure:"pid_file"`
	// PID is the master's process id.
	PID int `mapstructure:"pid"`
	// Discover finds the master by its command line or title.
	Discover bool `mapstructure:"discover"`
	// SampleInterval is how often the workers are sampled (default 100ms:
	// often enough to see short requests).
	SampleInterval time.Duration `mapstructure:"sample_interval"`
	// App is Gunicorn's --statsd-prefix, set as the prefix attribute
	// (prefix_attribute) on the watcher's series so that they sit beside its
	// StatsD series. Trailing dots are trimmed, as the StatsD side trims
	// them. Empty (the default): the master's own --statsd-prefix, read from
	// its settings, whose --dogstatsd-tags become attributes too.
	App string `mapstructure:"app"`

	// The settings of Gunicorn's below override the master's. Each one not
	// set is read from the master's settings (its arguments,
	// GUNICORN_CMD_ARGS, its configuration file), else from what its
	// workers show.

	// WorkerClass is Gunicorn's worker class (its -k): sync, gthread,
	// gevent, eventlet, tornado, uvicorn.workers.UvicornWorker or another
	// class path. Not set: from the master, else from what its workers show
	// (the libraries they map, an epoll instance, their threads), else sync.
	WorkerClass string `mapstructure:"worker_class"`
	// Threads is the threads of each gthread worker (Gunicorn's --threads,
	// at least 1): capacity is workers × threads. Not set: from the master,
	// else the most threads seen in a worker.
	Threads *int `mapstructure:"threads"`
	// WorkerConnections is the connections each async worker serves at once
	// (Gunicorn's --worker-connections, at least 1). Not set: from the
	// master, else Gunicorn's default, 1000.
	WorkerConnections *int `mapstructure:"worker_connections"`
	// Timeout is Gunicorn's --timeout, a whole number of seconds (30s); 0s
	// says there is none (gunicorn.worker.timeout is then not reported).
	// Not set: from the master, else measured from the sync workers'
	// heartbeats, else Gunicorn's default, 30s.
	Timeout *time.Duration `mapstructure:"timeout"`
	// PIDAttribute adds process.pid to the workers' series (CPU, memory,
	// uptime, connections), which carry their slot (gunicorn.worker.slot)
	// either way.
	PIDAttribute bool `mapstructure:"pid_attribute"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// target is the master the block names and its sample interval.
func (w *WatchConfig) target() *watchopt.Target {
	return &watchopt.Target{PIDFile: w.PIDFile, PID: w.PID, Discover: w.Discover, Interval: w.SampleInterval}
}

// enabled reports whether the configuration turns the watcher on.
func (w *WatchConfig) enabled() bool { return w.target().On() }

// validate checks the watch block with the programs' rules
// (internal/watchopt), its keys named in the errors; prefixKey is the
// receiver's prefix_attribute.
func (w *WatchConfig) validate(prefixKey string) error {
	var errs []error
	if err := w.target().Check(watchNames); err != nil {
		errs = append(errs, err)
	}
	if w.App != "" && (!w.enabled() || prefixKey == "") {
		errs = append(errs, errors.New("watch: app labels the watcher's series under prefix_attribute: it needs pid_file, pid or discover, and a prefix_attribute"))
	}
	if err := w.settings().Check(watchNames, w.enabled()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// watchNames are the keys of the watch block, as errors name them.
var watchNames = watchopt.Names{
	WorkerClass:       "watch: worker_class",
	Threads:           "watch: threads",
	WorkerConnections: "watch: worker_connections",
	Timeout:           "watch: timeout",
	PIDAttribute:      "watch: pid_attribute",
	Master:            "pid_file, pid or discover",
	PIDFile:           "watch: pid_file",
	PID:               "watch: pid",
	Discover:          "watch: discover",
	Interval:          "watch: sample_interval",
}

// settings are the settings of Gunicorn's the block gives.
func (w *WatchConfig) settings() *watchopt.Settings {
	return &watchopt.Settings{
		WorkerClass:       w.WorkerClass,
		Threads:           w.Threads,
		WorkerConnections: w.WorkerConnections,
		Timeout:           w.Timeout,
		PIDAttribute:      w.PIDAttribute,
	}
}

// options returns the watcher's options.
func (w *WatchConfig) options(prefixKey string, log *slog.Logger) []procwatch.Option {
	opts := append(w.target().Options(), procwatch.WithLogger(log))
	opts = append(opts, w.settings().Options()...)
	return append(opts, watchopt.PrefixOptions(prefixKey, w.App, true)...)
}

// LimitsConfig bounds what the receiver keeps, as the otelbridge options of
// the same names do; zero keeps the library's default (in parentheses).
type LimitsConfig struct {
	// MaxInstruments bounds the distinct metric names
	// (otelbridge.DefaultMaxInstruments).
	MaxInstruments int `mapstructure:"max_instruments"`
	// MaxSeries bounds the series over all metrics
	// (otelbridge.DefaultMaxSeries).
	MaxSeries int `mapstructure:"max_series"`
	// MaxSeriesPerInstrument bounds the series of one metric
	// (otelbridge.DefaultMaxSeriesPerInstrument).
	MaxSeriesPerInstrument int `mapstructure:"max_series_per_instrument"`
	// MaxHistogramSeries bounds the series of generic histograms and timers
	// (otelbridge.DefaultMaxHistogramSeries).
	MaxHistogramSeries int `mapstructure:"max_histogram_series"`
	// MaxMemory bounds the bytes of series state (otelbridge.DefaultMaxMemory).
	MaxMemory int64 `mapstructure:"max_memory"`
	// MaxReservedSeries bounds the series of Gunicorn's own metrics, kept
	// apart from the rest (otelbridge.DefaultMaxReservedSeries).
	MaxReservedSeries int `mapstructure:"max_reserved_series"`
	// MaxAttributeBytes bounds the bytes of attribute names and values of
	// one series (otelbridge.DefaultMaxAttributeBytes).
	MaxAttributeBytes int `mapstructure:"max_attribute_bytes"`
	// MaxSampleWeight caps the weight (1/rate) of a sampled line
	// (otelbridge.DefaultMaxSampleWeight).
	MaxSampleWeight int `mapstructure:"max_sample_weight"`
	// MaxDatagramWeight bounds the extra histogram observations the rates
	// of one datagram may add (otelbridge.DefaultMaxDatagramWeight).
	MaxDatagramWeight int `mapstructure:"max_datagram_weight"`
	// ReclaimIdle is how long a series must be idle to be forgotten when a
	// limit is nearly reached; at least 1s (otelbridge.DefaultReclaimIdle).
	ReclaimIdle time.Duration `mapstructure:"reclaim_idle"`
	// MaxLineLength bounds a StatsD line, in bytes; longer ones are rejected
	// (reason too_long) (statsd.DefaultMaxLineLength).
	MaxLineLength int `mapstructure:"max_line_length"`
	// MaxDatagramSize bounds a datagram read whole, in bytes
	// (statsd.DefaultMaxDatagramSize).
	MaxDatagramSize int `mapstructure:"max_datagram_size"`
	// TCPMaxConnections bounds the TCP connections open at once; a new one
	// over it closes the one idle longest (statsd.DefaultMaxConns).
	TCPMaxConnections int `mapstructure:"tcp_max_connections"`
	// TCPIdleTimeout closes a TCP connection that sent nothing for that
	// long (statsd.DefaultIdleTimeout).
	TCPIdleTimeout time.Duration `mapstructure:"tcp_idle_timeout"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// validate checks the limits as the bridge's options take them: none
// negative (0 keeps the default), and max_series_per_instrument at least
// 2 (one series and the overflow series), as WithMaxSeriesPerInstrument
// requires.
func (l *LimitsConfig) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"max_instruments", int64(l.MaxInstruments)},
		{"max_series", int64(l.MaxSeries)},
		{"max_series_per_instrument", int64(l.MaxSeriesPerInstrument)},
		{"max_histogram_series", int64(l.MaxHistogramSeries)},
		{"max_memory", l.MaxMemory},
		{"max_reserved_series", int64(l.MaxReservedSeries)},
		{"max_attribute_bytes", int64(l.MaxAttributeBytes)},
		{"max_sample_weight", int64(l.MaxSampleWeight)},
		{"max_datagram_weight", int64(l.MaxDatagramWeight)},
		{"max_line_length", int64(l.MaxLineLength)},
		{"max_datagram_size", int64(l.MaxDatagramSize)},
		{"tcp_max_connections", int64(l.TCPMaxConnections)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("limits: %s %d: must not be negative (0 keeps the default)", f.name, f.v))
		}
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"reclaim_idle", l.ReclaimIdle}, {"tcp_idle_timeout", l.TCPIdleTimeout}} {
		if f.d < 0 {
			errs = append(errs, fmt.Errorf("limits: %s %v: must not be negative (0 keeps the default)", f.name, f.d))
		}
	}
	if l.ReclaimIdle > 0 && l.ReclaimIdle < time.Second {
		errs = append(errs, fmt.Errorf("limits: reclaim_idle %v: want at least 1s, or 0 for the default %v", l.ReclaimIdle, otelbridge.DefaultReclaimIdle))
	}
	if l.MaxSeriesPerInstrument == 1 {
		errs = append(errs, fmt.Errorf("limits: max_series_per_instrument 1: want at least 2 (one series and the overflow series), or 0 for the default %d",
			otelbridge.DefaultMaxSeriesPerInstrument))
	}
	return errors.Join(errs...)
}

// cardinalityLimit is the cardinality limit of the receiver's own SDK
// MeterProvider: at least max_series_per_instrument, so that the bridge's
// limit is the one reached first, counted (receiver_gunicorn_series_overflow)
// and logged, and never under the SDK's default (2000, the bridge's too), so
// that the watcher's instruments, which the bridge does not bound, keep
// theirs.
func (l *LimitsConfig) cardinalityLimit() int {
	return max(l.MaxSeriesPerInstrument, otelbridge.DefaultMaxSeriesPerInstrument)
}

// options returns the bridge options of the limits that are set.
func (l *LimitsConfig) options() []otelbridge.Option {
	var opts []otelbridge.Option
	for _, o := range []struct {
		n   int
		opt func(int) otelbridge.Option
	}{
		{l.MaxInstruments, otelbridge.WithMaxInstruments},
		{l.MaxSeries, otelbridge.WithMaxSeries},
		{l.MaxSeriesPerInstrument, otelbridge.WithMaxSeriesPerInstrument},
		{l.MaxHistogramSeries, otelbridge.WithMaxHistogramSeries},
		{l.MaxReservedSeries, otelbridge.WithMaxReservedSeries},
		{l.MaxAttributeBytes, otelbridge.WithMaxAttributeBytes},
		{l.MaxSampleWeight, otelbridge.WithMaxSampleWeight},
		{l.MaxDatagramWeight, otelbridge.WithMaxDatagramWeight},
	} {
		if o.n > 0 {
			opts = append(opts, o.opt(o.n))
		}
	}
	if l.MaxMemory > 0 {
		opts = append(opts, otelbridge.WithMaxMemory(l.MaxMemory))
	}
	if l.ReclaimIdle > 0 {
		opts = append(opts, otelbridge.WithReclaimIdle(l.ReclaimIdle))
	}
	return opts
}

// server sets the StatsD server's limits that are set (zero fields keep the
// server's defaults).
func (l *LimitsConfig) server(srv *statsd.Server) {
	srv.MaxDatagramSize = l.MaxDatagramSize
	srv.MaxConns = l.TCPMaxConnections
	srv.IdleTimeout = l.TCPIdleTimeout
}

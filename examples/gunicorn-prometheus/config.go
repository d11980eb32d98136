package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"

	"github.com/gunicornotel/gunicornotel/internal/watchopt"
	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/procwatch"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// programName is the name kingpin prints in usage and errors.
const programName = "gunicorn-prometheus"

// Histogram aggregations --otel.histogram accepts.
const (
	histExplicit    = "explicit"
	histExponential = "exponential"
)

// Defaults of the program's own limits (the library's are in statsd and
// otelbridge).
const (
	defaultRelayQueue           = 1024
	defaultWebMaxConnections    = 512
	defaultWebMaxRequests       = 40
	defaultWebReadHeaderTimeout = 10 * time.Second
	defaultWebReadTimeout       = 30 * time.Second
	defaultWebWriteTimeout      = 60 * time.Second
	defaultWebIdleTimeout       = 60 * time.Second
)

// config is what the command line says. Its zero value is not useful: use
// parseFlags, which fills in the defaults.
type config struct {
	// statsd_exporter's flags, with its meaning.
	webListen       string
	enableLifecycle bool
	telemetryPath   string
	listenUDP       string
	listenTCP       string
	listenUnixgram  string
	socketMode      os.FileMode
	mappingConfig   string
	mappingStrict   bool
	readBuffer      int
	cacheSize       int
	checkConfig     bool
	dogstatsdTags   bool
	influxdbTags    bool
	libratoTags     bool
	signalfxTags    bool
	relayAddr       string
	relayPacketLen  int
	logLevel        string // debug, info, warn or error
	logFormat       string // logfmt or json

	// The program's own flags.
	prefixKey       string
	histogram       string
	gunicornProfile bool
	telemetryNames  string // both, statsd_exporter or gunicornotel (exporter_metrics.go)
	dialect         string // --statsd.dialect: statsd_exporter or default

	// The Gunicorn watcher (procwatch): on when one of watchPIDFile,
	// watchPID and watchDiscover is set.
	watchPIDFile     string
	watchPID         int
	watchDiscover    bool
	watchInterval    time.Duration
	watchApp         string // the prefix attribute's value on the watcher's series; "": the master's --statsd-prefix
	watch            watchopt.Settings
	maxInstruments   int
	maxSeries        int
	cardinalityLimit int
	// The bridge's other limits (otelbridge's With... options of the same names).
	maxHistogramSeries int
	maxReservedSeries  int
	maxAttributeBytes  int
	maxMemory          int64
	maxSampleWeight    int
	maxDatagramWeight  int
	reclaimIdle        time.Duration
	maxLineLength      int
	maxDatagramSize    int
	tcpMaxConns        int
	tcpIdleTimeout     time.Duration
	relayQueue         int

	webMaxConns          int
	webMaxRequests       int
	webReadHeaderTimeout time.Duration
	webReadTimeout       time.Duration
	webWriteTimeout      time.Duration
	webIdleTimeout       time.Duration
	webScrapeTimeout     time.Duration

	// noEffect lists the statsd_exporter flags set to a value other than
	// their default that change nothing here, to be logged once the logger
	// exists.
	noEffect []noEffectFlag
}

// noEffectFlag is a statsd_exporter flag given a non-default value that has
// no effect in this program, and why.
type noEffectFlag struct {
	Flag, Value, Why string
}

// usageError is an error in the command line: main suggests --help.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// errExit is returned by parseFlags after --help or --version printed what
// was asked: the program ends with status 0 without doing anything else.
var errExit = errors.New("exit after --help or --version")

// parseFlags parses args (without the program name) the way statsd_exporter
// parses its command line (kingpin: --flag=value or --flag value, --[no-]
// booleans, -h), into a config. --help and --version print to stdout and
// return errExit. Errors are usageErrors, kingpin's with its own words.
func parseFlags(args []string, stdout, stderr io.Writer) (*config, error) {
	c := new(config)
	app := kingpin.New(programName, "Receives StatsD traffic (Gunicorn's and any other) and serves it to Prometheus "+
		"through OpenTelemetry: a drop-in replacement for statsd_exporter. See README.md.")
	exited := false
	app.Terminate(func(int) { exited = true })
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.HelpFlag.Short('h')

	// statsd_exporter v0.31.0's flags, in its order, with its types and
	// defaults.
	app.Flag("web.listen-address", "Address of the web server: the metrics, /-/healthy, /-/ready.").
		Default(":9102").StringVar(&c.webListen)
	app.Flag("web.enable-lifecycle", "Serve POST or PUT /-/reload (reload the mapping file) and /-/quit (shut down gracefully).").
		Default("false").BoolVar(&c.enableLifecycle)
	app.Flag("web.telemetry-path", "Path of the metrics.").Default("/metrics").StringVar(&c.telemetryPath)
	app.Flag("statsd.listen-udp", `UDP address on which to receive StatsD lines. "" disables it.`).
		Default(":9125").StringVar(&c.listenUDP)
	app.Flag("statsd.listen-tcp", `TCP address on which to receive StatsD lines, one a line. "" disables it.`).
		Default(":9125").StringVar(&c.listenTCP)
	app.Flag("statsd.listen-unixgram", `Unix datagram socket path on which to receive StatsD lines. "" disables it.`).
		Default("").StringVar(&c.listenUnixgram)
	mode := app.Flag("statsd.unixsocket-mode", "Permission (octal) of the Unix datagram socket file.").Default("755").String()
	app.Flag("statsd.mapping-config", "statsd_exporter mapping file; reloaded on SIGHUP. Without it, the built-in Gunicorn profile.").
		StringVar(&c.mappingConfig)
	app.Flag("statsd.mapping-strict", "Refuse a mapping file with anything statsd_exporter only tolerates (a reference to a capture the match lacks, an empty bucket list, a ttl without a unit, a reserved label): by default such a file loads and each is logged as a warning.").
		BoolVar(&c.mappingStrict)
	app.Flag("statsd.read-buffer", "Receive buffer (SO_RCVBUF) of the UDP and Unixgram sockets in bytes; 0 asks for 8 MiB, negative leaves the system default. Linux caps it at net.core.rmem_max.").
		IntVar(&c.readBuffer)
	app.Flag("statsd.cache-size", "StatsD series whose mapping is cached.").Default("1000").IntVar(&c.cacheSize)
	cacheType := app.Flag("statsd.cache-type", "Accepted for statsd_exporter compatibility: lru or random. The cache here evicts at random.").
		Default("lru").Enum("lru", "random")
	eventQueueSize := app.Flag("statsd.event-queue-size", "Accepted for statsd_exporter compatibility; no effect (no event queue).").
		Default("10000").Uint()
	eventFlushThreshold := app.Flag("statsd.event-flush-threshold", "Accepted for statsd_exporter compatibility; no effect (no event queue).").
		Default("1000").Int()
	eventFlushInterval := app.Flag("statsd.event-flush-interval", "Accepted for statsd_exporter compatibility; no effect (no event queue).").
		Default("200ms").Duration()
	dumpFSM := app.Flag("debug.dump-fsm", "Accepted for statsd_exporter compatibility; no effect (no FSM to dump).").
		Default("").String()
	app.Flag("check-config", "Check the flags and the mapping file, print a summary and exit.").
		Default("false").BoolVar(&c.checkConfig)
	app.Flag("statsd.parse-dogstatsd-tags", "Read DogStatsD tags (|#k:v). --no-statsd.parse-dogstatsd-tags ignores them.").
		Default("true").BoolVar(&c.dogstatsdTags)
	app.Flag("statsd.parse-influxdb-tags", "InfluxDB tags (name,k=v): not read by this build; see README.md.").
		Default("true").BoolVar(&c.influxdbTags)
	app.Flag("statsd.parse-librato-tags", "Librato tags (name#k=v): not read by this build; see README.md.").
		Default("true").BoolVar(&c.libratoTags)
	app.Flag("statsd.parse-signalfx-tags", "SignalFX tags (name[k=v]): not read by this build; see README.md.").
		Default("true").BoolVar(&c.signalfxTags)
	app.Flag("statsd.relay.address", `UDP address (host:port) to which every valid line is forwarded. "" disables the relay.`).
		StringVar(&c.relayAddr)
	relayPacketLen := app.Flag("statsd.relay.packet-length", "Largest relayed datagram in bytes: lines are batched up to it.").
		Default("1400").Uint()
	udpQueue := app.Flag("statsd.udp-packet-queue-size", "Accepted for statsd_exporter compatibility; no effect (datagrams wait in the socket buffer: see --statsd.read-buffer).").
		Default("10000").Int()
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)

	// The program's own flags.
	app.Flag("otel.prefix-key", `Label that carries Gunicorn's --statsd-prefix under the built-in profile. "" drops it.`).
		Default(mapper.DefaultPrefixKey).StringVar(&c.prefixKey)
	app.Flag("otel.histogram", "Histogram aggregation: explicit (classic _bucket series) or exponential (native histograms).").
		Default(histExplicit).EnumVar(&c.histogram, histExplicit, histExponential)
	app.Flag("gunicorn.profile", "Without a mapping file, name Gunicorn's own metrics with the built-in profile (gunicorn_requests_total, ...). --no-gunicorn.profile gives statsd_exporter's names for them too.").
		Default("true").BoolVar(&c.gunicornProfile)
	app.Flag("statsd.dialect", "How lines are read where StatsD servers differ: statsd_exporter (as statsd_exporter v0.31.0 reads them: "+
		"a sample rate that is not a number or is 0 read as 1, a bad |T ignored, both counted in gunicornotel_lines_forgiven_total; "+
		"multi-metric lines; the container id as the label container_id; packed values only for timers, histograms and distributions) "+
		"or default (the library's: such rates and timestamps reject the line; packed values of every type; unknown sections skipped). See README.md.").
		Default(dialectStatsdExporter).EnumVar(&c.dialect, dialectStatsdExporter, dialectDefault)
	app.Flag("telemetry.names", "Names of the program's own metrics: both (gunicornotel_* and statsd_exporter's, for its dashboards and alerts), statsd_exporter (statsd_exporter_* only) or gunicornotel (gunicornotel_* only). See README.md.").
		Default(telemetryBoth).EnumVar(&c.telemetryNames, telemetryBoth, telemetryStatsdExporter, telemetryGunicornotel)
	app.Flag("gunicorn.pid-file", "Watch the Gunicorn master whose pid is in this file (Gunicorn's --pid) through /proc: busy and idle workers, utilization, restarts, memory, CPU, the accept queue. Followed across restarts and USR2 upgrades. Linux only.").
		PlaceHolder("PATH").StringVar(&c.watchPIDFile)
	app.Flag("gunicorn.pid", "Watch the Gunicorn master with this process id (as --gunicorn.pid-file).").
		PlaceHolder("N").IntVar(&c.watchPID)
	app.Flag("gunicorn.discover", "Watch the Gunicorn master found by its command line or title (as --gunicorn.pid-file).").
		BoolVar(&c.watchDiscover)
	app.Flag("gunicorn.sample-interval", "How often the watcher samples Gunicorn's workers.").
		Default(procwatch.DefaultSampleInterval.String()).DurationVar(&c.watchInterval)
	app.Flag("gunicorn.app", "The value of the --otel.prefix-key label on the watcher's series: Gunicorn's --statsd-prefix (trailing dots trimmed), so that they sit beside its StatsD series. Default: read from the master's own --statsd-prefix, whose --dogstatsd-tags become labels too.").
		PlaceHolder("PREFIX").StringVar(&c.watchApp)
	app.Flag("gunicorn.worker-class", watchopt.Plain(watchopt.HelpWorkerClass)).
		PlaceHolder("CLASS").StringVar(&c.watch.WorkerClass)
	app.Flag("gunicorn.threads", watchopt.Plain(watchopt.HelpThreads)).
		PlaceHolder("N").SetValue(watchopt.Named("--gunicorn.threads", watchopt.IntValue(&c.watch.Threads)))
	app.Flag("gunicorn.worker-connections", watchopt.Plain(watchopt.HelpWorkerConnections)).
		PlaceHolder("N").SetValue(watchopt.Named("--gunicorn.worker-connections", watchopt.IntValue(&c.watch.WorkerConnections)))
	app.Flag("gunicorn.timeout", watchopt.Plain(watchopt.HelpTimeout)).
		PlaceHolder("DURATION").SetValue(watchopt.Named("--gunicorn.timeout", watchopt.DurationValue(&c.watch.Timeout)))
	app.Flag("gunicorn.pid-attribute", watchopt.Plain(watchopt.HelpPIDAttribute)).
		BoolVar(&c.watch.PIDAttribute)
	app.Flag("otel.max-instruments", "Most distinct metric names; samples of a new name over it are rejected (reason name_limit).").
		Default(strconv.Itoa(otelbridge.DefaultMaxInstruments)).IntVar(&c.maxInstruments)
	app.Flag("otel.max-series", "Most series (label sets) over all metrics; new ones over it go to their metric's overflow series.").
		Default(strconv.Itoa(otelbridge.DefaultMaxSeries)).IntVar(&c.maxSeries)
	app.Flag("otel.cardinality-limit", `Most label sets per metric; new ones over it go to one series labelled otel_metric_overflow="true".`).
		Default(strconv.Itoa(otelbridge.DefaultMaxSeriesPerInstrument)).IntVar(&c.cardinalityLimit)
	app.Flag("otel.max-histogram-series", "Most series of generic histograms and timers, over all their metrics (the SDK never forgets a histogram's series); new ones over it go to the overflow series.").
		Default(strconv.Itoa(otelbridge.DefaultMaxHistogramSeries)).IntVar(&c.maxHistogramSeries)
	app.Flag("otel.max-reserved-series", "Most series of Gunicorn's own metrics (the built-in profile), kept apart so that no other traffic can crowd them out.").
		Default(strconv.Itoa(otelbridge.DefaultMaxReservedSeries)).IntVar(&c.maxReservedSeries)
	app.Flag("otel.max-attribute-bytes", "Most bytes of label names and values in one series; a series over it is rejected (reason attribute_bytes).").
		Default(strconv.Itoa(otelbridge.DefaultMaxAttributeBytes)).IntVar(&c.maxAttributeBytes)
	app.Flag("otel.max-memory", "Most memory for series state and one scrape of it (e.g. 256MiB); new series over it are rejected (reason memory_limit). It is also the Go runtime's soft memory limit (64MiB at least), unless GOMEMLIMIT is set.").
		Default(strconv.FormatInt(otelbridge.DefaultMaxMemory>>20, 10) + "MiB").BytesVar((*units.Base2Bytes)(&c.maxMemory))
	app.Flag("otel.max-sample-weight", "Most a sampled counter or timer line counts for (1/rate is capped to it).").
		Default(strconv.Itoa(otelbridge.DefaultMaxSampleWeight)).IntVar(&c.maxSampleWeight)
	app.Flag("otel.max-datagram-weight", "Most extra histogram observations the sample rates of one datagram may add.").
		Default(strconv.Itoa(otelbridge.DefaultMaxDatagramWeight)).IntVar(&c.maxDatagramWeight)
	app.Flag("otel.reclaim-idle", "When a series limit is nearly reached, series idle this long are forgotten to make room.").
		Default(otelbridge.DefaultReclaimIdle.String()).DurationVar(&c.reclaimIdle)
	app.Flag("statsd.max-line-length", "Longest StatsD line in bytes; longer ones are rejected (reason too_long). It bounds each TCP connection's buffer.").
		Default(strconv.Itoa(statsd.DefaultMaxLineLength)).IntVar(&c.maxLineLength)
	app.Flag("statsd.max-datagram-size", "Largest datagram read whole, in bytes; longer ones are rejected (reason too_long). Each reader holds 64 of them.").
		Default(strconv.Itoa(statsd.DefaultMaxDatagramSize)).IntVar(&c.maxDatagramSize)
	app.Flag("statsd.tcp-max-connections", "Most StatsD TCP connections open at once; a new one over it closes the one idle longest.").
		Default(strconv.Itoa(statsd.DefaultMaxConns)).IntVar(&c.tcpMaxConns)
	app.Flag("statsd.tcp-idle-timeout", "How long a StatsD TCP connection may send nothing before it is closed; 0 means no timeout.").
		Default(statsd.DefaultIdleTimeout.String()).DurationVar(&c.tcpIdleTimeout)
	app.Flag("statsd.relay.queue-size", "Relay datagrams waiting to be sent; when it is full, lines are dropped and counted instead of slowing intake.").
		Default(strconv.Itoa(defaultRelayQueue)).IntVar(&c.relayQueue)
	app.Flag("web.max-connections", "Most HTTP connections open at once; over it the longest idle one is closed to admit a new one.").
		Default(strconv.Itoa(defaultWebMaxConnections)).IntVar(&c.webMaxConns)
	app.Flag("web.max-requests", "Most scrapes served at once; more get 503. 0 means no limit.").
		Default(strconv.Itoa(defaultWebMaxRequests)).IntVar(&c.webMaxRequests)
	app.Flag("web.read-header-timeout", "Time to read a request's headers.").
		Default(defaultWebReadHeaderTimeout.String()).DurationVar(&c.webReadHeaderTimeout)
	app.Flag("web.read-timeout", "Time to read a whole request.").
		Default(defaultWebReadTimeout.String()).DurationVar(&c.webReadTimeout)
	app.Flag("web.write-timeout", "Time to write a response, from the end of the request headers.").
		Default(defaultWebWriteTimeout.String()).DurationVar(&c.webWriteTimeout)
	app.Flag("web.idle-timeout", "Time a keep-alive connection may wait for its next request.").
		Default(defaultWebIdleTimeout.String()).DurationVar(&c.webIdleTimeout)
	app.Flag("web.scrape-timeout", "Time a scrape may take before it is answered 503 instead; 0 means none (a timeout buffers each response whole).").
		Default("0s").DurationVar(&c.webScrapeTimeout)

	app.Version(version.Print(programName))

	if _, err := app.Parse(args); err != nil {
		if exited {
			return nil, errExit
		}
		return nil, usageError{err}
	}
	if exited {
		return nil, errExit
	}
	c.logLevel, c.logFormat = logConfig.Level.String(), logConfig.Format.String()
	c.relayPacketLen = clampUint(*relayPacketLen)

	// statsd_exporter flags that do nothing here, when set to anything but
	// their default.
	noEffect := func(set bool, flag, value, why string) {
		if set {
			c.noEffect = append(c.noEffect, noEffectFlag{Flag: "--" + flag, Value: value, Why: why})
		}
	}
	const noQueue = "no event queue: samples are recorded as they are read"
	noEffect(*cacheType != "lru", "statsd.cache-type", *cacheType, "the mapping cache evicts at random, whatever the type")
	noEffect(*eventQueueSize != 10000, "statsd.event-queue-size", strconv.FormatUint(uint64(*eventQueueSize), 10), noQueue)
	noEffect(*eventFlushThreshold != 1000, "statsd.event-flush-threshold", strconv.Itoa(*eventFlushThreshold), noQueue)
	noEffect(*eventFlushInterval != 200*time.Millisecond, "statsd.event-flush-interval", eventFlushInterval.String(), noQueue)
	noEffect(*dumpFSM != "", "debug.dump-fsm", *dumpFSM, "the mapper has no FSM to dump")
	noEffect(*udpQueue != 10000, "statsd.udp-packet-queue-size", strconv.Itoa(*udpQueue),
		"no packet queue: datagrams wait in the socket's receive buffer (--statsd.read-buffer)")

	var errs []error
	m, err := strconv.ParseUint(*mode, 8, 32)
	switch {
	case err == nil && m <= 0o777:
		c.socketMode = os.FileMode(m)
	case c.listenUnixgram != "":
		errs = append(errs, fmt.Errorf("--statsd.unixsocket-mode %q: not an octal permission such as 755", *mode))
	default:
		// statsd_exporter ignores a bad mode (with a warning); without a
		// Unix socket it means nothing here either.
		noEffect(true, "statsd.unixsocket-mode", *mode, "not an octal permission, and there is no --statsd.listen-unixgram")
		c.socketMode = 0o755
	}
	if c.cardinalityLimit < 2 {
		errs = append(errs, fmt.Errorf("--otel.cardinality-limit %d: want at least 2", c.cardinalityLimit))
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"otel.max-instruments", c.maxInstruments},
		{"otel.max-series", c.maxSeries},
		{"otel.max-histogram-series", c.maxHistogramSeries},
		{"otel.max-reserved-series", c.maxReservedSeries},
		{"otel.max-attribute-bytes", c.maxAttributeBytes},
		{"otel.max-sample-weight", c.maxSampleWeight},
		{"statsd.max-line-length", c.maxLineLength},
		{"statsd.max-datagram-size", c.maxDatagramSize},
		{"statsd.tcp-max-connections", c.tcpMaxConns},
		{"statsd.relay.queue-size", c.relayQueue},
		{"web.max-connections", c.webMaxConns},
	} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("--%s %d: want at least 1", f.name, f.v))
		}
	}
	if c.webMaxRequests < 0 {
		errs = append(errs, fmt.Errorf("--web.max-requests %d: want 0 (no limit) or more", c.webMaxRequests))
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"web.read-header-timeout", c.webReadHeaderTimeout},
		{"web.read-timeout", c.webReadTimeout},
		{"web.write-timeout", c.webWriteTimeout},
		{"web.idle-timeout", c.webIdleTimeout},
		{"web.scrape-timeout", c.webScrapeTimeout},
		{"statsd.tcp-idle-timeout", c.tcpIdleTimeout},
	} {
		if f.d < 0 {
			errs = append(errs, fmt.Errorf("--%s %v: must not be negative", f.name, f.d))
		}
	}
	if c.relayAddr != "" && c.relayPacketLen < 2 {
		errs = append(errs, fmt.Errorf("--statsd.relay.packet-length %d: want at least 2 (a line and its newline)", c.relayPacketLen))
	}
	if c.cacheSize < 1 {
		// statsd_exporter's 0 turns its cache off; the smallest cache is
		// the closest.
		c.cacheSize = 1
	}
	if !strings.HasPrefix(c.telemetryPath, "/") {
		errs = append(errs, fmt.Errorf("--web.telemetry-path %q: must start with /", c.telemetryPath))
	}
	if c.listenUDP == "" && c.listenTCP == "" && c.listenUnixgram == "" {
		errs = append(errs, errors.New("no StatsD listener: --statsd.listen-udp, --statsd.listen-tcp and --statsd.listen-unixgram are all empty"))
	}
	if c.webListen == "" {
		errs = append(errs, errors.New("--web.listen-address is empty"))
	}
	if err := c.watch.Check(watchopt.FlagNames("--gunicorn."), c.watching()); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// clampUint returns v as an int, at most the largest int.
func clampUint(v uint) int {
	if v > uint(^uint(0)>>1) {
		return int(^uint(0) >> 1)
	}
	return int(v)
}

// statsdAddrs returns the addresses to give statsd.Server.Start, in the order
// UDP, TCP, Unixgram, with the kind of each; empty ones are left out.
func (c *config) statsdAddrs() (kinds, addrs []string) {
	if c.listenUDP != "" {
		kinds, addrs = append(kinds, "udp"), append(addrs, "udp://"+c.listenUDP)
	}
	if c.listenTCP != "" {
		kinds, addrs = append(kinds, "tcp"), append(addrs, "tcp://"+c.listenTCP)
	}
	if c.listenUnixgram != "" {
		kinds, addrs = append(kinds, "unixgram"), append(addrs, "unixgram://"+c.listenUnixgram)
	}
	return kinds, addrs
}

// The functions below turn the flags into the library's settings: the one
// place where a new option of statsd, mapper or otelbridge is wired to a flag.

// The values of --statsd.dialect.
const (
	dialectStatsdExporter = "statsd_exporter" // statsd.DialectStatsdExporter
	dialectDefault        = "default"         // statsd.DialectDefault
)

// parser returns the StatsD parser the flags describe, for the server and
// the bridge's HandleDatagram: the tag formats of --[no-]statsd.parse-*-tags,
// the dialect of --statsd.dialect, and, as statsd_exporter, a line with both
// name-embedded tags and a DogStatsD section is rejected (mixed_tags) in
// either dialect.
func (c *config) parser() statsd.Parser {
	d := statsd.DialectStatsdExporter
	if c.dialect == dialectDefault {
		d = statsd.DialectDefault
	}
	return statsd.Parser{
		Dialect:         d,
		MaxLineLength:   c.maxLineLength,
		NoDogStatsDTags: !c.dogstatsdTags,
		NoInfluxDBTags:  !c.influxdbTags,
		NoLibratoTags:   !c.libratoTags,
		NoSignalFXTags:  !c.signalfxTags,
		RejectMixedTags: true,
	}
}

// statsdSocketMode is the statsd.Server SocketMode for --statsd.unixsocket-mode:
// exactly the mode asked for, 000 included (os.ModeSocket alone; a zero
// SocketMode would mean the library's default). An abstract socket ("@name")
// has no file and no permissions: the flag does not apply to it.
func (c *config) statsdSocketMode() os.FileMode {
	if strings.HasPrefix(c.listenUnixgram, "@") {
		return 0
	}
	return os.ModeSocket | c.socketMode
}

// statsdIdleTimeout is the statsd.Server IdleTimeout for
// --statsd.tcp-idle-timeout, whose 0 means no timeout (the field's zero
// means its default).
func (c *config) statsdIdleTimeout() time.Duration {
	if c.tcpIdleTimeout == 0 {
		return -1
	}
	return c.tcpIdleTimeout
}

// server returns the StatsD server the flags describe, without its Handler.
func (c *config) server(log *slog.Logger) *statsd.Server {
	return &statsd.Server{
		ReadBufferSize:  c.readBuffer,
		MaxDatagramSize: c.maxDatagramSize,
		Parser:          c.parser(),
		MaxConns:        c.tcpMaxConns,
		IdleTimeout:     c.statsdIdleTimeout(),
		SocketMode:      c.statsdSocketMode(),
		ErrorLog:        log,
	}
}

// mapperOptions returns the options of the library mapper that maps names the
// Gunicorn profile does not claim: the mapping file's rules, if any, and the
// generic rules (no profile: profileOptions has it).
//
// Both drop bare DogStatsD tags (#canary, #env:), as statsd_exporter does.
func (c *config) mapperOptions(rules *mapper.Rules, log *slog.Logger) []mapper.Option {
	return []mapper.Option{
		mapper.WithRules(rules),
		mapper.WithoutGunicornProfile(),
		mapper.WithCacheSize(c.cacheSize),
		mapper.WithDropBareTags(),
		mapper.WithLogger(log),
	}
}

// profileOptions returns the options of the mapper of the built-in Gunicorn
// profile, which claims Gunicorn's own names and drops everything else (for
// the other mapper to map).
func (c *config) profileOptions(log *slog.Logger) []mapper.Option {
	return []mapper.Option{
		mapper.WithPrefixKey(c.prefixKey),
		mapper.WithCacheSize(c.cacheSize),
		mapper.WithDropUnmatched(),
		mapper.WithDropBareTags(),
		mapper.WithLogger(log),
	}
}

// rulesOptions returns how the mapping file is read: as statsd_exporter
// reads it (what it tolerates is loaded, with a warning), or with
// --statsd.mapping-strict, refused on any warning.
func (c *config) rulesOptions() []mapper.RulesOption {
	if c.mappingStrict {
		return []mapper.RulesOption{mapper.StrictRules()}
	}
	return nil
}

// watching reports whether the flags turn the Gunicorn watcher on.
func (c *config) watching() bool {
	return c.watchPIDFile != "" || c.watchPID != 0 || c.watchDiscover
}

// watcherOptions returns the options of the Gunicorn watcher the flags
// describe; procwatch.New checks them (one master, a positive interval), and
// parseFlags the settings of Gunicorn's.
func (c *config) watcherOptions(log *slog.Logger) []procwatch.Option {
	opts := []procwatch.Option{procwatch.WithSampleInterval(c.watchInterval), procwatch.WithLogger(log)}
	if c.watchPIDFile != "" {
		opts = append(opts, procwatch.WithPIDFile(c.watchPIDFile))
	}
	if c.watchPID != 0 {
		opts = append(opts, procwatch.WithPID(c.watchPID))
	}
	if c.watchDiscover {
		opts = append(opts, procwatch.WithDiscover())
	}
	opts = append(opts, c.watch.Options()...)
	return append(opts, watchopt.PrefixOptions(c.prefixKey, c.watchApp, c.dogstatsdTags)...)
}

// useProfile reports whether the built-in Gunicorn profile names Gunicorn's
// own metrics: only without a mapping file, and unless --no-gunicorn.profile.
func (c *config) useProfile() bool { return c.gunicornProfile && c.mappingConfig == "" }

// bridgeOptions returns the bridge's options (its mapper aside).
func (c *config) bridgeOptions() []otelbridge.Option {
	return []otelbridge.Option{
		otelbridge.WithMaxInstruments(c.maxInstruments),
		otelbridge.WithMaxSeries(c.maxSeries),
		otelbridge.WithMaxSeriesPerInstrument(c.cardinalityLimit),
		otelbridge.WithMaxHistogramSeries(c.maxHistogramSeries),
		otelbridge.WithMaxReservedSeries(c.maxReservedSeries),
		otelbridge.WithMaxAttributeBytes(c.maxAttributeBytes),
		otelbridge.WithMaxMemory(c.maxMemory),
		otelbridge.WithMaxSampleWeight(c.maxSampleWeight),
		otelbridge.WithMaxDatagramWeight(c.maxDatagramWeight),
		otelbridge.WithReclaimIdle(c.reclaimIdle),
		otelbridge.WithParser(c.parser()),
	}
}

// shutdownTimeout bounds the graceful shutdown: draining the StatsD sockets,
// then finishing the HTTP requests in flight.
const shutdownTimeout = 10 * time.Second

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

	"github.com/gunicornotel/gunicornotel/examples/internal/wiring"
	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
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
	readBuffer      int
	cacheSize       int
	checkConfig     bool
	relayAddr       string
	relayPacketLen  int

	// The settings the forwarder takes too, with the same flags: the log
	// and the mapping file (statsd_exporter's flags), the prefix key, the
	// Gunicorn watcher, the bridge's and the StatsD server's limits.
	wiring.Settings

	// The program's own flags.
	histogram       string
	gunicornProfile bool
	telemetryNames  string // both, statsd_exporter or gunicornotel (exporter_metrics.go)

	relayQueue int

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
type usageError = wiring.UsageError

// errExit is returned by parseFlags after --help or --version printed what
// was asked: the program ends with status 0 without doing anything else.
var errExit = wiring.ErrExit

// parseFlags parses args (without the program name) the way statsd_exporter
// parses its command line (kingpin: --flag=value or --flag value, --[no-]
// booleans, -h), into a config. --help and --version print to stdout and
// return errExit. Errors are usageErrors, kingpin's with its own words.
func parseFlags(args []string, stdout, stderr io.Writer) (*config, error) {
	c := new(config)
	app := wiring.NewCommandLine(programName, "Receives StatsD traffic (Gunicorn's and any other) and serves it to Prometheus "+
		"through OpenTelemetry: a drop-in replacement for statsd_exporter. See README.md.", stdout, stderr)

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
	c.Mapping.Register(app.Application)
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
	c.Parsing.Dialect = wiring.DialectStatsdExporter // a drop-in reads lines as statsd_exporter does
	c.Parsing.Register(app.Application)
	app.Flag("statsd.relay.address", `UDP address (host:port) to which every valid line is forwarded. "" disables the relay.`).
		StringVar(&c.relayAddr)
	relayPacketLen := app.Flag("statsd.relay.packet-length", "Largest relayed datagram in bytes: lines are batched up to it.").
		Default("1400").Uint()
	udpQueue := app.Flag("statsd.udp-packet-queue-size", "Accepted for statsd_exporter compatibility; no effect (datagrams wait in the socket buffer: see --statsd.read-buffer).").
		Default("10000").Int()
	c.Log.Register(app.Application)

	// The program's own flags.
	c.RegisterPrefixKey(app.Application)
	app.Flag("otel.histogram", "Histogram aggregation: explicit (classic _bucket series) or exponential (native histograms).").
		Default(histExplicit).EnumVar(&c.histogram, histExplicit, histExponential)
	app.Flag("gunicorn.profile", "Without a mapping file, name Gunicorn's own metrics with the built-in profile (gunicorn_requests_total, ...). --no-gunicorn.profile gives statsd_exporter's names for them too.").
		Default("true").BoolVar(&c.gunicornProfile)
	app.Flag("telemetry.names", "Names of the program's own metrics: both (gunicornotel_* and statsd_exporter's, for its dashboards and alerts), statsd_exporter (statsd_exporter_* only) or gunicornotel (gunicornotel_* only). See README.md.").
		Default(telemetryBoth).EnumVar(&c.telemetryNames, telemetryBoth, telemetryStatsdExporter, telemetryGunicornotel)
	c.Watch.Register(app.Application)
	c.Limits.Register(app.Application)
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

	if err := app.Parse(args); err != nil {
		return nil, err
	}
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
	errs = append(errs, wiring.AtLeastOne(
		wiring.IntOf("statsd.relay.queue-size", c.relayQueue),
		wiring.IntOf("web.max-connections", c.webMaxConns),
	)...)
	if c.webMaxRequests < 0 {
		errs = append(errs, fmt.Errorf("--web.max-requests %d: want 0 (no limit) or more", c.webMaxRequests))
	}
	errs = append(errs, wiring.NotNegative(
		wiring.DurationOf("web.read-header-timeout", c.webReadHeaderTimeout),
		wiring.DurationOf("web.read-timeout", c.webReadTimeout),
		wiring.DurationOf("web.write-timeout", c.webWriteTimeout),
		wiring.DurationOf("web.idle-timeout", c.webIdleTimeout),
		wiring.DurationOf("web.scrape-timeout", c.webScrapeTimeout),
	)...)
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
	if err := c.Settings.Check(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, usageError{Err: err}
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

// parser returns the StatsD parser the flags describe, for the server and
// the bridge's HandleDatagram: the tag formats of --[no-]statsd.parse-*-tags,
// the dialect of --statsd.dialect (statsd_exporter's by default), and, as
// statsd_exporter, a line with both name-embedded tags and a DogStatsD
// section is rejected (mixed_tags) in either dialect.
func (c *config) parser() statsd.Parser {
	p := c.Parsing.Parser(c.Limits.MaxLineLength)
	p.RejectMixedTags = true
	return p
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

// server returns the StatsD server the flags describe, without its Handler.
func (c *config) server(log *slog.Logger) *statsd.Server {
	srv := c.Limits.Server(c.parser(), log)
	srv.ReadBufferSize = c.readBuffer
	srv.SocketMode = c.statsdSocketMode()
	return srv
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
		mapper.WithPrefixKey(c.PrefixKey),
		mapper.WithCacheSize(c.cacheSize),
		mapper.WithDropUnmatched(),
		mapper.WithDropBareTags(),
		mapper.WithLogger(log),
	}
}

// useProfile reports whether the built-in Gunicorn profile names Gunicorn's
// own metrics: only without a mapping file, and unless --no-gunicorn.profile.
func (c *config) useProfile() bool { return c.gunicornProfile && c.Mapping.File == "" }

// bridgeOptions returns the bridge's options (its mapper aside), with log
// as the logger that says when a limit dropped data.
func (c *config) bridgeOptions(log *slog.Logger) []otelbridge.Option {
	return append(c.Limits.BridgeOptions(log), otelbridge.WithParser(c.parser()))
}

// shutdownTimeout bounds the graceful shutdown: draining the StatsD sockets,
// then finishing the HTTP requests in flight.
const shutdownTimeout = 10 * time.Second

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
)

// Histogram aggregations --otel.histogram accepts.
const (
	histExplicit    = "explicit"
	histExponential = "exponential"
)

// config is what the command line says. Its zero value is not useful: use
// parseFlags, which fills in the defaults.
type config struct {
	listenUDP      string
	listenTCP      string
	listenUnixgram string
	socketMode     os.FileMode
	mappingConfig  string
	readBuffer     int
	cacheSize      int

	webListen     string
	telemetryPath string

	logLevel  slog.Level
	logFormat string

	prefixKey        string
	histogram        string
	cardinalityLimit int

	checkConfig bool

	// ignored lists the statsd_exporter flags that were set but have no
	// effect here, to be logged once the logger exists.
	ignored []string
}

// statsd_exporter flags accepted for compatibility and ignored: they tune its
// event queue, cache policy and tag dialects, which have no counterpart here.
var ignoredFlags = []struct{ name, usage string }{
	{"statsd.cache-type", "Accepted for statsd_exporter compatibility; ignored (the mapper cache evicts at random)."},
	{"statsd.event-queue-size", "Accepted for statsd_exporter compatibility; ignored (no event queue: samples are recorded as they are read)."},
	{"statsd.event-flush-threshold", "Accepted for statsd_exporter compatibility; ignored."},
	{"statsd.event-flush-interval", "Accepted for statsd_exporter compatibility; ignored."},
	{"statsd.parse-dogstatsd-tags", "Accepted for statsd_exporter compatibility; DogStatsD tags are always parsed."},
	{"statsd.parse-influxdb-tags", "Accepted for statsd_exporter compatibility; ignored (InfluxDB tags are not parsed)."},
	{"statsd.parse-librato-tags", "Accepted for statsd_exporter compatibility; ignored (Librato tags are not parsed)."},
	{"statsd.parse-signalfx-tags", "Accepted for statsd_exporter compatibility; ignored (SignalFX tags are not parsed)."},
}

// parseFlags parses args (without the program name) into a config. Usage and
// errors go to stderr; -h gives flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := new(config)
	fs := flag.NewFlagSet("gunicorn-prometheus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gunicorn-prometheus [flags]\n\n"+
			"Receives Gunicorn's StatsD traffic and serves it to Prometheus through OpenTelemetry.\n"+
			"Flags take one or two dashes: -web.listen-address=:9102 or --web.listen-address=:9102.\n\n")
		fs.PrintDefaults()
	}

	fs.StringVar(&c.listenUDP, "statsd.listen-udp", ":9125", "The UDP `address` on which to receive statsd metric lines. \"\" disables it.")
	fs.StringVar(&c.listenTCP, "statsd.listen-tcp", ":9125", "The TCP `address` on which to receive statsd metric lines. \"\" disables it.")
	fs.StringVar(&c.listenUnixgram, "statsd.listen-unixgram", "", "The Unixgram socket `path` to receive statsd metric lines in datagram. \"\" disables it.")
	mode := fs.String("statsd.unixsocket-mode", "755", "The permission `mode` (octal) of the unix socket.")
	fs.StringVar(&c.mappingConfig, "statsd.mapping-config", "", "statsd_exporter metric mapping configuration `file`; reloaded on SIGHUP. Without it, the built-in Gunicorn profile.")
	fs.IntVar(&c.readBuffer, "statsd.read-buffer", 0, "Size in `bytes` of the receive buffer of the UDP and Unixgram sockets (capped by net.core.rmem_max). 0 asks for 8 MiB; negative leaves the system default.")
	fs.IntVar(&c.cacheSize, "statsd.cache-size", 1000, "Maximum `number` of StatsD series whose mapping is cached (at least 1).")
	fs.StringVar(&c.webListen, "web.listen-address", ":9102", "The `address` on which to expose the web interface and generated Prometheus metrics.")
	fs.StringVar(&c.telemetryPath, "web.telemetry-path", "/metrics", "`Path` under which to expose metrics.")
	level := fs.String("log.level", "info", "Only log messages with the given severity or above: debug, info, warn, error.")
	fs.StringVar(&c.logFormat, "log.format", "logfmt", "Output `format` of log messages: logfmt or json.")
	fs.BoolVar(&c.checkConfig, "check-config", false, "Check the configuration (flags and mapping file) and exit.")

	fs.StringVar(&c.prefixKey, "otel.prefix-key", mapper.DefaultPrefixKey, "Attribute (label) `key` that carries Gunicorn's --statsd-prefix. \"\" drops it.")
	fs.StringVar(&c.histogram, "otel.histogram", histExplicit, "Histogram `aggregation`: explicit (classic _bucket series) or exponential (base-2 exponential, served as Prometheus native histograms).")
	fs.IntVar(&c.cardinalityLimit, "otel.cardinality-limit", otelbridge.DefaultMaxSeriesPerInstrument, "Most label sets (`series`) per metric; more go to one series labelled otel_metric_overflow=\"true\".")

	ignored := make(map[string]*string, len(ignoredFlags))
	for _, f := range ignoredFlags {
		ignored[f.name] = fs.String(f.name, "", f.usage)
	}

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: every setting is a flag", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) {
		if _, ok := ignored[f.Name]; ok {
			c.ignored = append(c.ignored, f.Name)
		}
	})

	var errs []error
	m, err := strconv.ParseUint(*mode, 8, 32)
	if err != nil || m > 0o777 {
		errs = append(errs, fmt.Errorf("--statsd.unixsocket-mode %q: not an octal permission such as 755", *mode))
	} else {
		c.socketMode = os.FileMode(m)
	}
	if err := c.logLevel.UnmarshalText([]byte(*level)); err != nil {
		errs = append(errs, fmt.Errorf("--log.level %q: want debug, info, warn or error", *level))
	}
	switch c.logFormat {
	case "logfmt", "json":
	default:
		errs = append(errs, fmt.Errorf("--log.format %q: want logfmt or json", c.logFormat))
	}
	switch c.histogram {
	case histExplicit, histExponential:
	default:
		errs = append(errs, fmt.Errorf("--otel.histogram %q: want %s or %s", c.histogram, histExplicit, histExponential))
	}
	if c.cardinalityLimit < 2 {
		errs = append(errs, fmt.Errorf("--otel.cardinality-limit %d: want at least 2", c.cardinalityLimit))
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
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
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

// shutdownTimeout bounds the graceful shutdown: draining the StatsD sockets,
// then finishing the HTTP requests in flight.
const shutdownTimeout = 10 * time.Second

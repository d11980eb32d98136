package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/examples/internal/wiring"
	"github.com/gunicornotel/gunicornotel/internal/watchopt"
)

// defaultConfig is what parseFlags gives with no arguments.
var defaultConfig = config{
	webListen:       ":9102",
	telemetryPath:   "/metrics",
	listenUDP:       ":9125",
	listenTCP:       ":9125",
	socketMode:      0o755,
	cacheSize:       1000,
	relayPacketLen:  1400,
	histogram:       histExplicit,
	gunicornProfile: true,
	telemetryNames:  telemetryBoth,
	Settings: wiring.Settings{
		Log: wiring.Log{Level: "info", Format: "logfmt"},
		Parsing: wiring.Parsing{DogStatsDTags: true, InfluxDBTags: true, LibratoTags: true, SignalFXTags: true,
			Dialect: wiring.DialectStatsdExporter},
		PrefixKey: "app",
		Watch:     wiring.Watch{Target: watchopt.Target{Interval: 100 * time.Millisecond}},
		Limits: wiring.Limits{
			MaxInstruments:     2000,
			MaxSeries:          100_000,
			CardinalityLimit:   2000,
			MaxHistogramSeries: 10_000,
			MaxReservedSeries:  5000,
			MaxAttributeBytes:  4096,
			MaxMemory:          256 << 20,
			MaxSampleWeight:    1000,
			MaxDatagramWeight:  10_000,
			ReclaimIdle:        10 * time.Minute,
			MaxLineLength:      8192,
			MaxDatagramSize:    65535,
			TCPMaxConns:        1024,
			TCPIdleTimeout:     10 * time.Minute,
		},
	},
	relayQueue:           1024,
	webMaxConns:          512,
	webMaxRequests:       40,
	webReadHeaderTimeout: 10 * time.Second,
	webReadTimeout:       30 * time.Second,
	webWriteTimeout:      time.Minute,
	webIdleTimeout:       time.Minute,
}

func TestParseFlagsDefaults(t *testing.T) {
	c, err := parseFlags(nil, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*c, defaultConfig) {
		t.Errorf("defaults:\n got %+v\nwant %+v", *c, defaultConfig)
	}
	kinds, addrs := c.statsdAddrs()
	if !reflect.DeepEqual(kinds, []string{"udp", "tcp"}) || !reflect.DeepEqual(addrs, []string{"udp://:9125", "tcp://:9125"}) {
		t.Errorf("statsdAddrs: %v %v", kinds, addrs)
	}
	if !c.useProfile() {
		t.Error("no profile by default")
	}
}

// statsdExporterCommandLine is a command line statsd_exporter v0.31.0 accepts,
// with every one of its flags, in the forms kingpin takes: --flag=value,
// --flag value, --no-flag.
var statsdExporterCommandLine = []string{
	"--web.listen-address=127.0.0.1:0",
	"--web.enable-lifecycle",
	"--web.telemetry-path", "/prom",
	"--statsd.listen-udp=127.0.0.1:0",
	"--statsd.listen-tcp=",
	"--statsd.listen-unixgram=/tmp/x.sock",
	"--statsd.unixsocket-mode=660",
	"--statsd.mapping-config", "m.yml",
	"--statsd.read-buffer=1048576",
	"--statsd.cache-size=0",
	"--statsd.cache-type=random",
	"--statsd.event-queue-size=5000",
	"--statsd.event-flush-threshold=100",
	"--statsd.event-flush-interval=1s",
	"--debug.dump-fsm=/tmp/fsm.dot",
	"--no-check-config",
	"--no-statsd.parse-dogstatsd-tags",
	"--no-statsd.parse-influxdb-tags",
	"--statsd.parse-librato-tags",
	"--no-statsd.parse-signalfx-tags",
	"--statsd.relay.address=127.0.0.1:8125",
	"--statsd.relay.packet-length=512",
	"--statsd.udp-packet-queue-size=20000",
	"--log.level=debug",
	"--log.format=json",
}

func TestParseFlagsStatsdExporter(t *testing.T) {
	c, err := parseFlags(statsdExporterCommandLine, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig
	want.webListen = "127.0.0.1:0"
	want.enableLifecycle = true
	want.telemetryPath = "/prom"
	want.listenUDP = "127.0.0.1:0"
	want.listenTCP = ""
	want.listenUnixgram = "/tmp/x.sock"
	want.socketMode = 0o660
	want.Mapping.File = "m.yml"
	want.readBuffer = 1 << 20
	want.cacheSize = 1
	want.Parsing.DogStatsDTags = false
	want.Parsing.InfluxDBTags = false
	want.Parsing.SignalFXTags = false
	want.relayAddr = "127.0.0.1:8125"
	want.relayPacketLen = 512
	want.Log.Level = "debug"
	want.Log.Format = "json"
	const noQueue = "no event queue: samples are recorded as they are read"
	want.noEffect = []noEffectFlag{
		{"--statsd.cache-type", "random", "the mapping cache evicts at random, whatever the type"},
		{"--statsd.event-queue-size", "5000", noQueue},
		{"--statsd.event-flush-threshold", "100", noQueue},
		{"--statsd.event-flush-interval", "1s", noQueue},
		{"--debug.dump-fsm", "/tmp/fsm.dot", "the mapper has no FSM to dump"},
		{"--statsd.udp-packet-queue-size", "20000", "no packet queue: datagrams wait in the socket's receive buffer (--statsd.read-buffer)"},
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("parsed:\n got %+v\nwant %+v", *c, want)
	}
	kinds, addrs := c.statsdAddrs()
	if !reflect.DeepEqual(kinds, []string{"udp", "unixgram"}) ||
		!reflect.DeepEqual(addrs, []string{"udp://127.0.0.1:0", "unixgram:///tmp/x.sock"}) {
		t.Errorf("statsdAddrs: %v %v", kinds, addrs)
	}
	if c.useProfile() {
		t.Error("the profile is on with a mapping file")
	}
}

func TestParseFlagsOwn(t *testing.T) {
	c, err := parseFlags([]string{
		"--otel.prefix-key=service",
		"--otel.histogram=exponential",
		"--no-gunicorn.profile",
		"--otel.max-instruments=5000",
		"--otel.max-series=7",
		"--otel.cardinality-limit=50",
		"--statsd.max-line-length=100",
		"--statsd.max-datagram-size=1500",
		"--statsd.tcp-max-connections=3",
		"--statsd.relay.queue-size=9",
		"--web.max-connections=20",
		"--web.max-requests=0",
		"--web.read-header-timeout=1s",
		"--web.read-timeout=2s",
		"--web.write-timeout=3s",
		"--web.idle-timeout=4s",
		"--web.scrape-timeout=5s",
		"--otel.max-histogram-series=11",
		"--otel.max-reserved-series=12",
		"--otel.max-attribute-bytes=13",
		"--otel.max-memory=64MiB",
		"--otel.max-sample-weight=14",
		"--otel.max-datagram-weight=0",
		"--otel.reclaim-idle=2m",
		"--statsd.tcp-idle-timeout=0",
		"--statsd.mapping-strict",
		"--statsd.dialect=default",
	}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig
	want.PrefixKey = "service"
	want.histogram = histExponential
	want.gunicornProfile = false
	want.Limits.MaxInstruments = 5000
	want.Limits.MaxSeries = 7
	want.Limits.CardinalityLimit = 50
	want.Limits.MaxLineLength = 100
	want.Limits.MaxDatagramSize = 1500
	want.Limits.TCPMaxConns = 3
	want.relayQueue = 9
	want.webMaxConns = 20
	want.webMaxRequests = 0
	want.webReadHeaderTimeout = time.Second
	want.webReadTimeout = 2 * time.Second
	want.webWriteTimeout = 3 * time.Second
	want.webIdleTimeout = 4 * time.Second
	want.webScrapeTimeout = 5 * time.Second
	want.Limits.MaxHistogramSeries = 11
	want.Limits.MaxReservedSeries = 12
	want.Limits.MaxAttributeBytes = 13
	want.Limits.MaxMemory = 64 << 20
	want.Limits.MaxSampleWeight = 14
	want.Limits.MaxDatagramWeight = 0
	want.Limits.ReclaimIdle = 2 * time.Minute
	want.Limits.TCPIdleTimeout = 0
	want.Mapping.Strict = true
	want.Parsing.Dialect = wiring.DialectDefault
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("parsed:\n got %+v\nwant %+v", *c, want)
	}
	if c.useProfile() {
		t.Error("the profile is on with --no-gunicorn.profile")
	}
	srv := c.server(nil)
	if srv.Parser.MaxLineLength != 100 || srv.MaxDatagramSize != 1500 || srv.MaxConns != 3 || srv.SocketMode != os.ModeSocket|0o755 || srv.IdleTimeout >= 0 {
		t.Errorf("server settings %+v", srv)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		// kingpin's own errors, as statsd_exporter reports them.
		{[]string{"--no-such-flag"}, "unknown long flag '--no-such-flag'"},
		{[]string{"-web.listen-address=:1"}, "unknown short flag '-w'"},
		{[]string{"serve"}, "unexpected serve"},
		{[]string{"--statsd.cache-type=fifo"}, "enum value must be one of lru,random, got 'fifo'"},
		{[]string{"--statsd.event-queue-size=-1"}, `strconv.ParseUint: parsing "-1": invalid syntax`},
		{[]string{"--statsd.event-flush-interval=soon"}, `time: invalid duration "soon"`},
		{[]string{"--statsd.read-buffer=big"}, `parsing "big": invalid syntax`},
		{[]string{"--log.level=loud"}, "unrecognized log level loud"},
		{[]string{"--log.format=xml"}, "unrecognized log format xml"},
		{[]string{"--web.enable-lifecycle=yes"}, "unexpected yes"},
		// Ours.
		{[]string{"--statsd.listen-unixgram=/tmp/s", "--statsd.unixsocket-mode=rw"}, `--statsd.unixsocket-mode "rw": not an octal permission`},
		{[]string{"--statsd.listen-unixgram=/tmp/s", "--statsd.unixsocket-mode=1777"}, `--statsd.unixsocket-mode "1777"`},
		{[]string{"--otel.histogram=summary"}, "enum value must be one of explicit,exponential, got 'summary'"},
		{[]string{"--statsd.dialect=lenient"}, "enum value must be one of statsd_exporter,default, got 'lenient'"},
		{[]string{"--otel.cardinality-limit=1"}, "--otel.cardinality-limit 1: want at least 2"},
		{[]string{"--otel.max-instruments=0"}, "--otel.max-instruments 0: want at least 1"},
		{[]string{"--web.max-connections=0"}, "--web.max-connections 0: want at least 1"},
		{[]string{"--web.max-requests=-1"}, "--web.max-requests -1: want 0 (no limit) or more"},
		{[]string{"--web.idle-timeout=-1s"}, "--web.idle-timeout -1s: must not be negative"},
		{[]string{"--statsd.relay.address=127.0.0.1:1", "--statsd.relay.packet-length=1"}, "--statsd.relay.packet-length 1: want at least 2"},
		{[]string{"--web.telemetry-path=metrics"}, `--web.telemetry-path "metrics": must start with /`},
		{[]string{"--statsd.listen-udp=", "--statsd.listen-tcp="}, "no StatsD listener"},
		{[]string{"--web.listen-address="}, "--web.listen-address is empty"},
		// The watcher's settings of Gunicorn's (internal/watchopt checks them).
		{[]string{"--gunicorn.discover", "--gunicorn.threads=0"}, "--gunicorn.threads 0: want at least 1"},
		{[]string{"--gunicorn.discover", "--gunicorn.threads=four"}, `--gunicorn.threads "four": not a whole number`},
		{[]string{"--gunicorn.discover", "--gunicorn.worker-connections=-5"}, "--gunicorn.worker-connections -5: want at least 1"},
		{[]string{"--gunicorn.discover", "--gunicorn.timeout=1500ms"}, "--gunicorn.timeout 1.5s: want a whole number of seconds, 0s (no timeout) or more"},
		{[]string{"--gunicorn.discover", "--gunicorn.timeout=-1s"}, "--gunicorn.timeout -1s: want a whole number of seconds"},
		{[]string{"--gunicorn.discover", "--gunicorn.timeout=30"}, `--gunicorn.timeout "30": not a duration such as 30s`},
		{[]string{"--gunicorn.discover", "--gunicorn.worker-class=gthred"}, `--gunicorn.worker-class "gthred": not a worker class Gunicorn knows`},
		{[]string{"--gunicorn.timeout=10s", "--gunicorn.pid-attribute"},
			"--gunicorn.timeout, --gunicorn.pid-attribute: set the Gunicorn watcher, which is off: give --gunicorn.pid-file, --gunicorn.pid or --gunicorn.discover too"},
	} {
		_, err := parseFlags(tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.args, err, tc.want)
		}
	}
}

func TestParseFlagsWatcher(t *testing.T) {
	c, err := parseFlags([]string{
		"--gunicorn.pid-file=/run/gunicorn.pid",
		"--gunicorn.worker-class=gthread",
		"--gunicorn.threads=4",
		"--gunicorn.worker-connections", "50",
		"--gunicorn.timeout=0s",
		"--gunicorn.pid-attribute",
	}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	threads, conns, timeout := 4, 50, time.Duration(0)
	want := defaultConfig
	want.Watch.PIDFile = "/run/gunicorn.pid"
	want.Watch.Gunicorn = watchopt.Settings{WorkerClass: "gthread", Threads: &threads, WorkerConnections: &conns, Timeout: &timeout, PIDAttribute: true}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("parsed:\n got %+v\nwant %+v", *c, want)
	}
}

// TestParseFlagsBadModeWithoutSocket: statsd_exporter accepts a bad
// --statsd.unixsocket-mode (it warns); without a Unix socket it means nothing
// here either, so it is accepted and logged.
func TestParseFlagsBadModeWithoutSocket(t *testing.T) {
	c, err := parseFlags([]string{"--statsd.unixsocket-mode=rw"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.noEffect) != 1 || c.noEffect[0].Flag != "--statsd.unixsocket-mode" {
		t.Errorf("noEffect %+v", c.noEffect)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		_, err := parseFlags(args, &stdout, &stderr)
		if !errors.Is(err, errExit) {
			t.Errorf("%q: %v, want errExit", args, err)
		}
		out := stdout.String()
		if args[0] == "--version" {
			if !strings.HasPrefix(out, "gunicorn-prometheus, version") {
				t.Errorf("--version printed %q", out)
			}
		} else {
			// statsd_exporter's flags are all there, booleans with --[no-].
			for _, f := range []string{"--[no-]web.enable-lifecycle", "--statsd.relay.address", "--[no-]statsd.parse-influxdb-tags",
				"--statsd.udp-packet-queue-size=10000", "--log.level=info", "--[no-]version", "-h, --[no-]help",
				"--web.max-connections=512", "--otel.max-instruments=2000", "--otel.max-memory=256MiB",
				"--gunicorn.worker-class=CLASS", "--gunicorn.threads=N", "--gunicorn.worker-connections=N",
				"--gunicorn.timeout=DURATION", "--[no-]gunicorn.pid-attribute"} {
				if !strings.Contains(out, f) {
					t.Errorf("%q: usage lacks %s:\n%s", args, f, out)
				}
			}
		}
		if stderr.Len() != 0 {
			t.Errorf("%q: stderr %q", args, stderr.String())
		}
	}
	// run returns errExit too, having started nothing.
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--version"}, &out, io.Discard, func(listenAddrs) { t.Error("ready") }); !errors.Is(err, errExit) {
		t.Errorf("run --version: %v", err)
	}
}

// TestNoEffectFlagsLogged: a statsd_exporter flag set to a non-default value
// that means nothing here is logged once at start.
func TestNoEffectFlagsLogged(t *testing.T) {
	a := newTestApp(t, "--statsd.event-flush-interval=1s", "--debug.dump-fsm=/tmp/x.dot")
	logs := a.logs.String()
	for _, f := range []string{"flag=--statsd.event-flush-interval value=1s", "flag=--debug.dump-fsm value=/tmp/x.dot"} {
		if strings.Count(logs, f) != 1 {
			t.Errorf("%q logged %d times:\n%s", f, strings.Count(logs, f), logs)
		}
	}
	if strings.Contains(logs, "statsd.cache-type") {
		t.Errorf("a flag at its default is logged:\n%s", logs)
	}
}

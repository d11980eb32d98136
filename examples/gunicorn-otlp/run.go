package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/gunicornotel/gunicornotel/internal/watchopt"
	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/procwatch"
)

// errUsage wraps a command-line error the flag package has already reported.
var errUsage = errors.New("usage")

// config is what the command line says.
type config struct {
	listen          string        // StatsD address, as otelbridge.Listen takes it
	interval        time.Duration // 0: OTEL_METRIC_EXPORT_INTERVAL or the SDK's 60s
	shutdownTimeout time.Duration // bound on draining and the final export
	prefixKey       string        // attribute carrying Gunicorn's --statsd-prefix

	// The Gunicorn watcher (procwatch), on when one of pidFile, pid and
	// discover is set.
	gunicornPIDFile  string
	gunicornPID      int
	gunicornDiscover bool
	gunicornInterval time.Duration
	gunicornApp      string // the prefix attribute's value on the watcher's series; "": the master's --statsd-prefix
	gunicorn         watchopt.Settings
}

// watching reports whether the flags turn the Gunicorn watcher on.
func (c *config) watching() bool {
	return c.gunicornPIDFile != "" || c.gunicornPID != 0 || c.gunicornDiscover
}

// watcherOptions are the procwatch options the flags give.
func (c *config) watcherOptions(log *slog.Logger) []procwatch.Option {
	opts := []procwatch.Option{
		procwatch.WithSampleInterval(c.gunicornInterval),
		procwatch.WithLogger(log),
	}
	switch {
	case c.gunicornPIDFile != "":
		opts = append(opts, procwatch.WithPIDFile(c.gunicornPIDFile))
	case c.gunicornPID != 0:
		opts = append(opts, procwatch.WithPID(c.gunicornPID))
	default:
		opts = append(opts, procwatch.WithDiscover())
	}
	opts = append(opts, c.gunicorn.Options()...)
	return append(opts, watchopt.PrefixOptions(c.prefixKey, c.gunicornApp, true)...)
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := new(config)
	fs := flag.NewFlagSet("gunicorn-otlp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: gunicorn-otlp [flags]\n\n"+
			"Receives Gunicorn's StatsD traffic and exports it over OTLP (HTTP or gRPC).\n"+
			"The exporter follows the OTEL_EXPORTER_OTLP_* environment variables;\n"+
			"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL chooses\n"+
			"grpc or http/protobuf (the default).\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.listen, "statsd.listen", "udp://:8125",
		"StatsD `address` to receive Gunicorn's metrics on: udp://host:port, tcp://host:port or unix:/path (unixgram).")
	fs.DurationVar(&c.interval, "export.interval", 0,
		"Export every `interval`. 0 uses OTEL_METRIC_EXPORT_INTERVAL (milliseconds), else 60s.")
	fs.DurationVar(&c.shutdownTimeout, "shutdown.timeout", 30*time.Second,
		"On SIGTERM/SIGINT, the longest `time` to drain the socket and export one last time.")
	fs.StringVar(&c.prefixKey, "prefix-key", mapper.DefaultPrefixKey,
		"Attribute `key` that carries Gunicorn's --statsd-prefix. \"\" drops it.")
	fs.StringVar(&c.gunicornPIDFile, "gunicorn.pid-file", "",
		"Watch the Gunicorn master whose pid is in this `file` (Gunicorn's --pid), followed across restarts and USR2 upgrades. Linux only.")
	fs.IntVar(&c.gunicornPID, "gunicorn.pid", 0,
		"Watch the Gunicorn master with this process `id`. Linux only.")
	fs.BoolVar(&c.gunicornDiscover, "gunicorn.discover", false,
		"Watch the Gunicorn master found by its command line or title (the oldest, if several). Linux only.")
	fs.DurationVar(&c.gunicornInterval, "gunicorn.sample-interval", procwatch.DefaultSampleInterval,
		"How often the watcher samples Gunicorn's workers (`interval`).")
	fs.StringVar(&c.gunicornApp, "gunicorn.app", "",
		"The `value` of the -prefix-key attribute on the watcher's series: Gunicorn's --statsd-prefix (trailing dots trimmed), "+
			"so that they sit beside its StatsD series. Default: read from the master's own --statsd-prefix, "+
			"whose --dogstatsd-tags become attributes too.")
	fs.StringVar(&c.gunicorn.WorkerClass, "gunicorn.worker-class", "", watchopt.HelpWorkerClass)
	fs.Var(watchopt.IntValue(&c.gunicorn.Threads), "gunicorn.threads", watchopt.HelpThreads)
	fs.Var(watchopt.IntValue(&c.gunicorn.WorkerConnections), "gunicorn.worker-connections", watchopt.HelpWorkerConnections)
	fs.Var(watchopt.DurationValue(&c.gunicorn.Timeout), "gunicorn.timeout", watchopt.HelpTimeout)
	fs.BoolVar(&c.gunicorn.PIDAttribute, "gunicorn.pid-attribute", false, watchopt.HelpPIDAttribute)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: every setting is a flag", fs.Arg(0))
	}
	if c.interval < 0 {
		return nil, fmt.Errorf("-export.interval %v: must not be negative", c.interval)
	}
	if c.shutdownTimeout <= 0 {
		return nil, fmt.Errorf("-shutdown.timeout %v: must be positive", c.shutdownTimeout)
	}
	if err := c.checkWatcher(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkWatcher checks the -gunicorn.* flags.
func (c *config) checkWatcher() error {
	n := 0
	for _, set := range []bool{c.gunicornPIDFile != "", c.gunicornPID != 0, c.gunicornDiscover} {
		if set {
			n++
		}
	}
	if n > 1 {
		return errors.New("-gunicorn.pid-file, -gunicorn.pid, -gunicorn.discover: give only one")
	}
	if c.gunicornPID < 0 {
		return fmt.Errorf("-gunicorn.pid %d: not a process id", c.gunicornPID)
	}
	if c.gunicornInterval <= 0 {
		return fmt.Errorf("-gunicorn.sample-interval %v: must be positive", c.gunicornInterval)
	}
	if err := c.gunicorn.Check(watchopt.FlagNames("-gunicorn."), c.watching()); err != nil {
		return err
	}
	// Gunicorn's --statsd-prefix as given, or as the mapper derives the
	// attribute from it: either way, the same value.
	c.gunicornApp = strings.TrimRight(c.gunicornApp, ".")
	if c.gunicornApp != "" {
		if !c.watching() {
			return errors.New("-gunicorn.app labels the watcher's series: give -gunicorn.pid-file, -gunicorn.pid or -gunicorn.discover too")
		}
		if c.prefixKey == "" {
			return fmt.Errorf("-gunicorn.app %q: -prefix-key is empty, so there is no attribute to carry it", c.gunicornApp)
		}
	}
	return nil
}

// Protocols, as OTEL_EXPORTER_OTLP_PROTOCOL names them.
const (
	protoGRPC = "grpc"
	protoHTTP = "http/protobuf"
)

// otlpProtocol returns the protocol the environment asks for: the
// metrics-specific variable first, then the general one, then http/protobuf,
// the default the specification sets.
func otlpProtocol() (string, error) {
	p := strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"))
	if p == "" {
		p = strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	switch p {
	case "", protoHTTP:
		return protoHTTP, nil
	case protoGRPC:
		return protoGRPC, nil
	}
	return "", fmt.Errorf("OTLP protocol %q: want %s or %s (http/json is not supported by the Go exporters)", p, protoGRPC, protoHTTP)
}

// newExporter returns the OTLP exporter for protocol. Both read the rest of
// their configuration (endpoint, headers, TLS, compression, timeout) from the
// OTEL_EXPORTER_OTLP_* environment variables.
func newExporter(ctx context.Context, protocol string) (sdkmetric.Exporter, error) {
	if protocol == protoGRPC {
		return otlpmetricgrpc.New(ctx)
	}
	return otlpmetrichttp.New(ctx)
}

// newResource describes this process: OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES win over the detected attributes.
func newResource(ctx context.Context) (*resource.Resource, error) {
	return resource.New(ctx,
		resource.WithService(), // service.name unknown_service:<exe>, service.instance.id
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(), // last, so that it wins
	)
}

// run forwards until ctx ends, then drains and exports one last time.
// ready, if not nil, is called with the bound StatsD address once it receives.
func run(ctx context.Context, args []string, log *slog.Logger, ready func(net.Addr)) error {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	protocol, err := otlpProtocol()
	if err != nil {
		return err
	}
	res, err := newResource(ctx)
	if errors.Is(err, resource.ErrPartialResource) || errors.Is(err, resource.ErrSchemaURLConflict) {
		log.Warn("resource", "err", err) // usable: some detector failed
	} else if err != nil {
		return fmt.Errorf("resource: %w", err)
	}
	exp, err := newExporter(ctx, protocol)
	if err != nil {
		return fmt.Errorf("OTLP exporter (%s): %w", protocol, err)
	}
	var readerOpts []sdkmetric.PeriodicReaderOption
	if cfg.interval > 0 {
		readerOpts = append(readerOpts, sdkmetric.WithInterval(cfg.interval))
	}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, readerOpts...)),
		// StatsD samples never carry a span context: no exemplars to take.
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter),
	)
	m, err := mapper.New(mapper.WithPrefixKey(cfg.prefixKey))
	if err != nil {
		mp.Shutdown(context.Background())
		return fmt.Errorf("mapper: %w", err)
	}
	var w *procwatch.Watcher
	if cfg.watching() {
		if w, err = newGunicornWatcher(cfg, mp, log); err != nil {
			mp.Shutdown(context.Background())
			return err
		}
	}
	recv, err := otelbridge.Listen(cfg.listen, mp, otelbridge.WithMapper(m))
	if err != nil {
		mp.Shutdown(context.Background())
		return fmt.Errorf("-statsd.listen %s: %w", cfg.listen, err)
	}
	log.Info("receiving StatsD", "addr", recv.Addr().Network()+"://"+recv.Addr().String(), "otlp.protocol", protocol)
	// The watcher runs until stopWatch, which the shutdown calls before the
	// final export.
	stopWatch := func() {}
	if w != nil {
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = w.Run(wctx) // errors only if already running
		}()
		stopWatch = func() {
			cancel()
			<-done // a pass takes milliseconds
			st := w.Stats()
			log.Info("Gunicorn watcher stopped", "passes", st.Passes, "up", st.Up, "master_pid", st.MasterPID,
				"workers", st.Workers, "busy_seconds", st.BusyTime, "restarts", st.Restarts, "errors", st.Errors)
		}
	}
	if ready != nil {
		ready(recv.Addr())
	}

	<-ctx.Done()
	log.Info("shutting down: draining the StatsD socket, then exporting one last time")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	// Stop reading and record everything already received ...
	var errs []error
	if err := recv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("StatsD shutdown: %w", err))
	}
	// ... stop sampling Gunicorn (its instruments keep reporting the last
	// pass) ...
	stopWatch()
	// ... then collect and export it. The MeterProvider's Shutdown makes the
	// periodic reader collect and export one last time, so the last datagrams
	// (and the bridge's own telemetry, still registered) and the watcher's
	// last pass leave now.
	if err := mp.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("final export: %w", err))
	}
	recv.Close()
	st := recv.Bridge().Stats()
	log.Info("stopped", "datagrams", st.Datagrams, "samples", st.Samples, "recorded", st.Recorded, "rejected", st.Rejected)
	return errors.Join(errs...)
}

// newWatcher makes the Gunicorn watcher; tests replace it.
var newWatcher = procwatch.New

// newGunicornWatcher makes the watcher the -gunicorn.* flags describe,
// recording into mp. On a system where procwatch cannot run (anything but
// Linux) it logs so and returns nil: the forwarder carries on with StatsD.
func newGunicornWatcher(cfg *config, mp metric.MeterProvider, log *slog.Logger) (*procwatch.Watcher, error) {
	w, err := newWatcher(mp, cfg.watcherOptions(log.With("component", "procwatch"))...)
	if errors.Is(err, errors.ErrUnsupported) {
		log.Warn("the Gunicorn watcher cannot run here; forwarding StatsD only", "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gunicorn watcher: %w", err)
	}
	what, which := "pid_file", any(cfg.gunicornPIDFile)
	switch {
	case cfg.gunicornPID != 0:
		what, which = "pid", cfg.gunicornPID
	case cfg.gunicornDiscover:
		what, which = "discover", true
	}
	log.Info("watching Gunicorn through /proc", what, which, "sample_interval", cfg.gunicornInterval,
		"app", cfg.gunicornApp)
	return w, nil
}

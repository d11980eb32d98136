package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/gunicornotel/gunicornotel/examples/internal/wiring"
	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/procwatch"
)

// programName is the name kingpin prints in usage and errors.
const programName = "gunicorn-otlp"

// config is what the command line says.
type config struct {
	listen          string        // StatsD address, as statsd.Server.Start takes it
	interval        time.Duration // 0: OTEL_METRIC_EXPORT_INTERVAL or the SDK's 60s
	shutdownTimeout time.Duration // bound on draining and the final export

	// The settings the daemon takes too (the log, the mapping file, the
	// limits, the Gunicorn watcher), with the same flags.
	wiring.Settings
}

// parseFlags parses args (without the program name) as kingpin does, as the
// daemon does: --flag=value or --flag value, --[no-]booleans, -h. The
// single-dash spelling of the flags of earlier versions (-statsd.listen, the
// flag package's) is still taken, and -prefix-key for --otel.prefix-key.
// --help and --version print to stdout and return wiring.ErrExit. Errors
// are wiring.UsageErrors.
func parseFlags(args []string, stdout, stderr io.Writer) (*config, error) {
	c := new(config)
	app := wiring.NewCommandLine(programName, "Receives Gunicorn's StatsD traffic and exports it over OTLP (HTTP or gRPC). "+
		"The exporter follows the OTEL_EXPORTER_OTLP_* environment variables; OTEL_EXPORTER_OTLP_METRICS_PROTOCOL or "+
		"OTEL_EXPORTER_OTLP_PROTOCOL chooses grpc or http/protobuf (the default). See README.md.", stdout, stderr)
	app.Flag("statsd.listen", "StatsD address to receive Gunicorn's metrics on: udp://host:port, tcp://host:port or unix:/path (unixgram).").
		Default("udp://:8125").StringVar(&c.listen)
	app.Flag("export.interval", "Export every interval. 0 uses OTEL_METRIC_EXPORT_INTERVAL (milliseconds), else 60s.").
		Default("0s").DurationVar(&c.interval)
	app.Flag("shutdown.timeout", "On SIGTERM/SIGINT, the longest time to drain the socket and export one last time.").
		Default("30s").DurationVar(&c.shutdownTimeout)
	c.Settings.Register(app.Application)
	app.Flag("prefix-key", "Former name of --otel.prefix-key.").Hidden().StringVar(&c.PrefixKey)

	if err := app.Parse(longFlags(app.Application, args)); err != nil {
		return nil, err
	}
	var errs []error
	if c.interval < 0 {
		errs = append(errs, fmt.Errorf("--export.interval %v: must not be negative", c.interval))
	}
	if c.shutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--shutdown.timeout %v: must be positive", c.shutdownTimeout))
	}
	if err := errors.Join(append(errs, c.Settings.Check())...); err != nil {
		return nil, wiring.UsageError{Err: err}
	}
	return c, nil
}

// longFlags returns args with the single-dash spelling of a long flag of
// app ("-statsd.listen", "-gunicorn.pid=7") made double-dash, as kingpin
// wants it; "--" ends the flags. Other arguments (values such as "-3",
// short flags such as -h) are left alone.
func longFlags(app *kingpin.Application, args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if app.GetFlag(strings.TrimPrefix(name, "no-")) != nil {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// mapperOptions returns the options of the mapper: the built-in Gunicorn
// profile without a mapping file, the file's rules instead of it with one
// (the daemon's semantics), the generic rules for the rest either way.
func (c *config) mapperOptions(rules *mapper.Rules, log *slog.Logger) []mapper.Option {
	opts := []mapper.Option{mapper.WithPrefixKey(c.PrefixKey), mapper.WithLogger(log)}
	if rules != nil {
		opts = append(opts, mapper.WithRules(rules), mapper.WithoutGunicornProfile())
	}
	return opts
}

// newMapper returns the mapper for rules (nil: no mapping file).
func (c *config) newMapper(rules *mapper.Rules, log *slog.Logger) (*mapper.Mapper, error) {
	m, err := mapper.New(c.mapperOptions(rules, log)...)
	if err != nil {
		return nil, fmt.Errorf("mapper: %w", err)
	}
	return m, nil
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

// run forwards until ctx ends, then drains and exports one last time; on
// SIGHUP it reloads the mapping file. It parses args, logs to stderr as
// --log.level and --log.format say, and prints --help and --version on
// stdout (then returns errExit). ready, if not nil, is called with the
// bound StatsD address once it receives.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(net.Addr)) (err error) {
	cfg, err := parseFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	log := cfg.Log.Logger(stderr)
	if setGlobal {
		wiring.SetGlobal(log)
	}
	defer wiring.LogError(log, &err)
	cfg.Limits.ApplyMemoryLimit(os.LookupEnv, setMemoryLimit, log)
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
	rules, err := cfg.Mapping.Load(log)
	if err != nil {
		return err
	}
	m, err := cfg.newMapper(rules, log)
	if err != nil {
		return err
	}
	exp, err := newExporter(ctx, protocol)
	if err != nil {
		return fmt.Errorf("OTLP exporter (%s): %w", protocol, err)
	}
	var readerOpts []sdkmetric.PeriodicReaderOption
	if cfg.interval > 0 {
		readerOpts = append(readerOpts, sdkmetric.WithInterval(cfg.interval))
	}
	mp := sdkmetric.NewMeterProvider(append(cfg.Limits.MeterProviderOptions(),
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, readerOpts...)),
		// StatsD samples never carry a span context: no exemplars to take.
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter),
	)...)
	defer mp.Shutdown(context.Background()) // after the final export: a no-op
	in, err := newIntake(cfg, mp, m, log)
	if err != nil {
		return err
	}
	defer in.Close()
	addrs, err := in.Start([]wiring.Listener{{Flag: "--statsd.listen", Addr: cfg.listen}})
	if err != nil {
		return err
	}
	log.Info("receiving StatsD", "addr", addrs[0].Network()+"://"+addrs[0].String(), "otlp.protocol", protocol,
		"mapping_config", cfg.Mapping.File)
	if ready != nil {
		ready(addrs[0])
	}

	for done := false; !done; {
		select {
		case <-in.HUP():
			log.Info("received SIGHUP, reloading the mapping config", "file", cfg.Mapping.File)
			_ = cfg.Mapping.Reload(log, func(rules *mapper.Rules) error { // logged
				m, err := cfg.newMapper(rules, log)
				if err == nil {
					in.Bridge.SetMapper(m)
				}
				return err
			})
		case <-ctx.Done():
			done = true
		}
	}
	log.Info("shutting down: draining the StatsD socket, then exporting one last time", "cause", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	// Stop reading and record everything already received, stop sampling
	// Gunicorn (its instruments keep reporting the last pass) ...
	var errs []error
	if err := in.Shutdown(sctx); err != nil {
		errs = append(errs, err)
	}
	// ... then collect and export it. The MeterProvider's Shutdown makes the
	// periodic reader collect and export one last time, so the last datagrams
	// (and the bridge's own telemetry, still registered) and the watcher's
	// last pass leave now.
	if err := mp.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("final export: %w", err))
	}
	return errors.Join(errs...)
}

// setGlobal says whether run makes its logger the process's (main sets it;
// the tests, which run several programs in one process, do not).
var setGlobal = false

// setMemoryLimit is debug.SetMemoryLimit; the tests, which share the
// process, replace it.
var setMemoryLimit = debug.SetMemoryLimit

// newWatcher makes the Gunicorn watcher; tests replace it.
var newWatcher wiring.NewWatcherFunc = procwatch.New

// newIntake makes the bridge recording into mp through m, with the limits,
// the StatsD server, and the watcher the --gunicorn.* flags describe.
func newIntake(cfg *config, mp *sdkmetric.MeterProvider, m *mapper.Mapper, log *slog.Logger) (*wiring.Intake, error) {
	srv := cfg.Limits.Server(cfg.Parsing.Parser(cfg.Limits.MaxLineLength), log)
	b, err := otelbridge.New(mp, append(cfg.Limits.BridgeOptions(log), otelbridge.WithParser(srv.Parser), otelbridge.WithMapper(m))...)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	w, err := cfg.Watch.NewWatcher(newWatcher, mp, log, cfg.Watch.Options(cfg.PrefixKey, true, log.With("component", "procwatch"))...)
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	in, err := wiring.NewIntake(mp, srv, b, w, log)
	if err != nil {
		_ = b.Close()
		_ = w.Close()
		return nil, err
	}
	return in, nil
}

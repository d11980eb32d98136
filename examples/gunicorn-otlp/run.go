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
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
)

// errUsage wraps a command-line error the flag package has already reported.
var errUsage = errors.New("usage")

// config is what the command line says.
type config struct {
	listen          string        // StatsD address, as otelbridge.Listen takes it
	interval        time.Duration // 0: OTEL_METRIC_EXPORT_INTERVAL or the SDK's 60s
	shutdownTimeout time.Duration // bound on draining and the final export
	prefixKey       string        // attribute carrying Gunicorn's --statsd-prefix
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
	return c, nil
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
	recv, err := otelbridge.Listen(cfg.listen, mp, otelbridge.WithMapper(m))
	if err != nil {
		mp.Shutdown(context.Background())
		return fmt.Errorf("-statsd.listen %s: %w", cfg.listen, err)
	}
	log.Info("receiving StatsD", "addr", recv.Addr().Network()+"://"+recv.Addr().String(), "otlp.protocol", protocol)
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
	// ... then collect and export it. The MeterProvider's Shutdown makes the
	// periodic reader collect and export one last time, so the last datagrams
	// (and the bridge's own telemetry, still registered) leave now.
	if err := mp.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("final export: %w", err))
	}
	recv.Close()
	st := recv.Bridge().Stats()
	log.Info("stopped", "datagrams", st.Datagrams, "samples", st.Samples, "recorded", st.Recorded, "rejected", st.Rejected)
	return errors.Join(errs...)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// Names of the program's own instruments (scope otelbridge.ScopeName), next to
// the bridge's and the server's.
const (
	metricReloads = "gunicornotel.exporter.config.reloads" // counter {reload}, attribute outcome=success|failure
	metricRules   = "gunicornotel.exporter.mapping.rules"  // gauge {rule}
)

// listenAddrs are the addresses the program bound, as strings: the ports the
// system chose for ":0" included. A disabled listener's address is "".
type listenAddrs struct {
	UDP, TCP, Unixgram string
	Web                string
}

// app is the running program: the StatsD receiver, the OpenTelemetry
// pipeline into a Prometheus registry, and the web server.
type app struct {
	cfg *config
	log *slog.Logger

	reg      *prometheus.Registry
	std, raw *sdkmetric.MeterProvider
	mp       metric.MeterProvider // routes between std and raw
	reloads  metric.Int64Counter
	rulesReg metric.Registration

	mu       sync.Mutex    // serialises reloads
	rules    *mapper.Rules // in use; nil without --statsd.mapping-config
	nrules   atomic.Int64
	initial  *mapper.Mapper
	recv     *otelbridge.Receiver
	web      *http.Server
	webLn    net.Listener
	webErr   chan error
	hup      chan os.Signal // SIGHUP, from start on
	addrs    listenAddrs
	ready    atomic.Bool
	shutOnce sync.Once
}

// newLogger returns the program's logger, writing to w as --log.format and
// --log.level say.
func newLogger(cfg *config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newApp loads the mapping file, if any, and builds the metric pipeline. It
// opens no socket: start does.
func newApp(cfg *config, logger *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: logger, reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	for _, name := range cfg.ignored {
		logger.Warn("flag accepted for statsd_exporter compatibility and ignored", "flag", "--"+name)
	}
	if cfg.mappingConfig != "" {
		if a.rules, err = mapper.LoadRules(cfg.mappingConfig); err != nil {
			return nil, fmt.Errorf("--statsd.mapping-config: %w", err)
		}
		a.nrules.Store(int64(a.rules.Len()))
	}
	if a.initial, err = a.newMapper(a.rules); err != nil {
		return nil, err
	}

	a.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if a.std, err = a.newMeterProvider(otlptranslator.UnderscoreEscapingWithSuffixes); err != nil {
		return nil, err
	}
	if a.raw, err = a.newMeterProvider(otlptranslator.UnderscoreEscapingWithoutSuffixes); err != nil {
		return nil, err
	}
	a.mp = &routingProvider{MeterProvider: a.std, raw: a.raw}

	m := a.std.Meter(otelbridge.ScopeName)
	if a.reloads, err = m.Int64Counter(metricReloads, metric.WithUnit("{reload}"),
		metric.WithDescription("Reloads of the mapping file (SIGHUP), by outcome.")); err != nil {
		return nil, fmt.Errorf("instrument %s: %w", metricReloads, err)
	}
	rules, err := m.Int64ObservableGauge(metricRules, metric.WithUnit("{rule}"),
		metric.WithDescription("Rules of the mapping file in use."))
	if err != nil {
		return nil, fmt.Errorf("instrument %s: %w", metricRules, err)
	}
	if a.rulesReg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(rules, a.nrules.Load())
		return nil
	}, rules); err != nil {
		return nil, fmt.Errorf("instrument %s: %w", metricRules, err)
	}
	return a, nil
}

// newMapper returns the mapper for rules (nil for the built-in profile only),
// as the flags configure it.
func (a *app) newMapper(rules *mapper.Rules) (*mapper.Mapper, error) {
	m, err := mapper.New(
		mapper.WithRules(rules),
		mapper.WithPrefixKey(a.cfg.prefixKey),
		mapper.WithCacheSize(a.cfg.cacheSize),
	)
	if err != nil {
		return nil, fmt.Errorf("mapper: %w", err)
	}
	return m, nil
}

// newMeterProvider returns a MeterProvider whose Prometheus exporter, with
// the given name translation, is registered in a.reg.
func (a *app) newMeterProvider(strategy otlptranslator.TranslationStrategyOption) (*sdkmetric.MeterProvider, error) {
	exp, err := otelprom.New(
		otelprom.WithRegisterer(a.reg),
		otelprom.WithTranslationStrategy(strategy),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter (%s): %w", strategy, err)
	}
	opts := []sdkmetric.Option{
		sdkmetric.WithReader(exp),
		sdkmetric.WithCardinalityLimit(a.cfg.cardinalityLimit),
		// StatsD samples never carry a span context: no exemplars to take.
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter),
	}
	if a.cfg.histogram == histExponential {
		opts = append(opts, sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}},
		)))
	}
	return sdkmetric.NewMeterProvider(opts...), nil
}

// start opens the StatsD listeners and the web listener, and serves StatsD.
// The web server is served by serve.
func (a *app) start() (err error) {
	kinds, addrs := a.cfg.statsdAddrs()
	srv := &statsd.Server{
		ReadBufferSize: a.cfg.readBuffer,
		SocketMode:     a.cfg.socketMode,
		ErrorLog:       a.log,
	}
	a.recv, err = otelbridge.Listen(addrs[0], a.mp,
		otelbridge.WithMapper(a.initial),
		otelbridge.WithServer(srv),
		otelbridge.WithMaxSeriesPerInstrument(a.cfg.cardinalityLimit),
		otelbridge.WithLogger(a.log),
	)
	if err != nil {
		return fmt.Errorf("--statsd.listen-%s %s: %w", kinds[0], addrs[0], err)
	}
	bound := []net.Addr{a.recv.Addr()}
	for i := 1; i < len(addrs); i++ {
		addr, err := srv.Start(addrs[i])
		if err != nil {
			return fmt.Errorf("--statsd.listen-%s %s: %w", kinds[i], addrs[i], err)
		}
		bound = append(bound, addr)
	}
	for i, k := range kinds {
		switch k {
		case "udp":
			a.addrs.UDP = bound[i].String()
		case "tcp":
			a.addrs.TCP = bound[i].String()
		case "unixgram":
			a.addrs.Unixgram = bound[i].String()
		}
	}

	a.webLn, err = net.Listen("tcp", a.cfg.webListen)
	if err != nil {
		return fmt.Errorf("--web.listen-address %s: %w", a.cfg.webListen, err)
	}
	a.addrs.Web = a.webLn.Addr().String()
	a.web = &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.webErr = make(chan error, 1)
	go func() { a.webErr <- a.web.Serve(a.webLn) }()
	// Catch SIGHUP before anyone can learn that we are up: from now on it
	// reloads instead of ending the process.
	a.hup = make(chan os.Signal, 1)
	signal.Notify(a.hup, syscall.SIGHUP)
	a.ready.Store(true)
	a.log.Info("accepting StatsD traffic", "udp", a.addrs.UDP, "tcp", a.addrs.TCP, "unixgram", a.addrs.Unixgram)
	a.log.Info("accepting Prometheus requests", "addr", a.addrs.Web, "path", a.cfg.telemetryPath,
		"mapping_config", a.cfg.mappingConfig)
	return nil
}

// promLogger adapts slog to promhttp's error log.
type promLogger struct{ log *slog.Logger }

// Println logs v as an error.
func (l promLogger) Println(v ...any) { l.log.Error("serving metrics", "err", fmt.Sprint(v...)) }

// handler returns the web interface: the metrics, /-/healthy, /-/ready and a
// landing page.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{a.log},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      a.reg,
	})
	mux.Handle(a.cfg.telemetryPath, promhttp.InstrumentMetricHandler(a.reg, metrics))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "Healthy.\n")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !a.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "Not ready.\n")
			return
		}
		_, _ = io.WriteString(w, "Ready.\n")
	})
	if a.cfg.telemetryPath != "/" {
		mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<html><head><title>Gunicorn StatsD to Prometheus</title></head><body>"+
				"<h1>Gunicorn StatsD to Prometheus</h1><p><a href=%q>Metrics</a></p></body></html>\n", a.cfg.telemetryPath)
		})
	}
	return mux
}

// serve reloads the mapping file on SIGHUP until ctx ends, then shuts down
// gracefully: it stops reading StatsD, records everything already read,
// and stops the web server.
func (a *app) serve(ctx context.Context) error {
	for {
		select {
		case <-a.hup:
			a.log.Info("received SIGHUP, reloading the mapping config", "file", a.cfg.mappingConfig)
			_ = a.reload() // logged
		case err := <-a.webErr:
			a.webErr <- err // for shutdown
			return errors.Join(fmt.Errorf("web server on %s: %w", a.addrs.Web, err), a.shutdown(ctx))
		case <-ctx.Done():
			a.log.Info("shutting down", "cause", context.Cause(ctx))
			return a.shutdown(ctx)
		}
	}
}

// shutdown stops reading StatsD, waits until everything read is recorded,
// then stops the web server (letting requests in flight finish), each within
// shutdownTimeout. It is idempotent.
func (a *app) shutdown(ctx context.Context) (err error) {
	a.shutOnce.Do(func() {
		a.ready.Store(false)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		var errs []error
		if a.recv != nil {
			if err := a.recv.Shutdown(sctx); err != nil {
				errs = append(errs, fmt.Errorf("draining StatsD: %w", err))
			}
			st := a.recv.Bridge().Stats()
			a.log.Info("StatsD receiver stopped", "datagrams", st.Datagrams, "samples", st.Samples,
				"recorded", st.Recorded, "dropped", st.Dropped, "rejected", st.Rejected)
		}
		if a.web != nil {
			if err := a.web.Shutdown(sctx); err != nil {
				errs = append(errs, fmt.Errorf("stopping web server on %s: %w", a.addrs.Web, err))
			}
			if err := <-a.webErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, fmt.Errorf("web server on %s: %w", a.addrs.Web, err))
			}
		}
		err = errors.Join(errs...)
	})
	return err
}

// reload loads the mapping file again and, if it is valid, maps every series
// by its rules from now on. If it is not, the rules in use are kept and the
// error (file:line: ...) is logged and returned.
func (a *app) reload() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	path := a.cfg.mappingConfig
	if path == "" {
		a.log.Warn("no mapping config to reload: --statsd.mapping-config is not set")
		return nil
	}
	fail := func(err error) error {
		a.reloads.Add(context.Background(), 1, metric.WithAttributes(attribute.String("outcome", "failure")))
		a.log.Error("mapping config reload failed; the rules in use are kept", "file", path, "err", err)
		return fmt.Errorf("reloading mapping config: %w", err)
	}
	rules, err := mapper.LoadRules(path)
	if err != nil {
		return fail(err)
	}
	m, err := a.newMapper(rules)
	if err != nil {
		return fail(err)
	}
	if a.recv != nil {
		a.recv.Bridge().SetMapper(m)
	} else {
		a.initial = m
	}
	a.rules = rules
	a.nrules.Store(int64(rules.Len()))
	a.reloads.Add(context.Background(), 1, metric.WithAttributes(attribute.String("outcome", "success")))
	a.log.Info("mapping config reloaded", "file", path, "rules", rules.Len())
	return nil
}

// close releases everything start and newApp made. Call shutdown first not
// to lose what the sockets hold.
func (a *app) close() {
	if a.hup != nil {
		signal.Stop(a.hup)
	}
	if a.recv != nil {
		_ = a.recv.Close()
	}
	if a.web != nil {
		_ = a.web.Close()
	} else if a.webLn != nil {
		_ = a.webLn.Close()
	}
	if a.rulesReg != nil {
		_ = a.rulesReg.Unregister()
	}
	for _, mp := range []*sdkmetric.MeterProvider{a.std, a.raw} {
		if mp != nil {
			_ = mp.Shutdown(context.Background())
		}
	}
}

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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/procwatch"
	"github.com/gunicornotel/gunicornotel/statsd"
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

	reg       *prometheus.Registry
	std, raw  *sdkmetric.MeterProvider // the two expositions (routing.go)
	sums      *summaries               // the summaries served (summary.go)
	reloads   metric.Int64Counter
	telemetry metric.Registration
	// srvTelemetry is the StatsD server's (otelbridge.ObserveServer).
	srvTelemetry metric.Registration

	mu      sync.Mutex    // serialises reloads
	rules   *mapper.Rules // in use; nil without --statsd.mapping-config
	nrules  atomic.Int64
	bridge  *otelbridge.Bridge
	srv     *statsd.Server
	relay   *relay // nil without --statsd.relay.address
	started bool   // srv serves
	web     *http.Server
	webLn   *connLimiter
	webErr  chan error
	hup     chan os.Signal // SIGHUP, from start on
	quit    chan struct{}  // closed by POST /-/quit
	addrs   listenAddrs
	ready   atomic.Bool

	// watcher watches Gunicorn through /proc (nil without --gunicorn.*);
	// watchStop ends its Run, watchDone is closed when Run has returned.
	watcher   *procwatch.Watcher
	watchStop context.CancelFunc
	watchDone chan struct{}

	quitOnce, shutOnce sync.Once

	// seCounts counts for statsd_exporter's names (exporter_metrics.go);
	// nil when --telemetry.names does not serve them.
	seCounts *seCounts
}

// newLogger returns the program's logger, writing to w as --log.format and
// --log.level say, in statsd_exporter's format (promslog).
func newLogger(cfg *config, w io.Writer) *slog.Logger {
	lc := &promslog.Config{Level: promslog.NewLevel(), Format: promslog.NewFormat(), Writer: w}
	_ = lc.Level.Set(cfg.logLevel)   // checked by parseFlags
	_ = lc.Format.Set(cfg.logFormat) // checked by parseFlags
	return promslog.New(lc)
}

// newApp loads the mapping file, if any, and builds the metric pipeline and
// the bridge. It opens no socket: start does.
func newApp(cfg *config, logger *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: logger, reg: prometheus.NewRegistry(), quit: make(chan struct{})}
	a.sums = newSummaries(cfg.maxHistogramSeries, cfg.maxInstruments, cfg.maxMemory)
	a.sums.hideOwn = !cfg.servesOwnNames()
	a.reg.MustRegister(a.sums)
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	for _, f := range cfg.noEffect {
		logger.Warn("flag accepted for statsd_exporter compatibility; it has no effect here", "flag", f.Flag, "value", f.Value, "why", f.Why)
	}
	if cfg.mappingConfig != "" {
		if a.rules, err = a.loadRules(cfg.mappingConfig); err != nil {
			return nil, fmt.Errorf("--statsd.mapping-config: %w", err)
		}
		a.nrules.Store(int64(a.rules.Len()))
	}
	names, err := a.newMapper(a.rules)
	if err != nil {
		return nil, err
	}

	a.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if a.std, err = a.newMeterProvider(otlptranslator.UnderscoreEscapingWithSuffixes); err != nil {
		return nil, err
	}
	// statsdNames has made the names valid Prometheus names already.
	if a.raw, err = a.newMeterProvider(otlptranslator.NoTranslation); err != nil {
		return nil, err
	}
	if a.seCounts, err = a.registerStatsdExporterNames(); err != nil {
		return nil, err
	}
	a.srv = cfg.server(logger)
	if err := a.registerTelemetry(a.std.Meter(otelbridge.ScopeName)); err != nil {
		return nil, err
	}
	if a.srvTelemetry, err = otelbridge.ObserveServer(a.std, a.srv); err != nil {
		return nil, err
	}
	if cfg.watching() {
		a.watcher, err = procwatch.New(a.std, cfg.watcherOptions(logger)...)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			logger.Warn("the Gunicorn watcher does not run on this system; serving StatsD without it", "err", err)
			a.watcher = nil
		case err != nil:
			return nil, fmt.Errorf("--gunicorn.*: %w", err)
		}
	}
	pick := newMeters(a.raw, otelbridge.ScopeName, a.sums).pick
	if a.bridge, err = otelbridge.New(a.std, append(cfg.bridgeOptions(), otelbridge.WithMapper(names), otelbridge.WithMeterFor(pick))...); err != nil {
		return nil, err
	}
	bridgeBytes := func() int64 { return a.bridge.Stats().Memory }
	a.sums.otherBytes.Store(&bridgeBytes)
	return a, nil
}

// loadRules loads the mapping file at path and logs what statsd_exporter
// would load but does not mean (a reference to a missing capture, an empty
// bucket list...), each with its file and line.
func (a *app) loadRules(path string) (*mapper.Rules, error) {
	rules, err := mapper.LoadRules(path, a.cfg.rulesOptions()...)
	if err != nil {
		return nil, err
	}
	for _, w := range rules.Warnings() {
		a.log.Warn("mapping config loaded as statsd_exporter loads it, with a doubtful part (--statsd.mapping-strict refuses it)", "warning", w.Error())
	}
	return rules, nil
}

// newMapper returns the mapper for rules (nil: no mapping file), as the flags
// configure it: statsd_exporter's names for everything, but Gunicorn's own
// metrics under the built-in profile when it is on.
func (a *app) newMapper(rules *mapper.Rules) (otelbridge.Mapper, error) {
	m, err := mapper.New(a.cfg.mapperOptions(rules, a.log)...)
	if err != nil {
		return nil, fmt.Errorf("mapper: %w", err)
	}
	var profile *mapper.Mapper
	if a.cfg.useProfile() {
		if profile, err = mapper.New(a.cfg.profileOptions(a.log)...); err != nil {
			return nil, fmt.Errorf("mapper: %w", err)
		}
	}
	return statsdNames(profile, m, rules == nil), nil
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
	opts = append(opts, a.cfg.telemetryViews()...)
	if a.cfg.histogram == histExponential {
		opts = append(opts, sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}},
		)))
	}
	return sdkmetric.NewMeterProvider(opts...), nil
}

// start opens the StatsD listeners (and the relay) and the web listener, and
// serves StatsD. The web server is served by serve.
func (a *app) start() (err error) {
	a.srv.Handler = a.bridge
	if a.cfg.relayAddr != "" {
		if a.relay, err = newRelay(a.cfg.relayAddr, a.cfg.relayPacketLen, a.cfg.relayQueue, a.log); err != nil {
			return err
		}
		a.srv.Handler = tee{a.bridge, a.relay}
	}
	a.srv.Handler = a.countFor(a.srv.Handler)
	kinds, addrs := a.cfg.statsdAddrs()
	a.started = true
	for i, addr := range addrs {
		bound, err := a.srv.Start(addr)
		if err != nil {
			return fmt.Errorf("--statsd.listen-%s %s: %w", kinds[i], addr, err)
		}
		switch kinds[i] {
		case "udp":
			a.addrs.UDP = bound.String()
		case "tcp":
			a.addrs.TCP = bound.String()
		case "unixgram":
			a.addrs.Unixgram = bound.String()
		}
	}

	ln, err := net.Listen("tcp", a.cfg.webListen)
	if err != nil {
		return fmt.Errorf("--web.listen-address %s: %w", a.cfg.webListen, err)
	}
	a.webLn = newConnLimiter(ln, a.cfg.webMaxConns, a.log)
	a.addrs.Web = ln.Addr().String()
	a.web = a.newWebServer(a.webLn)
	a.webErr = make(chan error, 1)
	go func() { a.webErr <- a.web.Serve(a.webLn) }()
	if a.watcher != nil {
		var ctx context.Context
		ctx, a.watchStop = context.WithCancel(context.Background())
		a.watchDone = make(chan struct{})
		go func() {
			defer close(a.watchDone)
			_ = a.watcher.Run(ctx) // errors only if already running
		}()
	}
	// Catch SIGHUP before anyone can learn that we are up: from now on it
	// reloads instead of ending the process.
	a.hup = make(chan os.Signal, 1)
	signal.Notify(a.hup, syscall.SIGHUP)
	a.ready.Store(true)
	a.log.Info("accepting StatsD traffic", "udp", a.addrs.UDP, "tcp", a.addrs.TCP, "unixgram", a.addrs.Unixgram,
		"relay", a.cfg.relayAddr)
	a.log.Info("accepting Prometheus requests", "addr", a.addrs.Web, "path", a.cfg.telemetryPath,
		"mapping_config", a.cfg.mappingConfig, "lifecycle", a.cfg.enableLifecycle)
	return nil
}

// serve reloads the mapping file on SIGHUP until ctx ends or POST /-/quit,
// then shuts down gracefully: it stops reading StatsD, records everything
// already read, and stops the web server.
func (a *app) serve(ctx context.Context) error {
	for {
		select {
		case <-a.hup:
			a.log.Info("received SIGHUP, reloading the mapping config", "file", a.cfg.mappingConfig)
			_ = a.reload() // logged
		case err := <-a.webErr:
			a.webErr <- err // for shutdown
			return errors.Join(fmt.Errorf("web server on %s: %w", a.addrs.Web, err), a.shutdown(ctx))
		case <-a.quit:
			a.log.Info("shutting down", "cause", "POST /-/quit")
			return a.shutdown(ctx)
		case <-ctx.Done():
			a.log.Info("shutting down", "cause", context.Cause(ctx))
			return a.shutdown(ctx)
		}
	}
}

// shutdown stops reading StatsD, waits until everything read is recorded
// (and relayed), then stops the web server (letting requests in flight
// finish), each within shutdownTimeout. It is idempotent.
func (a *app) shutdown(ctx context.Context) (err error) {
	a.shutOnce.Do(func() {
		a.ready.Store(false)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		var errs []error
		if a.started {
			if err := a.srv.Shutdown(sctx); err != nil {
				errs = append(errs, fmt.Errorf("draining StatsD: %w", err))
			}
			st := a.bridge.Stats()
			a.log.Info("StatsD receiver stopped", "datagrams", st.Datagrams, "samples", st.Samples,
				"recorded", st.Recorded, "dropped", st.Dropped, "rejected", st.Rejected)
		}
		a.stopWatcher()
		if a.relay != nil {
			if err := a.relay.close(); err != nil {
				errs = append(errs, fmt.Errorf("relay to %s: %w", a.cfg.relayAddr, err))
			}
			st := a.relay.stats()
			a.log.Info("relay stopped", "target", a.cfg.relayAddr, "relayed", st.Relayed, "dropped", st.Dropped,
				"too_long", st.TooLong, "packets", st.Packets, "send_errors", st.SendErrors)
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
		a.reloads.Add(context.Background(), 1, metric.WithAttributes(attribute.String(attrOutcome, "failure")))
		a.countReload(false)
		a.log.Error("mapping config reload failed; the rules in use are kept", "file", path, "err", err)
		return fmt.Errorf("reloading mapping config: %w", err)
	}
	rules, err := a.loadRules(path)
	if err != nil {
		return fail(err)
	}
	m, err := a.newMapper(rules)
	if err != nil {
		return fail(err)
	}
	a.bridge.SetMapper(m)
	a.rules = rules
	a.nrules.Store(int64(rules.Len()))
	a.reloads.Add(context.Background(), 1, metric.WithAttributes(attribute.String(attrOutcome, "success")))
	a.countReload(true)
	a.log.Info("mapping config reloaded", "file", path, "rules", rules.Len())
	return nil
}

// stopWatcher stops the Gunicorn watcher, if it runs, and waits for it.
func (a *app) stopWatcher() {
	if a.watchStop != nil {
		a.watchStop()
		<-a.watchDone
	}
}

// close releases everything start and newApp made. Call shutdown first not
// to lose what the sockets hold.
func (a *app) close() {
	if a.hup != nil {
		signal.Stop(a.hup)
	}
	if a.srv != nil {
		_ = a.srv.Close()
	}
	if a.relay != nil {
		_ = a.relay.close()
	}
	if a.web != nil {
		_ = a.web.Close()
	} else if a.webLn != nil {
		_ = a.webLn.Close()
	}
	if a.bridge != nil {
		_ = a.bridge.Close()
	}
	a.stopWatcher()
	if a.watcher != nil {
		_ = a.watcher.Close()
	}
	for _, reg := range []metric.Registration{a.telemetry, a.srvTelemetry} {
		if reg != nil {
			_ = reg.Unregister()
		}
	}
	for _, mp := range []*sdkmetric.MeterProvider{a.std, a.raw} {
		if mp != nil {
			_ = mp.Shutdown(context.Background())
		}
	}
}

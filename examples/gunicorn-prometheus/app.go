package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/gunicornotel/gunicornotel/examples/internal/wiring"
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

	mu     sync.Mutex    // serialises reloads
	rules  *mapper.Rules // in use; nil without --statsd.mapping-config
	nrules atomic.Int64
	// intake is the StatsD server, the bridge and the Gunicorn watcher
	// (nil without --gunicorn.*), started and stopped in their order.
	intake *wiring.Intake
	bridge *otelbridge.Bridge // intake.Bridge
	srv    *statsd.Server     // intake.Server
	relay  *relay             // nil without --statsd.relay.address
	web    *http.Server
	webLn  *connLimiter
	webErr chan error
	quit   chan struct{} // closed by POST /-/quit
	addrs  listenAddrs
	ready  atomic.Bool

	quitOnce, shutOnce sync.Once

	// seCounts counts for statsd_exporter's names (exporter_metrics.go);
	// nil when --telemetry.names does not serve them.
	seCounts *seCounts
}

// newApp loads the mapping file, if any, and builds the metric pipeline and
// the bridge. It opens no socket: start does.
func newApp(cfg *config, logger *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: logger, reg: prometheus.NewRegistry(), quit: make(chan struct{})}
	a.sums = newSummaries(cfg.Limits.MaxHistogramSeries, cfg.Limits.MaxInstruments, cfg.Limits.MaxMemory)
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
	if a.rules, err = cfg.Mapping.Load(logger); err != nil {
		return nil, err
	}
	if a.rules != nil {
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
	if err := a.registerTelemetry(a.std.Meter(otelbridge.ScopeName)); err != nil {
		return nil, err
	}
	pick := newMeters(a.raw, otelbridge.ScopeName, a.sums).pick
	bridge, err := otelbridge.New(a.std, append(cfg.bridgeOptions(logger), otelbridge.WithMapper(names), otelbridge.WithMeterFor(pick))...)
	if err != nil {
		return nil, err
	}
	w, err := cfg.Watch.NewWatcher(procwatch.New, a.std, logger, cfg.Watch.Options(cfg.PrefixKey, cfg.Parsing.DogStatsDTags, logger)...)
	if err != nil {
		_ = bridge.Close()
		return nil, err
	}
	srv := cfg.server(logger) // its Handler is the bridge until start puts the relay in front
	if a.intake, err = wiring.NewIntake(a.std, srv, bridge, w, logger); err != nil {
		_ = bridge.Close()
		_ = w.Close()
		return nil, err
	}
	a.bridge, a.srv = bridge, srv
	bridgeBytes := func() int64 { return a.bridge.Stats().Memory }
	a.sums.otherBytes.Store(&bridgeBytes)
	return a, nil
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
	opts := append(a.cfg.Limits.MeterProviderOptions(),
		sdkmetric.WithReader(exp),
		// StatsD samples never carry a span context: no exemplars to take.
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter),
	)
	opts = append(opts, a.cfg.telemetryViews()...)
	if a.cfg.histogram == histExponential {
		opts = append(opts, sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}},
		)))
	}
	return sdkmetric.NewMeterProvider(opts...), nil
}

// start opens the StatsD listeners (and the relay), starts the Gunicorn
// watcher and the web listener, and serves StatsD. The web server is served
// by serve.
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
	ls := make([]wiring.Listener, len(addrs))
	for i, addr := range addrs {
		ls[i] = wiring.Listener{Flag: "--statsd.listen-" + kinds[i], Addr: addr}
	}
	// The web listener first: the intake catches SIGHUP once it is up, and
	// from then on a SIGHUP reloads instead of ending the process.
	ln, err := net.Listen("tcp", a.cfg.webListen)
	if err != nil {
		return fmt.Errorf("--web.listen-address %s: %w", a.cfg.webListen, err)
	}
	a.webLn = newConnLimiter(ln, a.cfg.webMaxConns, a.log)
	a.addrs.Web = ln.Addr().String()
	bound, err := a.intake.Start(ls)
	if err != nil {
		return err
	}
	for i, b := range bound {
		switch kinds[i] {
		case "udp":
			a.addrs.UDP = b.String()
		case "tcp":
			a.addrs.TCP = b.String()
		case "unixgram":
			a.addrs.Unixgram = b.String()
		}
	}
	a.web = a.newWebServer(a.webLn)
	a.webErr = make(chan error, 1)
	go func() { a.webErr <- a.web.Serve(a.webLn) }()
	a.ready.Store(true)
	a.log.Info("accepting StatsD traffic", "udp", a.addrs.UDP, "tcp", a.addrs.TCP, "unixgram", a.addrs.Unixgram,
		"relay", a.cfg.relayAddr)
	a.log.Info("accepting Prometheus requests", "addr", a.addrs.Web, "path", a.cfg.telemetryPath,
		"mapping_config", a.cfg.Mapping.File, "lifecycle", a.cfg.enableLifecycle)
	return nil
}

// serve reloads the mapping file on SIGHUP until ctx ends or POST /-/quit,
// then shuts down gracefully: it stops reading StatsD, records everything
// already read, and stops the web server.
func (a *app) serve(ctx context.Context) error {
	for {
		select {
		case <-a.intake.HUP():
			a.log.Info("received SIGHUP, reloading the mapping config", "file", a.cfg.Mapping.File)
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
// (and relayed) and stops the watcher (wiring.Intake.Shutdown), then stops
// the web server (letting requests in flight finish), each within
// shutdownTimeout. It is idempotent.
func (a *app) shutdown(ctx context.Context) (err error) {
	a.shutOnce.Do(func() {
		a.ready.Store(false)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		var errs []error
		if err := a.intake.Shutdown(sctx); err != nil {
			errs = append(errs, err)
		}
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
	if a.cfg.Mapping.File == "" {
		return a.cfg.Mapping.Reload(a.log, nil) // logs that there is none
	}
	err := a.cfg.Mapping.Reload(a.log, func(rules *mapper.Rules) error {
		m, err := a.newMapper(rules)
		if err != nil {
			return err
		}
		a.bridge.SetMapper(m)
		a.rules = rules
		a.nrules.Store(int64(rules.Len()))
		return nil
	})
	outcome := "success"
	if err != nil {
		outcome = "failure"
	}
	a.reloads.Add(context.Background(), 1, metric.WithAttributes(attribute.String(attrOutcome, outcome)))
	a.countReload(err == nil)
	return err
}

// close releases everything start and newApp made. Call shutdown first not
// to lose what the sockets hold.
func (a *app) close() {
	if a.intake != nil {
		_ = a.intake.Close()
	}
	if a.relay != nil {
		_ = a.relay.close()
	}
	if a.web != nil {
		_ = a.web.Close()
	} else if a.webLn != nil {
		_ = a.webLn.Close()
	}
	if a.telemetry != nil {
		_ = a.telemetry.Unregister()
	}
	for _, mp := range []*sdkmetric.MeterProvider{a.std, a.raw} {
		if mp != nil {
			_ = mp.Shutdown(context.Background())
		}
	}
}

package gunicornreceiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/gunicornotel/gunicornotel/examples/gunicornreceiver/internal/metadata"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/procwatch"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// metricsReceiver is the receiver.Metrics the factory makes: the
// Collector's scraper controller (collection_interval, initial_delay,
// timeout, and the receiver and scraper metrics of the Collector's own
// telemetry) driving one scraper, a statsdScraper. Its Shutdown sends the
// last collection, which the controller does not make.
type metricsReceiver struct {
	receiver.Metrics // the scraper controller
	sc               *statsdScraper

	mu      sync.Mutex // serialises Start and Shutdown
	started bool
	stopped bool
}

// statsdScraper is the receiver's one scraper: started, it runs a
// statsd.Server feeding an otelbridge.Bridge, and with a watch block the
// Gunicorn watcher, both recording into an SDK MeterProvider of its own;
// each scrape collects that provider's ManualReader into pmetric.Metrics.
// The watcher samples on its own schedule (sample_interval), between
// scrapes: what it aggregates (busy time, the longest request) needs many
// samples per collection.
type statsdScraper struct {
	set  receiver.Settings
	cfg  *Config
	log  *zap.Logger
	tel  *metadata.TelemetryBuilder
	next consumer.Metrics
	obs  *receiverhelper.ObsReport // for the last collection, made by Shutdown

	mu       sync.Mutex // guards recv for the telemetry callbacks
	reader   *sdkmetric.ManualReader
	provider *sdkmetric.MeterProvider
	recv     *otelbridge.Receiver // nil until Start, and after Shutdown
	watcher  *procwatch.Watcher   // nil without a watch block
	watchEnd context.CancelFunc   // ends the watcher's Run
	watched  chan struct{}        // closed when the watcher's Run has returned
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Metrics) (*metricsReceiver, error) {
	if set.Logger == nil {
		set.Logger = zap.NewNop()
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("gunicorn receiver: telemetry: %w", err)
	}
	// The controller's receiver metrics have no transport and no format;
	// the last collection's are counted the same way.
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{ReceiverID: set.ID, ReceiverCreateSettings: set})
	if err != nil {
		return nil, err
	}
	sc := &statsdScraper{set: set, cfg: cfg, log: set.Logger, tel: tel, next: next, obs: obs}
	s, err := scraper.NewMetrics(sc.scrape, scraper.WithStart(sc.start), scraper.WithShutdown(sc.shutdown))
	if err != nil {
		return nil, err
	}
	ctl, err := scraperhelper.NewMetricsController(&cfg.ControllerConfig, set, nonEmpty(next),
		scraperhelper.AddMetricsScraper(metadata.Type, s))
	if err != nil {
		return nil, err
	}
	return &metricsReceiver{Metrics: ctl, sc: sc}, nil
}

// nonEmpty passes on to next the batches that have a data point: the
// controller hands on every scrape, and nothing is sent while no sample has
// arrived.
func nonEmpty(next consumer.Metrics) consumer.Metrics {
	c, err := consumer.NewMetrics(func(ctx context.Context, md pmetric.Metrics) error {
		if md.DataPointCount() == 0 {
			return nil
		}
		return next.ConsumeMetrics(ctx, md)
	}, consumer.WithCapabilities(next.Capabilities()))
	if err != nil { // only for a nil function
		panic(err)
	}
	return c
}

// Start builds the mapper (loading the mapping file), binds the endpoint,
// starts the watcher if configured, and then the controller's collections.
// It returns once the socket is bound. A receiver is started at most once.
func (r *metricsReceiver) Start(ctx context.Context, host component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("gunicorn receiver: already started")
	}
	r.started = true
	return r.Metrics.Start(ctx, host)
}

// Shutdown stops the collections, stops reading, records every datagram
// already read (those queued in the socket buffer included), sends a last
// collection to the next consumer, and releases the socket. It may be
// called without Start, and more than once.
func (r *metricsReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = true // a receiver shut down is not started afterwards
	if r.stopped {
		return nil
	}
	r.stopped = true
	// The controller stops collecting, then shuts the scraper down: the
	// server drained and the watcher stopped, their instruments still there.
	err := r.Metrics.Shutdown(ctx)
	return errors.Join(err, r.sc.finish(ctx))
}

// addr is the address bound, nil before Start and after Shutdown.
func (r *metricsReceiver) addr() net.Addr {
	if recv := r.sc.current(); recv != nil {
		return recv.Addr()
	}
	return nil
}

// current is the running server and bridge, nil before Start and after
// Shutdown.
func (s *statsdScraper) current() *otelbridge.Receiver {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recv
}

func (s *statsdScraper) start(_ context.Context, _ component.Host) error {
	logger := slogToZap(s.log)
	m, err := s.cfg.newMapper(logger)
	if err != nil {
		return err
	}
	reader := sdkmetric.NewManualReader() // cumulative temporality
	provider := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(reader),
		// The resource is the Collector's business (resource processors);
		// the SDK's default one would describe the Collector process.
		sdkmetric.WithResource(resource.Empty()),
		// StatsD samples carry no span context.
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter),
		// At or above the bridge's own bound, which overflows first.
		sdkmetric.WithCardinalityLimit(s.cfg.Limits.cardinalityLimit()),
	)
	srv := &statsd.Server{ErrorLog: logger, Parser: s.cfg.parser()}
	s.cfg.Limits.server(srv)
	opts := append([]otelbridge.ListenOption{
		otelbridge.WithMapper(m),
		otelbridge.WithServer(srv),
		otelbridge.WithTelemetry(s.cfg.IncludeTelemetry),
		otelbridge.WithLogger(logger),
	}, listenOptions(s.cfg.Limits.options())...)
	recv, err := otelbridge.Listen(s.cfg.address(), provider, opts...)
	if err != nil {
		_ = provider.Shutdown(context.Background())
		return fmt.Errorf("gunicorn receiver: %w", err)
	}
	if s.cfg.Watch.enabled() {
		if err := s.startWatcher(provider, logger); err != nil {
			_ = recv.Close()
			_ = provider.Shutdown(context.Background())
			return err
		}
	}
	s.mu.Lock()
	s.reader, s.provider, s.recv = reader, provider, recv
	s.mu.Unlock()
	if err := s.registerTelemetry(); err != nil {
		return err
	}
	s.log.Info("Listening for Gunicorn StatsD",
		zap.String("transport", string(s.cfg.Transport)),
		zap.String("address", recv.Addr().String()),
		zap.Duration("collection_interval", s.cfg.CollectionInterval))
	return nil
}

// startWatcher starts the Gunicorn watcher, or logs that it cannot run on
// this system.
func (s *statsdScraper) startWatcher(provider *sdkmetric.MeterProvider, logger *slog.Logger) error {
	w, err := procwatch.New(provider, s.cfg.Watch.options(s.cfg.PrefixAttribute, logger)...)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		s.log.Warn("The Gunicorn watcher does not run on this system; receiving StatsD without it", zap.Error(err))
		return nil
	case err != nil:
		return fmt.Errorf("gunicorn receiver: watch: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.watcher, s.watchEnd, s.watched = w, cancel, make(chan struct{})
	go func() {
		defer close(s.watched)
		_ = w.Run(ctx) // errors only when already running
	}()
	return nil
}

// scrape collects the MeterProvider. Nothing at all (no resource) while it
// holds no data point.
func (s *statsdScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(ctx, &rm); err != nil {
		return pmetric.NewMetrics(), err
	}
	md := Convert(&rm)
	if md.DataPointCount() == 0 {
		return pmetric.NewMetrics(), nil
	}
	return md, nil
}

// shutdown stops reading and records everything already read, and stops the
// watcher after its last pass; the instruments stay, for finish.
func (s *statsdScraper) shutdown(ctx context.Context) error {
	recv := s.current()
	if recv == nil {
		return nil
	}
	var errs []error
	if err := recv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gunicorn receiver: draining: %w", err))
	}
	if s.watcher != nil {
		s.watchEnd()
		<-s.watched
	}
	return errors.Join(errs...)
}

// finish sends the last collection (what was read is in the instruments
// now, even if the drain was cut short) and releases everything.
func (s *statsdScraper) finish(ctx context.Context) error {
	recv := s.current()
	if recv == nil {
		return nil
	}
	var errs []error
	if err := s.collect(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gunicorn receiver: final collection: %w", err))
	}
	st := recv.Bridge().Stats()
	s.log.Debug("Gunicorn StatsD receiver stopped",
		zap.Uint64("datagrams", st.Datagrams),
		zap.Uint64("samples", st.Samples),
		zap.Uint64("recorded", st.Recorded),
		zap.Uint64("rejected", st.Rejected),
		zap.Uint64("dropped", st.Dropped))
	s.tel.Shutdown()
	if s.watcher != nil {
		errs = append(errs, s.watcher.Close())
	}
	errs = append(errs, recv.Close(), s.provider.Shutdown(ctx))
	s.mu.Lock()
	s.recv = nil
	s.mu.Unlock()
	return errors.Join(errs...)
}

// collect scrapes and hands what there is to the next consumer, counted as
// the controller counts its collections.
func (s *statsdScraper) collect(ctx context.Context) error {
	md, err := s.scrape(ctx)
	if err != nil {
		return err
	}
	n := md.DataPointCount()
	if n == 0 {
		return nil
	}
	ctx = s.obs.StartMetricsOp(ctx)
	err = s.next.ConsumeMetrics(ctx, md)
	s.obs.EndMetricsOp(ctx, "", n, err)
	return err
}

// listenOptions turns bridge options into Listen's.
func listenOptions(opts []otelbridge.Option) []otelbridge.ListenOption {
	out := make([]otelbridge.ListenOption, len(opts))
	for i, o := range opts {
		out[i] = o
	}
	return out
}

// slogToZap returns a slog.Logger writing to l's core: the statsd.Server
// logs through log/slog, the Collector through zap. Records keep the fields
// of l (the component's ID and kind), name the statsd code that logged
// them as their caller, and carry a stack trace from error level, as zap's
// production logger does.
func slogToZap(l *zap.Logger) *slog.Logger {
	return slog.New(zapslog.NewHandler(l.Core(), zapslog.WithCaller(true)))
}

package gunicornreceiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/procwatch"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// dataFormat is the format the receiver's obsreport metrics name.
const dataFormat = "statsd"

// metricsReceiver is the receiver.Metrics the factory makes: a statsd.Server
// feeding an otelbridge.Bridge that records into its own SDK MeterProvider,
// read by a ManualReader every CollectionInterval and handed to next as
// pmetric.Metrics.
type metricsReceiver struct {
	set  receiver.Settings
	cfg  *Config
	next consumer.Metrics
	obs  *receiverhelper.ObsReport
	log  *zap.Logger

	mu       sync.Mutex // serialises Start and Shutdown
	started  bool
	reader   *sdkmetric.ManualReader
	provider *sdkmetric.MeterProvider
	recv     *otelbridge.Receiver // nil until Start, and after Shutdown
	watcher  *procwatch.Watcher   // nil without a watch block
	watchEnd context.CancelFunc   // ends the watcher's Run
	watched  chan struct{}        // closed when the watcher's Run has returned
	stop     chan struct{}        // closed by Shutdown to end the collection loop
	done     chan struct{}        // closed by the collection loop when it ends
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Metrics) (*metricsReceiver, error) {
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              cfg.Transport,
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	log := set.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &metricsReceiver{set: set, cfg: cfg, next: next, obs: obs, log: log}, nil
}

// Start builds the mapper (loading the mapping file), binds the endpoint and
// starts the collection loop. It returns once the socket is bound. A receiver
// is started at most once.
func (r *metricsReceiver) Start(_ context.Context, _ component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("gunicorn receiver: already started")
	}
	r.started = true

	m, err := r.cfg.newMapper()
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
	)
	logger := slogToZap(r.log)
	srv := &statsd.Server{ErrorLog: logger}
	opts := append([]otelbridge.ListenOption{
		otelbridge.WithMapper(m),
		otelbridge.WithServer(srv),
		otelbridge.WithTelemetry(r.cfg.IncludeTelemetry),
		otelbridge.WithLogger(logger),
	}, listenOptions(r.cfg.Limits.options())...)
	recv, err := otelbridge.Listen(r.cfg.address(), provider, opts...)
	if err != nil {
		_ = provider.Shutdown(context.Background())
		return fmt.Errorf("gunicorn receiver: %w", err)
	}
	if r.cfg.Watch.enabled() {
		w, err := procwatch.New(provider, r.cfg.Watch.options(r.cfg.PrefixAttribute, logger)...)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			r.log.Warn("The Gunicorn watcher does not run on this system; receiving StatsD without it", zap.Error(err))
		case err != nil:
			_ = recv.Close()
			_ = provider.Shutdown(context.Background())
			return fmt.Errorf("gunicorn receiver: watch: %w", err)
		default:
			ctx, cancel := context.WithCancel(context.Background())
			r.watcher, r.watchEnd, r.watched = w, cancel, make(chan struct{})
			go func() {
				defer close(r.watched)
				_ = w.Run(ctx) // errors only when already running
			}()
		}
	}
	r.reader, r.provider, r.recv = reader, provider, recv
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	r.log.Info("Listening for Gunicorn StatsD",
		zap.String("transport", r.cfg.Transport),
		zap.String("address", recv.Addr().String()),
		zap.Duration("collection_interval", r.cfg.CollectionInterval))
	go r.run(r.cfg.CollectionInterval)
	return nil
}

// Shutdown stops reading, records every datagram already read (those queued
// in the socket buffer included), sends a last collection to the next
// consumer, and releases the socket. It may be called without Start, and more
// than once.
func (r *metricsReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = true // a receiver shut down is not started afterwards
	if r.recv == nil {
		return nil
	}
	close(r.stop)
	<-r.done

	var errs []error
	if err := r.recv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gunicorn receiver: draining: %w", err))
	}
	if r.watcher != nil {
		// The watcher's last pass goes into the final collection.
		r.watchEnd()
		<-r.watched
	}
	// Whatever was read is in the instruments now, even if the drain was
	// cut short: send it.
	if err := r.collect(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gunicorn receiver: final collection: %w", err))
	}
	st := r.recv.Bridge().Stats()
	r.log.Debug("Gunicorn StatsD receiver stopped",
		zap.Uint64("datagrams", st.Datagrams),
		zap.Uint64("samples", st.Samples),
		zap.Uint64("recorded", st.Recorded),
		zap.Uint64("rejected", st.Rejected),
		zap.Uint64("dropped", st.Dropped))
	if r.watcher != nil {
		errs = append(errs, r.watcher.Close())
		r.watcher = nil
	}
	errs = append(errs, r.recv.Close(), r.provider.Shutdown(ctx))
	r.recv = nil
	return errors.Join(errs...)
}

// addr is the address bound, nil before Start and after Shutdown.
func (r *metricsReceiver) addr() net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recv == nil {
		return nil
	}
	return r.recv.Addr()
}

// run collects every interval until stop is closed.
func (r *metricsReceiver) run(interval time.Duration) {
	defer close(r.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			if err := r.collect(context.Background()); err != nil {
				r.log.Warn("Gunicorn StatsD collection failed", zap.Error(err))
			}
		}
	}
}

// collect reads the MeterProvider and hands what it holds to the next
// consumer. Nothing is sent while there is no data point. The data is
// cumulative, so what a failing consumer loses is sent again, updated, at the
// next collection.
func (r *metricsReceiver) collect(ctx context.Context) error {
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(ctx, &rm); err != nil {
		return err
	}
	md := Convert(&rm)
	n := md.DataPointCount()
	if n == 0 {
		return nil
	}
	ctx = r.obs.StartMetricsOp(ctx)
	err := r.next.ConsumeMetrics(ctx, md)
	r.obs.EndMetricsOp(ctx, dataFormat, n, err)
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

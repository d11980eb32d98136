package benchcmp

import (
	"context"
	"log/slog"
	"testing"
	"time"
	_ "unsafe" // go:linkname, for exporterHandleEvent

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/statsd_exporter/pkg/event"
	"github.com/prometheus/statsd_exporter/pkg/exporter"
	"github.com/prometheus/statsd_exporter/pkg/line"
	"github.com/prometheus/statsd_exporter/pkg/listener"
	"github.com/prometheus/statsd_exporter/pkg/mapper"
	"github.com/prometheus/statsd_exporter/pkg/mappercache/lru"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/gunicornotel/gunicornotel/otelbridge"
)

// nopLogger discards everything, as statsd_exporter's logger does at its
// default level for the debug lines of its hot path.
var nopLogger = slog.New(slog.DiscardHandler)

// seParser holds statsd_exporter's line parser with every tag format
// enabled (DogStatsD, InfluxDB, Librato, SignalFX: its binary's defaults, and
// our zero Parser's) and the real, registered counters LineToEvents requires.
type seParser struct {
	p               *line.Parser
	sampleErrors    *prometheus.CounterVec
	samplesReceived prometheus.Counter
	tagErrors       prometheus.Counter
	tagsReceived    prometheus.Counter
}

func newSEParser(reg prometheus.Registerer) *seParser {
	p := line.NewParser()
	p.EnableDogstatsdParsing()
	p.EnableInfluxdbParsing()
	p.EnableLibratoParsing()
	p.EnableSignalFXParsing()
	sp := &seParser{
		p:               p,
		sampleErrors:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "statsd_exporter_sample_errors_total"}, []string{"reason"}),
		samplesReceived: prometheus.NewCounter(prometheus.CounterOpts{Name: "statsd_exporter_samples_total"}),
		tagErrors:       prometheus.NewCounter(prometheus.CounterOpts{Name: "statsd_exporter_tag_errors_total"}),
		tagsReceived:    prometheus.NewCounter(prometheus.CounterOpts{Name: "statsd_exporter_tags_total"}),
	}
	reg.MustRegister(sp.sampleErrors, sp.samplesReceived, sp.tagErrors, sp.tagsReceived)
	return sp
}

func (sp *seParser) events(l string) event.Events {
	return sp.p.LineToEvents(l, *sp.sampleErrors, sp.samplesReceived, sp.tagErrors, sp.tagsReceived, nopLogger)
}

// newSEMapper returns a statsd_exporter MetricMapper loaded from yml, with
// its LRU cache of cacheSize entries (the binary's default is 1,000), or none
// when cacheSize is 0.
func newSEMapper(tb testing.TB, reg prometheus.Registerer, yml string, cacheSize int) *mapper.MetricMapper {
	m := &mapper.MetricMapper{
		Registerer:    reg,
		MappingsCount: prometheus.NewGauge(prometheus.GaugeOpts{Name: "statsd_exporter_loaded_mappings"}),
		Logger:        nopLogger,
	}
	reg.MustRegister(m.MappingsCount)
	if cacheSize > 0 {
		c, err := lru.NewMetricMapperLRUCache(reg, cacheSize)
		if err != nil {
			tb.Fatal(err)
		}
		m.UseCache(c)
	}
	if err := m.InitFromYAMLString(yml); err != nil {
		tb.Fatal(err)
	}
	return m
}

// sePath is statsd_exporter's in-process path, put together as its main.go
// does: a UDP listener's HandlePacket (split into lines, LineToEvents) hands
// events to an event handler, and the Exporter records them in a Prometheus
// registry through its mapper (glob FSM and LRU cache of 1,000).
type sePath struct {
	reg      *prometheus.Registry
	listener *listener.StatsDUDPListener
	exporter *exporter.Exporter
}

func newSEPath(tb testing.TB) *sePath {
	reg := prometheus.NewRegistry()
	sp := newSEParser(reg)
	m := newSEMapper(tb, reg, gunicornMappingYAML, 1000)
	counterVec := func(name string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name}, labels)
		reg.MustRegister(v)
		return v
	}
	counter := func(name string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
		reg.MustRegister(c)
		return c
	}
	metricsCount := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "statsd_exporter_metrics_total"}, []string{"type"})
	reg.MustRegister(metricsCount)
	exp := exporter.NewExporter(reg, m, nopLogger,
		counterVec("statsd_exporter_events_actions_total", "action"),
		counter("statsd_exporter_events_unmapped_total"),
		counterVec("statsd_exporter_events_error_total", "reason"),
		counterVec("statsd_exporter_events_total", "type"),
		counterVec("statsd_exporter_events_conflict_total", "type", "metric_name"),
		metricsCount)
	l := &listener.StatsDUDPListener{
		Logger:          nopLogger,
		LineParser:      sp.p,
		UDPPackets:      counter("statsd_exporter_udp_packets_total"),
		UDPPacketDrops:  counter("statsd_exporter_udp_packet_drops_total"),
		LinesReceived:   counter("statsd_exporter_lines_total"),
		EventsFlushed:   counter("statsd_exporter_event_queue_flushed_total"),
		SampleErrors:    *sp.sampleErrors,
		SamplesReceived: sp.samplesReceived,
		TagErrors:       sp.tagErrors,
		TagsReceived:    sp.tagsReceived,
	}
	return &sePath{reg: reg, listener: l, exporter: exp}
}

// exporterHandleEvent is statsd_exporter's (*Exporter).handleEvent, which
// Listen calls for every event it receives. It is unexported; reaching it lets
// the synchronous variant measure the exporter's work on the benchmark's own
// goroutine, without the channel hand-off and the second goroutine.
//
//go:linkname exporterHandleEvent github.com/prometheus/statsd_exporter/pkg/exporter.(*Exporter).handleEvent
func exporterHandleEvent(e *exporter.Exporter, ev event.Event)

// syncHandler is an event.EventHandler that handles each event at once.
type syncHandler struct{ e *exporter.Exporter }

func (h syncHandler) Queue(events event.Events) {
	for _, ev := range events {
		exporterHandleEvent(h.e, ev)
	}
}

// startAsync wires the path as statsd_exporter's main does: an EventQueue
// (flush threshold 1,000) sending batches on a channel of 10,000 to
// Exporter.Listen on its own goroutine. The queue's timed flush is set to an
// hour instead of the binary's 200ms: at benchmark rates the threshold does
// the flushing anyway, and the queue's flush goroutine never ends, so with a
// short interval every finished benchmark would leave a goroutine allocating
// a new 1,000-event slice five times a second, which later benchmarks would
// count (B/op is process-wide). stop flushes the queue, closes the channel
// and waits until Listen has handled every event.
func (p *sePath) startAsync() (stop func()) {
	ch := make(chan event.Events, 10000)
	flushed := prometheus.NewCounter(prometheus.CounterOpts{Name: "statsd_exporter_event_queue_flushed_async_total"})
	q := event.NewEventQueue(ch, 1000, time.Hour, flushed)
	p.listener.SetEventHandler(q)
	done := make(chan struct{})
	go func() {
		p.exporter.Listen(ch)
		close(done)
	}()
	return func() {
		q.Flush()
		close(ch)
		<-done
	}
}

func (p *sePath) startSync() { p.listener.SetEventHandler(syncHandler{p.exporter}) }

// newOurBridge returns gunicornotel's Bridge over an SDK MeterProvider with a
// ManualReader, with default options (the Gunicorn profile, its caches).
func newOurBridge(tb testing.TB) *otelbridge.Bridge {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tb.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	br, err := otelbridge.New(mp)
	if err != nil {
		tb.Fatal(err)
	}
	return br
}

// reportCPU reports the process CPU time per op since start, all goroutines
// (and the GC) included: "cpu-ns/op" is what a datagram costs in CPU, which
// wall-clock ns/op hides when work runs on another goroutine.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

package gunicornreceiver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gunicornotel/gunicornotel/examples/gunicornreceiver/internal/metadatatest"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// TestObsReportAndLogger: the receiver logs through the Collector's logger,
// reports its own telemetry (metadata.yaml) and the scraper controller's
// receiver and scraper metrics on the Collector's MeterProvider.
func TestObsReportAndLogger(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer tel.Shutdown(context.Background())
	core, logs := observer.New(zapcore.DebugLevel)

	f := NewFactory()
	set := metadatatest.NewSettings(tel)
	set.Logger = zap.New(core)
	sink := new(consumertest.MetricsSink)
	cfg := testConfig()
	cfg.Limits.MaxSeriesPerInstrument = 2 // one series of gunicorn.responses, the other overflows
	r, err := f.CreateMetrics(context.Background(), set, cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	mr := r.(*metricsReceiver)
	addr := mr.addr()
	e := emitter(t, addr.String(), statsdtest.Config{})
	sendGunicorn(t, e)
	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("bad:x|c")); err != nil {
		t.Fatal(err)
	}
	// 13 datagrams from Gunicorn (workers; requests, responses, durations of
	// 4 requests), and the bad one.
	deadline := time.Now().Add(10 * time.Second)
	for mr.sc.current().Bridge().Stats().Datagrams < 14 {
		if time.Now().After(deadline) {
			t.Fatalf("%d datagrams after 10s, want 14", mr.sc.current().Bridge().Stats().Datagrams)
		}
		time.Sleep(5 * time.Millisecond)
	}
	reason := func(r string) attribute.Set { return attribute.NewSet(attribute.String("reason", r)) }
	opt := metricdatatest.IgnoreTimestamp()
	metadatatest.AssertEqualReceiverGunicornDatagrams(t, tel, []metricdata.DataPoint[int64]{{Value: 14}}, opt)
	metadatatest.AssertEqualReceiverGunicornSamples(t, tel, []metricdata.DataPoint[int64]{{Value: 13}}, opt)
	metadatatest.AssertEqualReceiverGunicornSamplesRecorded(t, tel, []metricdata.DataPoint[int64]{{Value: 13}}, opt)
	metadatatest.AssertEqualReceiverGunicornSamplesRejected(t, tel, []metricdata.DataPoint[int64]{{Attributes: reason("bad_value"), Value: 1}}, opt)
	// gunicorn.responses: status 200, then status 404 in the overflow
	// series. The Gunicorn profile's instruments are reserved: the series
	// of gunicorn.workers, gunicorn.requests, gunicorn.request.duration and
	// both of gunicorn.responses.
	metadatatest.AssertEqualReceiverGunicornSeriesOverflow(t, tel,
		[]metricdata.DataPoint[int64]{{Attributes: reason("instrument_series_limit"), Value: 1}}, opt)
	metadatatest.AssertEqualReceiverGunicornSeries(t, tel, []metricdata.DataPoint[int64]{{Value: 5}}, opt)
	shutdown(t, r)

	started := logs.FilterMessage("Listening for Gunicorn StatsD").All()
	if len(started) != 1 || started[0].ContextMap()["address"] != addr.String() || started[0].ContextMap()["transport"] != "udp" {
		t.Errorf("start log entries %v", started)
	}
	if n := logs.FilterMessage("Gunicorn StatsD receiver stopped").FilterField(zap.Uint64("datagrams", 14)).Len(); n != 1 {
		t.Errorf("no stop log entry with datagrams=14: %v", logs.All())
	}

	// The final collection, counted as the controller counts its own:
	// gunicorn.workers, gunicorn.requests, gunicorn.request.duration, and
	// gunicorn.responses with the series of 200 and the overflow series.
	m, err := tel.GetMetric("otelcol_receiver_accepted_metric_points")
	if err != nil {
		t.Fatal(err)
	}
	want := metricdata.Metrics{
		Name:        "otelcol_receiver_accepted_metric_points",
		Description: m.Description,
		Unit:        "{datapoint}",
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality,
			IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{
				Attributes: attribute.NewSet(attribute.String("receiver", set.ID.String()), attribute.String("transport", "")),
				Value:      5,
			}},
		},
	}
	metricdatatest.AssertEqual(t, want, m, opt, metricdatatest.IgnoreExemplars())
	if sink.DataPointCount() != 5 {
		t.Errorf("%d data points consumed, want 5", sink.DataPointCount())
	}
	// Shut down, the receiver's telemetry is unregistered.
	if m, err := tel.GetMetric("otelcol_receiver_gunicorn_datagrams"); err == nil {
		t.Errorf("otelcol_receiver_gunicorn_datagrams after Shutdown: %+v", m)
	}
}

// The statsd.Server's slog records reach the Collector's zap core with
// their level, message, fields (groups as nested objects), the logger's own
// fields and the caller that logged them.
func TestSlogToZap(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := slogToZap(zap.New(core).With(zap.String("otelcol.component.id", "gunicorn")))
	l.Debug("hidden")
	l.With("a", 1).WithGroup("g").Warn("w", "s", "x", "d", time.Second, "err", errors.New("boom"),
		slog.Group("sub", "b", true), "f", 1.5, "u", uint64(7))
	l.Error("e")
	all := logs.All()
	if len(all) != 2 {
		t.Fatalf("%d entries, want 2 (debug is off): %v", len(all), all)
	}
	w := all[0]
	if w.Level != zapcore.WarnLevel || w.Message != "w" {
		t.Errorf("entry %v %q", w.Level, w.Message)
	}
	if !w.Caller.Defined || !strings.HasSuffix(w.Caller.File, "telemetry_test.go") {
		t.Errorf("caller %v, want this file", w.Caller)
	}
	want := map[string]any{
		"otelcol.component.id": "gunicorn",
		"a":                    int64(1),
		"g": map[string]any{
			"s": "x", "d": time.Second, "err": "boom", "f": 1.5, "u": uint64(7),
			"sub": map[string]any{"b": true},
		},
	}
	if got := w.ContextMap(); !reflect.DeepEqual(got, want) {
		t.Errorf("fields\n got %#v\nwant %#v", got, want)
	}
	if e := all[1]; e.Level != zapcore.ErrorLevel || e.Stack == "" {
		t.Errorf("level %v, stack %d bytes; want error with a stack trace", e.Level, len(e.Stack))
	}
}

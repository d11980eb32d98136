package gunicornreceiver

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// TestObsReportAndLogger: the receiver logs through the Collector's logger
// and reports the standard receiver metrics on its MeterProvider.
func TestObsReportAndLogger(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer tel.Shutdown(context.Background())
	core, logs := observer.New(zapcore.DebugLevel)

	f := NewFactory()
	set := receivertest.NewNopSettings(f.Type())
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	sink := new(consumertest.MetricsSink)
	r, err := f.CreateMetrics(context.Background(), set, testConfig(), sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	addr := r.(*metricsReceiver).addr()
	sendGunicorn(t, emitter(t, addr.String(), statsdtest.Config{}))
	shutdown(t, r)

	started := logs.FilterMessage("Listening for Gunicorn StatsD").All()
	if len(started) != 1 || started[0].ContextMap()["address"] != addr.String() || started[0].ContextMap()["transport"] != "udp" {
		t.Errorf("start log entries %v", started)
	}
	if n := logs.FilterMessage("Gunicorn StatsD receiver stopped").FilterField(zap.Uint64("datagrams", 13)).Len(); n != 1 {
		t.Errorf("no stop log entry with datagrams=13: %v", logs.All())
	}

	m, err := tel.GetMetric("otelcol_receiver_accepted_metric_points")
	if err != nil {
		t.Fatal(err)
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok || len(sum.DataPoints) != 1 {
		t.Fatalf("otelcol_receiver_accepted_metric_points: %#v", m.Data)
	}
	dp := sum.DataPoints[0]
	if dp.Value != 5 {
		t.Errorf("accepted points %d, want 5", dp.Value)
	}
	if v, _ := dp.Attributes.Value("transport"); v.AsString() != "udp" {
		t.Errorf("transport attribute %q", v.AsString())
	}
	if v, _ := dp.Attributes.Value("receiver"); v.AsString() != set.ID.String() {
		t.Errorf("receiver attribute %q, want %q", v.AsString(), set.ID)
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

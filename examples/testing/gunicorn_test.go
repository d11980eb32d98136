package testingexample_test

import (
	"context"
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// newBridge returns a Bridge recording into a MeterProvider read by hand.
func newBridge(t *testing.T) (*otelbridge.Bridge, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	bridge, err := otelbridge.New(mp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bridge.Close() })
	return bridge, reader
}

// metric collects and returns the metric called name, failing the test if
// there is none.
func metric(t *testing.T, reader *sdkmetric.ManualReader, name string) metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return metricdata.Metrics{}
}

func TestGunicornMetrics(t *testing.T) {
	bridge, reader := newBridge(t)

	// Gunicorn started with --statsd-prefix shop.web --dogstatsd-tags env:test.
	gunicorn := statsdtest.NewEmitter(
		statsdtest.Config{Prefix: "shop.web", Tags: "env:test"},
		statsdtest.HandlerSink(bridge),
	)
	gunicorn.Request(200, 10*time.Millisecond)
	gunicorn.Request(404, 3*time.Millisecond)
	gunicorn.Request(503, 1500*time.Millisecond)

	app := attribute.String("app", "shop.web")
	env := attribute.String("env", "test") // the DogStatsD tag
	code := func(c int) attribute.KeyValue { return attribute.Int("http.response.status_code", c) }

	// Counters: compare the data points exactly, whatever their order.
	metricdatatest.AssertEqual(t, metricdata.Sum[float64]{
		Temporality: metricdata.CumulativeTemporality,
		IsMonotonic: true,
		DataPoints: []metricdata.DataPoint[float64]{
			{Attributes: attribute.NewSet(app, env, code(200)), Value: 1},
			{Attributes: attribute.NewSet(app, env, code(404)), Value: 1},
			{Attributes: attribute.NewSet(app, env, code(503)), Value: 1},
		},
	}, metric(t, reader, "gunicorn.responses").Data.(metricdata.Sum[float64]), metricdatatest.IgnoreTimestamp())

	// The histogram: durations arrive in milliseconds and are recorded in seconds.
	m := metric(t, reader, "gunicorn.request.duration")
	if m.Unit != "s" {
		t.Errorf("unit %q, want s", m.Unit)
	}
	h := m.Data.(metricdata.Histogram[float64])
	if len(h.DataPoints) != 1 {
		t.Fatalf("%d histogram series, want 1", len(h.DataPoints))
	}
	p, want := h.DataPoints[0], attribute.NewSet(app, env)
	if !p.Attributes.Equals(&want) || p.Count != 3 || math.Abs(p.Sum-1.513) > 1e-9 {
		t.Errorf("duration: %v count %d sum %v, want app, env, 3 and 1.513s", p.Attributes.ToSlice(), p.Count, p.Sum)
	}

	// Nothing was rejected.
	if st := bridge.Stats(); st.Rejected != 0 || st.Recorded != 9 {
		t.Errorf("stats: %+v", st)
	}
}

// What the bridge cannot use is counted, not lost silently: a test can check
// the reason.
func TestRejectedSample(t *testing.T) {
	bridge, _ := newBridge(t)
	bridge.HandleDatagram([]byte("shop.web.gunicorn.requests:abc|c"))
	if got := bridge.Stats().RejectedByReason["bad_value"]; got != 1 {
		t.Errorf("bad_value rejections %d, want 1 (%+v)", got, bridge.Stats())
	}
}

package asyncinst

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestMaker: every kind is made with its name, unit and description, and
// observed through one callback; a bad name is an error naming it, joined
// with the others.
func TestMaker(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	mk := &Maker{Meter: mp.Meter("test")}
	ic := mk.Int64Counter("a.count", "{a}", "A counter.")
	iu := mk.Int64UpDownCounter("a.open", "{a}", "An up-down counter.")
	ig := mk.Int64Gauge("a.level", "By", "A gauge.")
	fc := mk.Float64Counter("a.time", "s", "A float counter.")
	fg := mk.Float64Gauge("a.age", "s", "A float gauge.")
	if err := mk.Err(); err != nil {
		t.Fatal(err)
	}
	_, err := mk.Meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(ic, 1)
		o.ObserveInt64(iu, 2)
		o.ObserveInt64(ig, 3)
		o.ObserveFloat64(fc, 4.5)
		o.ObserveFloat64(fg, 5.5)
		return nil
	}, ic, iu, ig, fc, fg)
	if err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		var v any
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			v = d.DataPoints[0].Value
		case metricdata.Gauge[int64]:
			v = d.DataPoints[0].Value
		case metricdata.Sum[float64]:
			v = d.DataPoints[0].Value
		case metricdata.Gauge[float64]:
			v = d.DataPoints[0].Value
		}
		got[m.Name] = fmt.Sprintf("%s|%s|%T=%v", m.Unit, m.Description, m.Data, v)
	}
	want := map[string]string{
		"a.count": "{a}|A counter.|metricdata.Sum[int64]=1",
		"a.open":  "{a}|An up-down counter.|metricdata.Sum[int64]=2",
		"a.level": "By|A gauge.|metricdata.Gauge[int64]=3",
		"a.time":  "s|A float counter.|metricdata.Sum[float64]=4.5",
		"a.age":   "s|A float gauge.|metricdata.Gauge[float64]=5.5",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s, want %s", k, got[k], w)
		}
	}

	bad := &Maker{Meter: mp.Meter("bad")}
	bad.Int64Counter("_bad", "", "")
	bad.Float64Gauge("ok", "", "")
	bad.Int64Gauge("9bad", "", "")
	err = bad.Err()
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 2 || !errors.Is(err, sdkmetric.ErrInstrumentName) ||
		!strings.Contains(err.Error(), "instrument _bad: ") || !strings.Contains(err.Error(), "instrument 9bad: ") {
		t.Errorf("errors: %v", err)
	}
}

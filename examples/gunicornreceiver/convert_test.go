package gunicornreceiver

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// TestConvertSDK records into a real SDK and checks what Convert makes of
// every instrument kind the bridge uses, plus an exponential histogram.
func TestConvertSDK(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	res := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0", attribute.String("service.name", "web"))
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(reader),
		sdkmetric.WithResource(res),
		sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Name: "exp"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}},
		)),
	)
	defer mp.Shutdown(context.Background())
	meter := mp.Meter("scope", metric.WithInstrumentationVersion("v1.2.3"),
		metric.WithInstrumentationAttributes(attribute.Bool("scoped", true)))
	ctx := context.Background()

	a := metric.WithAttributes(attribute.String("app", "shop"), attribute.Int("code", 200))
	c, _ := meter.Float64Counter("c", metric.WithUnit("{request}"), metric.WithDescription("requests"))
	c.Add(ctx, 2, a)
	c.Add(ctx, 3, a)
	ic, _ := meter.Int64Counter("ic")
	ic.Add(ctx, 7)
	ud, _ := meter.Float64UpDownCounter("ud")
	ud.Add(ctx, -2.5)
	g, _ := meter.Float64Gauge("g")
	g.Record(ctx, 1.5)
	g.Record(ctx, 4)
	ig, _ := meter.Int64Gauge("ig")
	ig.Record(ctx, -3)
	h, _ := meter.Float64Histogram("h", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.1, 1))
	for _, v := range []float64{0.05, 0.5, 0.7, 3} {
		h.Record(ctx, v)
	}
	e, _ := meter.Float64Histogram("exp")
	e.Record(ctx, 1)
	e.Record(ctx, 2)
	e.Record(ctx, 0)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	md := Convert(&rm)

	if md.ResourceMetrics().Len() != 1 {
		t.Fatalf("%d resources", md.ResourceMetrics().Len())
	}
	out := md.ResourceMetrics().At(0)
	if got := attrs(out.Resource().Attributes()); got != "service.name=web" {
		t.Errorf("resource attributes %q", got)
	}
	if out.SchemaUrl() != "https://opentelemetry.io/schemas/1.26.0" {
		t.Errorf("schema URL %q", out.SchemaUrl())
	}
	sm := out.ScopeMetrics().At(0)
	if sm.Scope().Name() != "scope" || sm.Scope().Version() != "v1.2.3" || attrs(sm.Scope().Attributes()) != "scoped=bool:true" {
		t.Errorf("scope %q %q %q", sm.Scope().Name(), sm.Scope().Version(), attrs(sm.Scope().Attributes()))
	}
	got := map[string]pmetric.Metric{}
	for i := 0; i < sm.Metrics().Len(); i++ {
		got[sm.Metrics().At(i).Name()] = sm.Metrics().At(i)
	}
	if len(got) != 7 {
		t.Fatalf("metrics %v, want 7", keys(got))
	}

	cm := got["c"]
	if cm.Unit() != "{request}" || cm.Description() != "requests" {
		t.Errorf("c: unit %q description %q", cm.Unit(), cm.Description())
	}
	wantPoints(t, "c", sumPoints(t, cm), map[string]float64{"app=shop,code=int:200": 5})
	dp := cm.Sum().DataPoints().At(0)
	if dp.ValueType() != pmetric.NumberDataPointValueTypeDouble || dp.StartTimestamp() == 0 || dp.Timestamp() < dp.StartTimestamp() {
		t.Errorf("c: value type %v, start %v, time %v", dp.ValueType(), dp.StartTimestamp(), dp.Timestamp())
	}
	wantPoints(t, "ic", sumPoints(t, got["ic"]), map[string]float64{"": 7})
	if vt := got["ic"].Sum().DataPoints().At(0).ValueType(); vt != pmetric.NumberDataPointValueTypeInt {
		t.Errorf("ic value type %v, want Int", vt)
	}

	udm := got["ud"]
	if udm.Type() != pmetric.MetricTypeSum || udm.Sum().IsMonotonic() ||
		udm.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
		t.Errorf("ud: %v monotonic=%v", udm.Type(), udm.Sum().IsMonotonic())
	}
	wantPoints(t, "ud", numberPoints(t, "ud", udm.Sum().DataPoints()), map[string]float64{"": -2.5})

	wantPoints(t, "g", numberPoints(t, "g", got["g"].Gauge().DataPoints()), map[string]float64{"": 4})
	wantPoints(t, "ig", numberPoints(t, "ig", got["ig"].Gauge().DataPoints()), map[string]float64{"": -3})

	hm := got["h"]
	if hm.Type() != pmetric.MetricTypeHistogram || hm.Unit() != "s" ||
		hm.Histogram().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
		t.Fatalf("h: %v %q %v", hm.Type(), hm.Unit(), hm.Histogram().AggregationTemporality())
	}
	hp := hm.Histogram().DataPoints().At(0)
	if hp.Count() != 4 || hp.Sum() != 4.25 || hp.Min() != 0.05 || hp.Max() != 3 ||
		!slices.Equal(hp.ExplicitBounds().AsRaw(), []float64{0.1, 1}) ||
		!slices.Equal(hp.BucketCounts().AsRaw(), []uint64{1, 2, 1}) {
		t.Errorf("h: count %d sum %v min %v max %v bounds %v counts %v",
			hp.Count(), hp.Sum(), hp.Min(), hp.Max(), hp.ExplicitBounds().AsRaw(), hp.BucketCounts().AsRaw())
	}

	em := got["exp"]
	if em.Type() != pmetric.MetricTypeExponentialHistogram {
		t.Fatalf("exp: %v", em.Type())
	}
	ep := em.ExponentialHistogram().DataPoints().At(0)
	var total uint64
	for _, n := range ep.Positive().BucketCounts().AsRaw() {
		total += n
	}
	if ep.Count() != 3 || ep.Sum() != 3 || ep.ZeroCount() != 1 || total != 2 || ep.Min() != 0 || ep.Max() != 2 {
		t.Errorf("exp: count %d sum %v zero %d positive %d (scale %d offset %d) min %v max %v",
			ep.Count(), ep.Sum(), ep.ZeroCount(), total, ep.Scale(), ep.Positive().Offset(), ep.Min(), ep.Max())
	}
}

// TestConvertLiteral covers what the SDK path above does not produce:
// delta temporality, summaries, int histograms, every attribute type,
// unset extrema and zero times.
func TestConvertLiteral(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	t1 := t0.Add(time.Minute)
	set := attribute.NewSet(
		attribute.Bool("b", true),
		attribute.Int64("i", -1),
		attribute.Float64("f", 0.5),
		attribute.String("s", "x"),
		attribute.BoolSlice("bs", []bool{true, false}),
		attribute.Int64Slice("is", []int64{1, 2}),
		attribute.Float64Slice("fs", []float64{1.5}),
		attribute.StringSlice("ss", []string{"a", "b"}),
		attribute.KeyValue{Key: "by", Value: attribute.ByteSliceValue([]byte("hi"))},
		attribute.KeyValue{Key: "sl", Value: attribute.SliceValue(attribute.IntValue(1), attribute.StringValue("two"))},
		attribute.KeyValue{Key: "m", Value: attribute.MapValue(attribute.String("k", "v"))},
	)
	rm := metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{
		Metrics: []metricdata.Metrics{
			{Name: "delta", Data: metricdata.Sum[int64]{
				Temporality: metricdata.DeltaTemporality, IsMonotonic: true,
				DataPoints: []metricdata.DataPoint[int64]{{Attributes: set, StartTime: t0, Time: t1, Value: 3}},
			}},
			{Name: "ih", Data: metricdata.Histogram[int64]{
				Temporality: metricdata.DeltaTemporality,
				DataPoints: []metricdata.HistogramDataPoint[int64]{{
					Time: t1, Count: 2, Sum: 7, Bounds: []float64{5}, BucketCounts: []uint64{1, 1},
				}},
			}},
			{Name: "sum", Data: metricdata.Summary{DataPoints: []metricdata.SummaryDataPoint{{
				Time: t1, Count: 10, Sum: 55,
				QuantileValues: []metricdata.QuantileValue{{Quantile: 0.5, Value: 5}, {Quantile: 1, Value: 10}},
			}}}},
			{Name: "unknown", Data: nil},
		},
	}}}
	md := Convert(&rm)
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	if ms.Len() != 3 {
		t.Fatalf("%d metrics, want 3 (an unknown aggregation is skipped)", ms.Len())
	}

	d := ms.At(0).Sum()
	if d.AggregationTemporality() != pmetric.AggregationTemporalityDelta || !d.IsMonotonic() {
		t.Errorf("delta: %v monotonic %v", d.AggregationTemporality(), d.IsMonotonic())
	}
	dp := d.DataPoints().At(0)
	if dp.IntValue() != 3 || dp.StartTimestamp().AsTime() != t0.UTC() || dp.Timestamp().AsTime() != t1.UTC() {
		t.Errorf("delta point %d %v %v", dp.IntValue(), dp.StartTimestamp(), dp.Timestamp())
	}
	want := map[string]any{
		"b": true, "i": int64(-1), "f": 0.5, "s": "x",
		"bs": []any{true, false}, "is": []any{int64(1), int64(2)}, "fs": []any{1.5}, "ss": []any{"a", "b"},
		"by": []byte("hi"), "sl": []any{int64(1), "two"}, "m": map[string]any{"k": "v"},
	}
	wantMap := pcommon.NewMap()
	if err := wantMap.FromRaw(want); err != nil {
		t.Fatal(err)
	}
	if !dp.Attributes().Equal(wantMap) {
		t.Errorf("attributes %v\nwant %v", dp.Attributes().AsRaw(), want)
	}

	h := ms.At(1).Histogram()
	hp := h.DataPoints().At(0)
	if h.AggregationTemporality() != pmetric.AggregationTemporalityDelta || hp.Count() != 2 || hp.Sum() != 7 ||
		hp.HasMin() || hp.HasMax() || hp.StartTimestamp() != 0 {
		t.Errorf("ih: %v count %d sum %v hasMin %v hasMax %v start %v",
			h.AggregationTemporality(), hp.Count(), hp.Sum(), hp.HasMin(), hp.HasMax(), hp.StartTimestamp())
	}

	sp := ms.At(2).Summary().DataPoints().At(0)
	qs := sp.QuantileValues()
	if sp.Count() != 10 || sp.Sum() != 55 || qs.Len() != 2 || qs.At(0).Quantile() != 0.5 || qs.At(1).Value() != 10 {
		t.Errorf("summary: count %d sum %v quantiles %d", sp.Count(), sp.Sum(), qs.Len())
	}

	// No resource: an empty one.
	if n := md.ResourceMetrics().At(0).Resource().Attributes().Len(); n != 0 {
		t.Errorf("resource attributes %d, want 0", n)
	}
}

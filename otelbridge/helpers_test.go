package otelbridge

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// stubMapper maps generically, as the real mapper does for names it does not
// know: counter → Counter, gauge → Gauge, ms → Histogram in seconds ("s",
// scale 0.001), h/d → Histogram as sent (unit from units, else ""). Tags
// become attributes. Names in drop are dropped; kinds and units can be forced
// per name.
type stubMapper struct {
	drop  map[string]bool
	kinds map[string]mapper.Kind
	units map[string]string
	ttls  map[string]time.Duration
}

func (m *stubMapper) Map(s *statsd.Sample) *mapper.Mapping {
	name := string(s.Name)
	if m.drop[name] {
		return &mapper.Mapping{Drop: true}
	}
	mp := &mapper.Mapping{Name: name, Scale: 1}
	switch s.Type {
	case statsd.Counter:
		mp.Kind = mapper.KindCounter
	case statsd.Gauge:
		mp.Kind = mapper.KindGauge
	case statsd.Timer:
		mp.Kind, mp.Unit, mp.Scale = mapper.KindHistogram, "s", 0.001
	default:
		mp.Kind = mapper.KindHistogram
	}
	if k, ok := m.kinds[name]; ok {
		mp.Kind = k
	}
	if u, ok := m.units[name]; ok {
		mp.Unit = u
	}
	mp.TTL = m.ttls[name]
	var kvs []attribute.KeyValue
	it := s.TagIter()
	for it.Next() {
		kvs = append(kvs, attribute.String(string(it.Key()), string(it.Value())))
	}
	mp.Attributes = attribute.NewSet(kvs...)
	return mp
}

// newTestBridge returns a bridge recording into a fresh SDK MeterProvider
// read by a ManualReader. It logs nothing unless opts set a logger.
func newTestBridge(t testing.TB, opts ...Option) (*Bridge, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	b, err := New(mp, append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, reader
}

func feed(b *Bridge, lines ...string) {
	for _, l := range lines {
		b.HandleDatagram([]byte(l))
	}
}

func collect(t testing.TB, r sdkmetric.Reader) *metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return &rm
}

// metricsOf returns the metrics of one scope, by name.
func metricsOf(rm *metricdata.ResourceMetrics, scope string) map[string]metricdata.Metrics {
	out := make(map[string]metricdata.Metrics)
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != scope {
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// attrKey renders an attribute set as "k=v,k=v" (sorted, as Set keeps them),
// with the value's type for non-strings: "code=int:200".
func attrKey(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		v := kv.Value.String()
		if kv.Value.Type() != attribute.STRING {
			v = strings.ToLower(kv.Value.Type().String()) + ":" + v
		}
		parts = append(parts, string(kv.Key)+"="+v)
	}
	return strings.Join(parts, ",")
}

// byAttrs returns the values of points by their attributes (attrKey).
func byAttrs[N int64 | float64](dps []metricdata.DataPoint[N]) map[string]N {
	out := make(map[string]N, len(dps))
	for _, dp := range dps {
		out[attrKey(dp.Attributes)] = dp.Value
	}
	return out
}

// sumValues returns a Sum[float64]'s points by attributes, checking it is a
// cumulative sum with the given monotonicity.
func sumValues(t testing.TB, m metricdata.Metrics, monotonic bool) map[string]float64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[float64])
	if !ok {
		t.Fatalf("%s: data is %T, want Sum[float64]", m.Name, m.Data)
	}
	if sum.IsMonotonic != monotonic || sum.Temporality != metricdata.CumulativeTemporality {
		t.Fatalf("%s: monotonic=%v temporality=%v", m.Name, sum.IsMonotonic, sum.Temporality)
	}
	return byAttrs(sum.DataPoints)
}

func intSumValues(t testing.TB, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: data is %T, want Sum[int64]", m.Name, m.Data)
	}
	return byAttrs(sum.DataPoints)
}

func gaugeValues(t testing.TB, m metricdata.Metrics) map[string]float64 {
	t.Helper()
	g, ok := m.Data.(metricdata.Gauge[float64])
	if !ok {
		t.Fatalf("%s: data is %T, want Gauge[float64]", m.Name, m.Data)
	}
	return byAttrs(g.DataPoints)
}

func histPoints(t testing.TB, m metricdata.Metrics) map[string]metricdata.HistogramDataPoint[float64] {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s: data is %T, want Histogram[float64]", m.Name, m.Data)
	}
	out := make(map[string]metricdata.HistogramDataPoint[float64])
	for _, dp := range h.DataPoints {
		out[attrKey(dp.Attributes)] = dp
	}
	return out
}

func equalMaps[V comparable](t testing.TB, what string, got, want map[string]V) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
		return
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s: got %v, want %v", what, got, want)
			return
		}
	}
}

func names(ms map[string]metricdata.Metrics) []string {
	var out []string
	for n := range ms {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func mustMetric(t testing.TB, ms map[string]metricdata.Metrics, name, unit string) metricdata.Metrics {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		t.Fatalf("no metric %q; have %v", name, names(ms))
	}
	if m.Unit != unit {
		t.Errorf("%s: unit %q, want %q", name, m.Unit, unit)
	}
	return m
}

// fakeClock is a clock for the bridge (withClock) that tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := new(fakeClock)
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// set puts the clock at d after its start.
func (c *fakeClock) set(d time.Duration) {
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(d).UnixNano())
}

// seconds is s seconds as a Duration (s may have a fraction).
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

package main

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/gunicornotel/gunicornotel/mapper"
)

// newTestSummary declares name with opts and returns its instrument and a
// registry serving the table.
func newTestSummary(t testing.TB, s *summaries, name string, opts *mapper.SummaryOptions, ttl time.Duration) (*summaryInstrument, *prometheus.Registry) {
	t.Helper()
	s.declare(name, opts, ttl, "help")
	inst := s.instrument(name)
	if inst == nil {
		t.Fatalf("%s: not declared", name)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	return inst, reg
}

// gatherSummaries returns the family's summaries by their labels.
func gatherSummaries(t testing.TB, reg *prometheus.Registry, name string) map[string]*dto.Summary {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.Summary{}
	for _, f := range fams {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				out[labelKey(m)] = m.GetSummary()
			}
		}
	}
	return out
}

func record(inst metric.Float64Histogram, v float64, kvs ...attribute.KeyValue) {
	inst.Record(context.Background(), v, metric.WithAttributeSet(attribute.NewSet(kvs...)))
}

// TestSummaryQuantiles: on 100000 known values, each quantile is the value of
// a rank within the objective's error of the quantile's, _count and _sum
// exact.
func TestSummaryQuantiles(t *testing.T) {
	s := newSummaries(100, 100, 0)
	inst, reg := newTestSummary(t, s, "lat", mapper.DefaultSummary, 0)
	const n = 100000
	vals := make([]float64, n)
	r := rand.New(rand.NewPCG(1, 2))
	var sum float64
	for i := range vals {
		vals[i] = r.ExpFloat64() * 0.1
	}
	opt := metric.WithAttributeSet(attribute.NewSet(attribute.String("route", "/x")))
	for _, v := range vals {
		inst.Record(context.Background(), v, opt)
		sum += v
	}
	got := gatherSummaries(t, reg, "lat")["route=/x"]
	if got.GetSampleCount() != n || math.Abs(got.GetSampleSum()-sum) > 1e-9*sum {
		t.Errorf("count %d sum %v, want %d %v", got.GetSampleCount(), got.GetSampleSum(), n, sum)
	}
	slices.Sort(vals)
	if len(got.GetQuantile()) != 3 {
		t.Fatalf("quantiles %v", got.GetQuantile())
	}
	for _, q := range got.GetQuantile() {
		var eps float64
		for _, o := range mapper.DefaultObjectives {
			if o.Quantile == q.GetQuantile() {
				eps = o.Error
			}
		}
		rank, _ := slices.BinarySearch(vals, q.GetValue())
		if phi := float64(rank) / n; math.Abs(phi-q.GetQuantile()) > eps {
			t.Errorf("quantile %v: %v has rank %v, want within %v", q.GetQuantile(), q.GetValue(), phi, eps)
		}
	}
}

// TestSummaryMaxAge: observations leave the quantiles after max_age (the
// count and sum stay, as in client_golang).
func TestSummaryMaxAge(t *testing.T) {
	s := newSummaries(100, 100, 0)
	inst, reg := newTestSummary(t, s, "aged", &mapper.SummaryOptions{Objectives: mapper.DefaultObjectives, MaxAge: 300 * time.Millisecond, AgeBuckets: 2}, 0)
	record(inst, 5)
	if q := gatherSummaries(t, reg, "aged")[""].GetQuantile()[0].GetValue(); q != 5 {
		t.Fatalf("median %v, want 5", q)
	}
	time.Sleep(400 * time.Millisecond)
	got := gatherSummaries(t, reg, "aged")[""]
	if q := got.GetQuantile()[0].GetValue(); !math.IsNaN(q) || got.GetSampleCount() != 1 {
		t.Errorf("after max_age: median %v count %d, want NaN and 1", q, got.GetSampleCount())
	}
}

// TestSummaryTTL: a series without observations for its ttl is forgotten at
// a scrape, its room given back; the next observation starts it again.
func TestSummaryTTL(t *testing.T) {
	s := newSummaries(100, 100, 0)
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	inst, reg := newTestSummary(t, s, "ttl", mapper.DefaultSummary, time.Minute)
	record(inst, 1, attribute.String("a", "1"))
	record(inst, 1, attribute.String("a", "2"))
	now = now.Add(30 * time.Second)
	record(inst, 1, attribute.String("a", "2"))
	if got := gatherSummaries(t, reg, "ttl"); len(got) != 2 {
		t.Fatalf("series %v, want 2", got)
	}
	now = now.Add(31 * time.Second)
	got := gatherSummaries(t, reg, "ttl")
	if _, ok := got["a=2"]; len(got) != 1 || !ok {
		t.Errorf("after the ttl of a=1: series %v, want a=2 alone", got)
	}
	if s.nseries != 1 || s.bytes != inst.cost || s.expired.Load() != 1 {
		t.Errorf("series %d bytes %d expired %d, want 1 %d 1", s.nseries, s.bytes, s.expired.Load(), inst.cost)
	}
	record(inst, 3, attribute.String("a", "1"))
	if c := gatherSummaries(t, reg, "ttl")["a=1"].GetSampleCount(); c != 1 {
		t.Errorf("a=1 started again with count %d, want 1", c)
	}
}

// TestSummaryLimits: series over --otel.max-histogram-series, or over
// --otel.max-memory with the bridge's state, go to the overflow series,
// counted by reason; the bridge's own overflow series is that series too.
func TestSummaryLimits(t *testing.T) {
	s := newSummaries(2, 100, 0)
	inst, reg := newTestSummary(t, s, "lim", mapper.DefaultSummary, 0)
	for i := range 5 {
		record(inst, 1, attribute.Int("i", i))
	}
	record(inst, 1, attribute.Bool("otel.metric.overflow", true))
	got := gatherSummaries(t, reg, "lim")
	want := map[string]uint64{"i=0": 1, "i=1": 1, "otel_metric_overflow=true": 4}
	if len(got) != len(want) {
		t.Errorf("series %v, want %v", got, want)
	}
	for k, c := range want {
		if got[k].GetSampleCount() != c {
			t.Errorf("%s count %d, want %d", k, got[k].GetSampleCount(), c)
		}
	}
	if s.overSeries.Load() != 3 {
		t.Errorf("histogram_series_limit %d, want 3", s.overSeries.Load())
	}

	// Memory: the bridge reports all but one series' worth used.
	cost := summarySeriesCost(mapper.DefaultSummary)
	m := newSummaries(100, 100, 10*cost)
	other := func() int64 { return 9 * cost }
	m.otherBytes.Store(&other)
	inst, _ = newTestSummary(t, m, "mem", mapper.DefaultSummary, 0)
	for i := range 3 {
		record(inst, 1, attribute.Int("i", i))
	}
	if m.nseries != 1 || m.overMemory.Load() != 2 {
		t.Errorf("series %d memory_limit %d, want 1 and 2", m.nseries, m.overMemory.Load())
	}

	// Names: the table holds at most maxNames declarations.
	d := newSummaries(10, 1, 0)
	d.declare("a", mapper.DefaultSummary, 0, "")
	d.declare("b", mapper.DefaultSummary, 0, "")
	if d.instrument("b") != nil || d.instrument("a") == nil {
		t.Error("the second name was declared over the limit of 1")
	}
}

// TestSummarySeriesCost: what a series counts for is at least what it
// takes once its buffers and streams are full.
func TestSummarySeriesCost(t *testing.T) {
	const series = 50
	var before, after runtimeMem
	before.read()
	s := newSummaries(series, 10, 0)
	inst, _ := newTestSummary(t, s, "cost", mapper.DefaultSummary, 0)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range series {
		opt := metric.WithAttributeSet(attribute.NewSet(attribute.Int("i", i)))
		for range 20000 {
			inst.Record(context.Background(), r.ExpFloat64(), opt)
		}
	}
	after.read()
	runtime.KeepAlive(s)
	runtime.KeepAlive(inst)
	per := (after.heap - before.heap) / series
	cost := summarySeriesCost(mapper.DefaultSummary)
	t.Logf("a default summary series takes %d bytes; counted for %d", per, cost)
	if per > uint64(cost) {
		t.Errorf("a series takes %d bytes, counted for %d", per, cost)
	}
}

// BenchmarkSummaryObserve is the summary path per observation in steady
// state: the instrument's Record with the bridge's prebuilt option, a
// series with three attributes, statsd_exporter's default objectives.
func BenchmarkSummaryObserve(b *testing.B) {
	s := newSummaries(10, 10, 0)
	inst, _ := newTestSummary(b, s, "bench", mapper.DefaultSummary, time.Hour)
	opts := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(
		attribute.String("app", "shop.web"), attribute.String("env", "prod"), attribute.String("route", "/checkout")))}
	r := rand.New(rand.NewPCG(5, 6))
	vals := make([]float64, 4096)
	for i := range vals {
		vals[i] = r.ExpFloat64() * 0.05
	}
	ctx := context.Background()
	for i := range 10000 {
		inst.Record(ctx, vals[i%len(vals)], opts...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		inst.Record(ctx, vals[i%len(vals)], opts...)
	}
}

// runtimeMem is the live heap after a collection.
type runtimeMem struct{ heap uint64 }

func (m *runtimeMem) read() {
	runtime.GC()
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	m.heap = st.HeapAlloc
}

// BenchmarkClientGolangSummaryObserve is what statsd_exporter does per
// observation of a summary once its registry has found the series: the
// same client_golang Summary's Observe, same objectives and values.
func BenchmarkClientGolangSummaryObserve(b *testing.B) {
	sum := prometheus.NewSummary(prometheus.SummaryOpts{Name: "bench", Help: "help",
		Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}})
	r := rand.New(rand.NewPCG(5, 6))
	vals := make([]float64, 4096)
	for i := range vals {
		vals[i] = r.ExpFloat64() * 0.05
	}
	for i := range 10000 {
		sum.Observe(vals[i%len(vals)])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		sum.Observe(vals[i%len(vals)])
	}
}

package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

func TestNewNilProvider(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Fatal("New(nil) did not fail")
	}
}

func TestCounterSampleRate(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}))
	feed(b,
		"a:1|c|@0.1",          // 10
		"b:1|c|@0.5", "b:3|c", // 2 + 3
		"c:1|c|@0.25|#k:v",     // 4
		"c:2|c|@0.125|#k:v",    // 16
		"d:0.5|c|@0.2",         // 2.5
		"e:1|c|@1.0\ne:1|c|@1", // two lines in one datagram
	)
	ms := metricsOf(collect(t, r), ScopeName)
	for name, want := range map[string]map[string]float64{
		"a": {"": 10},
		"b": {"": 5},
		"c": {"k=v": 20},
		"d": {"": 2.5},
		"e": {"": 2},
	} {
		equalMaps(t, name, sumValues(t, mustMetric(t, ms, name, ""), true), want)
	}
	st := b.Stats()
	if st.Datagrams != 7 || st.Samples != 8 || st.Recorded != 8 || st.Rejected != 0 {
		t.Errorf("stats %+v", st)
	}
	if st.SamplesByType["counter"] != 8 {
		t.Errorf("by type %v", st.SamplesByType)
	}
}

func TestHistogramSampleRate(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}))
	// Timer at rate 0.3: weights 3.33..., recorded 3, 3, 4 times: 10 per 3.
	for i := 0; i < 6; i++ {
		feed(b, "t:100|ms|@0.3")
	}
	// Histogram at 0.5: 2 each; at 1: 1.
	feed(b, "h:2|h|@0.5", "h:4|h")
	// Distribution at 0.7 (weight 1.428...): 1, 1, 2 (acc 4.28 after 3), ...
	for i := 0; i < 7; i++ {
		feed(b, "d:1|d|@0.7") // 7 samples weigh 10 exactly
	}
	ms := metricsOf(collect(t, r), ScopeName)

	tp := histPoints(t, mustMetric(t, ms, "t", "s"))[""]
	if tp.Count != 20 || math.Abs(tp.Sum-2) > 1e-9 {
		t.Errorf("timer @0.3 x6: count %d sum %v, want 20, 2", tp.Count, tp.Sum)
	}
	hp := histPoints(t, mustMetric(t, ms, "h", ""))[""]
	if hp.Count != 3 || hp.Sum != 8 {
		t.Errorf("histogram: count %d sum %v, want 3, 8", hp.Count, hp.Sum)
	}
	dp := histPoints(t, mustMetric(t, ms, "d", ""))[""]
	if dp.Count != 10 || dp.Sum != 10 {
		t.Errorf("distribution @0.7 x7: count %d sum %v, want 10, 10", dp.Count, dp.Sum)
	}
}

func TestHistogramWeightSequence(t *testing.T) {
	st := &seriesState{}
	var got []int
	for i := 0; i < 9; i++ {
		got = append(got, st.weigh(1/0.3))
	}
	want := []int{3, 3, 4, 3, 3, 4, 3, 3, 4}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("weights at 0.3: %v, want %v", got, want)
	}
}

func TestHistogramWeightCapped(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}))
	feed(b, "h:1|h|@0.00001", "h:1|h|@0.5")
	hp := histPoints(t, mustMetric(t, metricsOf(collect(t, r), ScopeName), "h", ""))[""]
	if hp.Count != DefaultMaxSampleWeight+2 {
		t.Errorf("count %d, want %d", hp.Count, DefaultMaxSampleWeight+2)
	}
	if st := b.Stats(); st.WeightCapped != 1 || st.WeightCappedByReason[ReasonSampleWeight] != 1 || st.Recorded != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestGauge(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}))
	feed(b,
		"g:5|g", "g:+3|g", // 8
		"h:+2|g", "h:-5|g", // delta from nothing: 0+2-5 = -3
		"i:7|g", "i:-2|g", "i:4|g", // absolute after delta: 4
		"j:1|g|#k:a", "j:2|g|#k:b", "j:+1|g|#k:a", // per series: 2, 2
		"k:1.5|g|@0.5", // rate is ignored for gauges
	)
	ms := metricsOf(collect(t, r), ScopeName)
	for name, want := range map[string]map[string]float64{
		"g": {"": 8},
		"h": {"": -3},
		"i": {"": 4},
		"j": {"k=a": 2, "k=b": 2},
		"k": {"": 1.5},
	} {
		equalMaps(t, name, gaugeValues(t, mustMetric(t, ms, name, "")), want)
	}
}

func TestUpDownCounter(t *testing.T) {
	m := &stubMapper{kinds: map[string]mapper.Kind{"u": mapper.KindUpDownCounter, "v": mapper.KindUpDownCounter}}
	b, r := newTestBridge(t, WithMapper(m))
	feed(b, "u:5|g", "u:3|g", "u:+4|g", "u:-1|g") // follows the gauge: 6
	feed(b, "v:1|c|@0.5", "v:-3|c")               // counter samples: 2 - 3 = -1
	ms := metricsOf(collect(t, r), ScopeName)
	equalMaps(t, "u", sumValues(t, mustMetric(t, ms, "u", ""), false), map[string]float64{"": 6})
	equalMaps(t, "v", sumValues(t, mustMetric(t, ms, "v", ""), false), map[string]float64{"": -1})
}

func TestRejections(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{
		drop:  map[string]bool{"dropme": true},
		kinds: map[string]mapper.Kind{"nokind": 0},
	}))
	feed(b,
		"c:1|c", "c:-1|c", "c:-0.5|c|@0.5", // negative_counter x2
		"big:1e308|c|@0.1",        // overflows to +Inf: bad_value
		"g:1e308|g", "g:+1e308|g", // the delta overflows: bad_value
		"nonsense", "x:1|zz", "x:abc|c", // malformed_line, bad_type, bad_value (parser)
		"s:member|s", // unsupported_type
		"dropme:1|c", "dropme:2|c",
		"1abc:1|c",   // bad_name
		"nokind:1|c", // Kind 0: bad_name
	)
	ms := metricsOf(collect(t, r), ScopeName)
	equalMaps(t, "c", sumValues(t, mustMetric(t, ms, "c", ""), true), map[string]float64{"": 1})
	equalMaps(t, "g", gaugeValues(t, mustMetric(t, ms, "g", "")), map[string]float64{"": 1e308})
	if _, ok := ms["1abc"]; ok {
		t.Error("bad name recorded")
	}
	if m, ok := ms["big"]; ok { // made, but no sample of it was accepted
		t.Errorf("series with only rejected samples reported: %+v", m.Data)
	}
	st := b.Stats()
	want := map[string]uint64{
		"negative_counter": 2, "bad_value": 3, "malformed_line": 1, "bad_type": 1,
		"unsupported_type": 1, "bad_name": 2,
	}
	equalMaps(t, "rejected", st.RejectedByReason, want)
	if st.Rejected != 10 || st.Dropped != 2 || st.Recorded != 2 {
		t.Errorf("stats %+v", st)
	}
	// Every parsed sample is recorded, dropped or rejected (3 lines never parsed).
	if st.Samples != st.Recorded+st.Dropped+st.Rejected-3 {
		t.Errorf("samples %d != %d + %d + %d - 3", st.Samples, st.Recorded, st.Dropped, st.Rejected)
	}
}

func TestTypeConflict(t *testing.T) {
	m := &stubMapper{units: map[string]string{"lat": "s"}}
	b, r := newTestBridge(t, WithMapper(m))
	feed(b,
		"x:1|c|#k:a", "x:2|c|#k:b", // x is a counter
		"x:5|g|#k:a", "x:+1|g", // type_conflict x2
		"x:3|c|#k:a", "x:4|c|#k:b", // both counter series still work
		"X:1|c",                   // same name for the SDK (case-insensitive): allowed, same kind
		"X:1|g",                   // conflict with x
		"lat:250|ms", "lat:0.5|h", // timer (s, scale 0.001) and histogram (s): one instrument
		"lat:1|d",         // distribution: also s here
		"y:1|ms", "y:1|h", // timer "s" vs histogram "": conflict by unit
	)
	ms := metricsOf(collect(t, r), ScopeName)
	// X:1|c is recorded in x, with no attributes.
	equalMaps(t, "x", sumValues(t, mustMetric(t, ms, "x", ""), true), map[string]float64{"k=a": 4, "k=b": 6, "": 1})
	if _, ok := ms["X"]; ok {
		t.Errorf("X made a second instrument")
	}
	lat := histPoints(t, mustMetric(t, ms, "lat", "s"))[""]
	if lat.Count != 3 || lat.Sum != 1.75 {
		t.Errorf("lat count %d sum %v", lat.Count, lat.Sum)
	}
	y := histPoints(t, mustMetric(t, ms, "y", "s"))[""]
	if y.Count != 1 {
		t.Errorf("y count %d", y.Count)
	}
	st := b.Stats()
	equalMaps(t, "rejected", st.RejectedByReason, map[string]uint64{"type_conflict": 4})
}

func TestSeriesOverflowPerInstrument(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}), WithMaxSeriesPerInstrument(3))
	for i := 0; i < 5; i++ {
		feed(b, fmt.Sprintf("c:1|c|#id:%d", i))
	}
	feed(b, "c:10|c|#id:0", "c:100|c|#id:4", "other:1|c|#id:9")
	ms := metricsOf(collect(t, r), ScopeName)
	equalMaps(t, "c", sumValues(t, mustMetric(t, ms, "c", ""), true), map[string]float64{
		"id=0": 11, "id=1": 1, "otel.metric.overflow=bool:true": 103,
	})
	equalMaps(t, "other", sumValues(t, ms["other"], true), map[string]float64{"id=9": 1})
	st := b.Stats()
	if st.SeriesOverflow != 4 || st.Rejected != 0 || st.Recorded != 8 || st.Series != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestSeriesOverflowTotal(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}), WithMaxSeries(2))
	feed(b, "a:1|c", "b:1|c", "c:1|c", "c:2|c", "a:5|c")
	ms := metricsOf(collect(t, r), ScopeName)
	equalMaps(t, "a", sumValues(t, ms["a"], true), map[string]float64{"": 6})
	equalMaps(t, "c", sumValues(t, ms["c"], true), map[string]float64{"otel.metric.overflow=bool:true": 3})
	if st := b.Stats(); st.SeriesOverflow != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestNameLimit(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}), WithMaxInstruments(2))
	feed(b, "1x:1|c", "2y:1|c", "3z:1|c") // bad names take no slot
	feed(b, "a:1|c", "b:1|g", "c:1|c", "d:1|ms", "a:1|c", "c:1|c")
	ms := metricsOf(collect(t, r), ScopeName)
	if len(ms) != 2+14 { // a, b and the bridge's own 14 (all but the overflow counter)
		t.Errorf("metrics %v", names(ms))
	}
	equalMaps(t, "a", sumValues(t, ms["a"], true), map[string]float64{"": 2})
	st := b.Stats()
	equalMaps(t, "rejected", st.RejectedByReason, map[string]uint64{"name_limit": 3, "bad_name": 3})
	if st.Instruments != 2 {
		t.Errorf("instruments %d", st.Instruments)
	}
}

func TestSetMapper(t *testing.T) {
	m1 := &stubMapper{}
	b, r := newTestBridge(t, WithMapper(m1))
	feed(b, "a:1|c", "a:1|c", "g:5|g")
	m2 := &stubMapper{drop: map[string]bool{"a": true}}
	b.SetMapper(m2)
	feed(b, "a:1|c", "g:+1|g") // a now dropped; g keeps its last value
	ms := metricsOf(collect(t, r), ScopeName)
	equalMaps(t, "a", sumValues(t, ms["a"], true), map[string]float64{"": 2})
	equalMaps(t, "g", gaugeValues(t, ms["g"]), map[string]float64{"": 6})
	if st := b.Stats(); st.Dropped != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestTelemetry(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}), WithMeterName("mapped"))
	feed(b, "a:1|c", "a:1|c\nb:2|g\nbad", "t:1|ms", "s:x|s")
	rm := collect(t, r)
	if _, ok := metricsOf(rm, "mapped")["a"]; !ok {
		t.Fatal("mapped instruments not under their scope")
	}
	ms := metricsOf(rm, ScopeName)
	one := func(name string) int64 {
		t.Helper()
		v := intSumValues(t, mustMetric(t, ms, name, ms[name].Unit))
		if len(v) != 1 {
			t.Fatalf("%s: %v", name, v)
		}
		for _, x := range v {
			return x
		}
		return 0
	}
	if got := one(MetricDatagrams); got != 4 {
		t.Errorf("datagrams %d", got)
	}
	equalMaps(t, "samples", intSumValues(t, ms[MetricSamples]), map[string]int64{
		"statsd.metric.type=counter": 2, "statsd.metric.type=gauge": 1,
		"statsd.metric.type=timer": 1, "statsd.metric.type=set": 1,
	})
	equalMaps(t, "rejected", intSumValues(t, ms[MetricRejected]), map[string]int64{
		"reason=malformed_line": 1, "reason=unsupported_type": 1,
	})
	if got := one(MetricRecorded); got != 4 {
		t.Errorf("recorded %d", got)
	}
	if got := one(MetricSeries); got != 3 {
		t.Errorf("series %d", got)
	}
	if got := one(MetricInstruments); got != 3 {
		t.Errorf("instruments %d", got)
	}
	if got := one(MetricSeriesCacheMisses); got != 3 {
		t.Errorf("series cache misses %d", got)
	}
	if got := one(MetricSeriesCacheHits); got != 1 {
		t.Errorf("series cache hits %d", got)
	}
	if _, ok := ms[MetricSeriesOverflow]; ok {
		t.Errorf("%s reported with no overflow", MetricSeriesOverflow)
	}
	equalMaps(t, "weight capped", intSumValues(t, ms[MetricWeightCapped]), map[string]int64{"reason=sample_weight": 0, "reason=datagram_weight": 0})
	equalMaps(t, "removed", intSumValues(t, ms[MetricSeriesRemoved]), map[string]int64{"reason=ttl": 0, "reason=idle": 0})
}

func TestTelemetryOff(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}), WithTelemetry(false))
	feed(b, "a:1|c")
	ms := metricsOf(collect(t, r), ScopeName)
	if len(ms) != 1 {
		t.Errorf("metrics %v", names(ms))
	}
	if b.Stats().Datagrams != 1 {
		t.Error("stats not counted")
	}
}

func TestNoopProvider(t *testing.T) {
	b, err := New(noop.NewMeterProvider(), WithMapper(&stubMapper{}))
	if err != nil {
		t.Fatal(err)
	}
	feed(b, "a:1|c", "g:1|g", "t:1|ms|@0.5")
	if st := b.Stats(); st.Recorded != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestHandleBatch(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}))
	var p statsd.Parser
	var batch statsd.Batch
	p.Parse(&batch, []byte("a:1|c\na:2|c"))
	p.Parse(&batch, []byte("a:1:2:3|c|#k:v\n:1|c"))
	b.Handle(&batch)
	ms := metricsOf(collect(t, r), ScopeName)
	equalMaps(t, "a", sumValues(t, ms["a"], true), map[string]float64{"": 3, "k=v": 6})
	st := b.Stats()
	if st.Datagrams != 2 || st.Samples != 5 || st.RejectedByReason["empty_name"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestConcurrentHandle(t *testing.T) {
	m := &stubMapper{kinds: map[string]mapper.Kind{"u": mapper.KindUpDownCounter}}
	b, r := newTestBridge(t, WithMapper(m), WithMaxSeriesPerInstrument(5))
	const workers, n = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				feed(b,
					"c:1|c",
					fmt.Sprintf("c:1|c|#w:%d", w), // 8 series over a limit of 5: overflow
					"t:1000|ms|@0.5",
					"g:+1|g",
					"u:+2|g",
					"bad",
				)
				if i == n/2 && w == 0 {
					b.SetMapper(m) // a reload in the middle
				}
			}
		}()
	}
	wg.Wait()
	ms := metricsOf(collect(t, r), ScopeName)
	total := 0.0
	for _, v := range sumValues(t, ms["c"], true) {
		total += v
	}
	if total != 2*workers*n {
		t.Errorf("c total %v", total)
	}
	if got := sumValues(t, ms["c"], true)["otel.metric.overflow=bool:true"]; got != (workers-3)*n { // "" and 3 workers fit in 5 (one is the overflow series)
		t.Errorf("overflow %v", got)
	}
	tp := histPoints(t, ms["t"])[""]
	if tp.Count != 2*workers*n || tp.Sum != 2*workers*n {
		t.Errorf("t count %d sum %v", tp.Count, tp.Sum)
	}
	equalMaps(t, "g", gaugeValues(t, ms["g"]), map[string]float64{"": workers * n})
	equalMaps(t, "u", sumValues(t, ms["u"], false), map[string]float64{"": 2 * workers * n})
	st := b.Stats()
	if st.Datagrams != 6*workers*n || st.Recorded != 5*workers*n || st.RejectedByReason["malformed_line"] != workers*n ||
		st.SeriesOverflow != (workers-3)*n {
		t.Errorf("stats %+v", st)
	}
}

func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	b, _ := newTestBridge(t, WithMapper(&stubMapper{}))
	lines := [][]byte{
		[]byte("myapp.gunicorn.request.duration:12.5|ms|#env:prod"),
		[]byte("myapp.gunicorn.requests:1|c|@1.0|#env:prod"),
		[]byte("myapp.gunicorn.workers:4|g"),
		[]byte("g:+1|g"),
		[]byte("t:1|ms|@0.3"),
		[]byte("bad"),
		[]byte("s:x|s"),
	}
	for _, l := range lines {
		b.HandleDatagram(l)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, l := range lines {
			b.HandleDatagram(l)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs per run", allocs)
	}
}

func TestParserAndClose(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}), WithParser(statsd.Parser{MaxLineLength: 16}))
	b.HandleDatagram([]byte("a:1|c\nloooooooooooong:1|c"))
	ms := metricsOf(collect(t, r), ScopeName)
	if _, ok := ms[MetricDatagrams]; !ok {
		t.Fatal("no telemetry before Close")
	}
	equalMaps(t, "rejected", b.Stats().RejectedByReason, map[string]uint64{"too_long": 1})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b.HandleDatagram([]byte("a:1|c")) // still records after Close
	ms = metricsOf(collect(t, r), ScopeName)
	if _, ok := ms[MetricDatagrams]; ok {
		t.Error("telemetry still registered after Close")
	}
	equalMaps(t, "a", sumValues(t, ms["a"], true), map[string]float64{"": 2})
}

// errProvider's meters refuse to make counters named "refused".
type errProvider struct{ metric.MeterProvider }

func (p errProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return errMeter{p.MeterProvider.Meter(name, opts...)}
}

type errMeter struct{ metric.Meter }

func (m errMeter) Float64ObservableCounter(name string, opts ...metric.Float64ObservableCounterOption) (metric.Float64ObservableCounter, error) {
	if name == "refused" {
		return nil, errors.New("refused")
	}
	return m.Meter.Float64ObservableCounter(name, opts...)
}

func TestInstrumentError(t *testing.T) {
	b, err := New(errProvider{noop.NewMeterProvider()}, WithMapper(&stubMapper{}))
	if err != nil {
		t.Fatal(err)
	}
	feed(b, "refused:1|c", "refused:1|c|#k:v", "fine:1|c")
	st := b.Stats()
	equalMaps(t, "rejected", st.RejectedByReason, map[string]uint64{"instrument_error": 2})
	if st.Recorded != 1 || st.Instruments != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestSeveralMetricReaders: one provider read by two readers (say Prometheus
// and OTLP) sees the same data in both.
func TestSeveralMetricReaders(t *testing.T) {
	r1, r2 := sdkmetric.NewManualReader(), sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r1), sdkmetric.WithReader(r2))
	defer mp.Shutdown(context.Background())
	b, err := New(mp, WithMapper(&stubMapper{}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	feed(b, "c:1|c|@0.5", "g:3|g", "g:-1|g", "t:500|ms|@0.5")
	for i, r := range []*sdkmetric.ManualReader{r1, r2} {
		ms := metricsOf(collect(t, r), ScopeName)
		equalMaps(t, fmt.Sprint("reader ", i, " c"), sumValues(t, ms["c"], true), map[string]float64{"": 2})
		equalMaps(t, fmt.Sprint("reader ", i, " g"), gaugeValues(t, ms["g"]), map[string]float64{"": 2})
		if dp := histPoints(t, ms["t"])[""]; dp.Count != 2 || dp.Sum != 1 {
			t.Errorf("reader %d: t count %d sum %v", i, dp.Count, dp.Sum)
		}
		if got := intSumValues(t, ms[MetricDatagrams])[""]; got != 4 {
			t.Errorf("reader %d: datagrams %d", i, got)
		}
	}
}

func TestSetMapperCacheStats(t *testing.T) {
	m1, _ := mapper.New()
	m2, _ := mapper.New()
	b, _ := newTestBridge(t, WithMapper(m1))
	feed(b, "app.gunicorn.requests:1|c", "app.gunicorn.workers:2|g", "app.gunicorn.requests:1|c")
	before := b.Stats()
	if before.MapperCacheMisses != 2 {
		t.Fatalf("mapper misses %d", before.MapperCacheMisses)
	}
	b.SetMapper(m2)
	if st := b.Stats(); st.MapperCacheMisses != 2 || st.MapperCacheHits != before.MapperCacheHits {
		t.Errorf("after SetMapper: %+v", st)
	}
	feed(b, "app.gunicorn.requests:1|c")
	if st := b.Stats(); st.MapperCacheMisses != 3 || st.SeriesCacheMisses != 3 {
		t.Errorf("after one more: %+v", st)
	}
}

// TestCollectWhileMakingInstruments collects over and over while samples make
// new instruments. The SDK runs the bridge's callbacks under its pipeline lock
// and takes that lock to register a callback: no callback may wait for a lock
// the bridge holds while it makes an instrument, or the two deadlock.
func TestCollectWhileMakingInstruments(t *testing.T) {
	b, r := newTestBridge(t) // the real mapper, telemetry on
	const names = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range names {
			b.HandleDatagram(fmt.Appendf(nil, "app.metric%d:1|c", i))
		}
	}()
	collected := make(chan error)
	go func() {
		defer close(collected)
		for {
			select {
			case <-done:
				return
			default:
			}
			var rm metricdata.ResourceMetrics
			if err := r.Collect(context.Background(), &rm); err != nil {
				collected <- err
				return
			}
		}
	}()
	select {
	case err, ok := <-collected:
		if ok {
			t.Fatalf("Collect: %v", err)
		}
	case <-time.After(20 * time.Second):
		// The cleanup would block on the same locks: stop here, with every
		// goroutine's stack.
		panic("deadlock: collecting and making instruments did not finish within 20s")
	}
	// The Gunicorn profile's six instruments are made at once.
	if st := b.Stats(); st.Instruments != names+6 || st.Recorded != names {
		t.Errorf("stats: %d instruments, %d recorded; want %d and %d", st.Instruments, st.Recorded, names+6, names)
	}
}

// TestTagsDropped: a tag the parser cannot read (no key) and tags the mapper
// leaves out (a reserved label, a key given twice) are counted by reason, in
// Stats and in the bridge's telemetry, and the samples are recorded without
// them.
func TestTagsDropped(t *testing.T) {
	b, r := newTestBridge(t)
	b.HandleDatagram([]byte("m:1|c|#:x,le:evil,env:prod,env:dev\nm:2|c|#:y,env:prod"))
	st := b.Stats()
	want := map[string]uint64{"bad_tag": 2, "reserved": 1, "conflict": 1}
	if !maps.Equal(st.TagsDropped, want) {
		t.Errorf("TagsDropped %v, want %v", st.TagsDropped, want)
	}
	if st.Recorded != 2 || st.Rejected != 0 {
		t.Errorf("recorded %d, rejected %d; want 2, 0", st.Recorded, st.Rejected)
	}
	ms := metricsOf(collect(t, r), ScopeName)
	equalMaps(t, MetricTagsDropped, intSumValues(t, mustMetric(t, ms, MetricTagsDropped, "{tag}")),
		map[string]int64{"reason=bad_tag": 2, "reason=reserved": 1, "reason=conflict": 1})
	equalMaps(t, "m", sumValues(t, mustMetric(t, ms, "m", ""), true), map[string]float64{"env=dev": 1, "env=prod": 2}) // a key given twice: the last one counts, as statsd_exporter
}

package otelbridge

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/mapper"
)

func TestOptionErrors(t *testing.T) {
	mp := noop.NewMeterProvider()
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithMapper(nil), "otelbridge: WithMapper(nil): a Mapper is required"},
		{WithMeterName(""), `otelbridge: WithMeterName(""): the name must not be empty`},
		{WithLogger(nil), "otelbridge: WithLogger(nil): a logger is required (slog.New(slog.DiscardHandler) logs nothing)"},
		{WithMaxInstruments(0), "otelbridge: WithMaxInstruments(0): must be at least 1"},
		{WithMaxSeries(0), "otelbridge: WithMaxSeries(0): must be at least 1"},
		{WithMaxSeries(-5), "otelbridge: WithMaxSeries(-5): must be at least 1"},
		{WithMaxSeriesPerInstrument(1), "otelbridge: WithMaxSeriesPerInstrument(1): must be at least 2"},
		{WithMaxHistogramSeries(0), "otelbridge: WithMaxHistogramSeries(0): must be at least 1"},
		{WithMaxReservedSeries(0), "otelbridge: WithMaxReservedSeries(0): must be at least 1"},
		{WithMaxAttributeBytes(0), "otelbridge: WithMaxAttributeBytes(0): must be at least 1"},
		{WithMaxMemory(1000), "otelbridge: WithMaxMemory(1000): must be at least 1 MiB (1048576)"},
		{WithMaxSampleWeight(0), "otelbridge: WithMaxSampleWeight(0): must be at least 1"},
		{WithMaxDatagramWeight(-1), "otelbridge: WithMaxDatagramWeight(-1): must be at least 0"},
		{WithReclaimIdle(time.Millisecond), "otelbridge: WithReclaimIdle(1ms): must be at least 1s"},
	} {
		if _, err := New(mp, tc.opt); err == nil || err.Error() != tc.want {
			t.Errorf("New: err = %v; want %q", err, tc.want)
		}
		// Listen takes the same options, and fails the same way, before
		// binding anything.
		if _, err := Listen("127.0.0.1:0", mp, tc.opt); err == nil || err.Error() != tc.want {
			t.Errorf("Listen: err = %v; want %q", err, tc.want)
		}
	}
	// Every invalid option is named, not only the first.
	_, err := New(mp, WithMaxSeries(0), WithMaxInstruments(0))
	if want := "otelbridge: WithMaxSeries(0): must be at least 1\notelbridge: WithMaxInstruments(0): must be at least 1"; err == nil || err.Error() != want {
		t.Errorf("two invalid options: err = %v; want %q", err, want)
	}
	if _, err := Listen("127.0.0.1:0", mp, WithServer(nil)); err == nil || err.Error() != "otelbridge: WithServer(nil): a Server is required" {
		t.Errorf("Listen(WithServer(nil)): err = %v", err)
	}
	// The smallest valid values are taken.
	if _, err := New(mp, WithMaxSeries(1), WithMaxSeriesPerInstrument(2), WithMaxMemory(1<<20),
		WithMaxDatagramWeight(0), WithMaxSampleWeight(1), WithReclaimIdle(time.Second)); err != nil {
		t.Errorf("smallest values: %v", err)
	}
}

// collectValues collects r and returns the points of the named sums and
// gauges of ScopeName by attributes ("" for none).
func collectValues(t *testing.T, r sdkmetric.Reader, names ...string) map[string]map[string]float64 {
	t.Helper()
	ms := metricsOf(collect(t, r), ScopeName)
	out := make(map[string]map[string]float64)
	for _, n := range names {
		m, ok := ms[n]
		if !ok {
			continue
		}
		switch d := m.Data.(type) {
		case metricdata.Sum[float64]:
			out[n] = byAttrs(d.DataPoints)
		case metricdata.Gauge[float64]:
			out[n] = byAttrs(d.DataPoints)
		case metricdata.Histogram[float64]:
			pts := make(map[string]float64)
			for _, dp := range d.DataPoints {
				pts[attrKey(dp.Attributes)] = float64(dp.Count)
			}
			out[n] = pts
		}
	}
	return out
}

// ttlMapper gives a and g a ttl of 10s, h (a histogram) too, and k none.
func ttlMapper() *stubMapper {
	return &stubMapper{ttls: map[string]time.Duration{"a": 10 * time.Second, "g": 10 * time.Second, "h": 10 * time.Second}}
}

// TestTTL: a series not updated for its mapping's ttl disappears from the
// collection that follows, and its memory is given back; one that comes back
// starts again. Epochs (see epochs) advance at each collection here, so a
// series is due ttl after the collection that followed its last sample.
func TestTTL(t *testing.T) {
	for _, temporality := range []metricdata.Temporality{metricdata.CumulativeTemporality, metricdata.DeltaTemporality} {
		t.Run(temporality.String(), func(t *testing.T) { testTTL(t, temporality) })
	}
}

func testTTL(t *testing.T, temporality metricdata.Temporality) {
	clk := newFakeClock()
	r := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality { return temporality }))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	defer mp.Shutdown(context.Background())
	b, err := New(mp, WithMapper(ttlMapper()), withClock(clk.Now), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	at := func(s float64, lines ...string) map[string]map[string]float64 {
		t.Helper()
		clk.set(seconds(s))
		feed(b, lines...)
		return collectValues(t, r, "a", "g", "k", "h")
	}
	delta := temporality == metricdata.DeltaTemporality
	pick := func(cumulative, deltaValue float64) float64 {
		if delta {
			return deltaValue
		}
		return cumulative
	}
	check := func(when string, got map[string]map[string]float64, want map[string]map[string]float64) {
		t.Helper()
		for _, n := range []string{"a", "g", "k"} {
			equalMaps(t, when+" "+n, got[n], want[n])
		}
	}
	got := at(0, "a:1|c", "g:5|g", "k:1|c", "h:1|h")
	check("t=0", got, map[string]map[string]float64{"a": {"": 1}, "g": {"": 5}, "k": {"": 1}})
	memory := b.Stats().Memory
	check("t=1", at(1), map[string]map[string]float64{"a": {"": pick(1, 0)}, "g": {"": 5}, "k": {"": pick(1, 0)}})
	check("t=4", at(4, "a:1|c"), map[string]map[string]float64{"a": {"": pick(2, 1)}, "g": {"": 5}, "k": {"": pick(1, 0)}})
	// g's last sample was before the collection at t=1: due at t=11.
	check("t=10.999", at(10.999), map[string]map[string]float64{"a": {"": pick(2, 0)}, "g": {"": 5}, "k": {"": pick(1, 0)}})
	check("t=11", at(11), map[string]map[string]float64{"a": {"": pick(2, 0)}, "k": {"": pick(1, 0)}})
	if st := b.Stats(); st.SeriesExpired != 1 || st.Series != 3 {
		t.Errorf("t=11: expired %d, series %d; want 1, 3", st.SeriesExpired, st.Series)
	}
	// a's, after the collection at t=4: due at t=14.
	check("t=14", at(14), map[string]map[string]float64{"k": {"": pick(1, 0)}})
	st := b.Stats()
	if st.SeriesExpired != 2 || st.Series != 2 {
		t.Errorf("t=14: expired %d, series %d; want 2, 2", st.SeriesExpired, st.Series)
	}
	// Their memory is given back: what is left is their instruments and
	// their series table entries.
	if want := memory - 2*observableCost(0, 0); st.Memory != want {
		t.Errorf("memory %d, want %d (%d less two series)", st.Memory, want, memory)
	}
	// a comes back: a new series, from 0 (in delta too: 1, not 1-2).
	check("t=15", at(15, "a:1|c", "g:+2|g"), map[string]map[string]float64{"a": {"": 1}, "g": {"": 2}, "k": {"": pick(1, 0)}})
	if st := b.Stats(); st.Series != 4 || st.Memory != memory {
		t.Errorf("t=15: series %d, memory %d; want 4, %d", st.Series, st.Memory, memory)
	}
	// The documented limitation: histogram series are never forgotten.
	if got := at(40)["h"]; !delta && got[""] != 1 {
		t.Errorf("histogram h at t=40: %v; want its one observation still reported", got)
	}
}

// observableCost is seriesCost of a counter or gauge series, written out.
func observableCost(n, raw int64) int64 { return 4096 + 576*n + 3*raw }

// TestTTLPrometheus: the same through the Prometheus exporter: an expired
// series is gone from the next scrape.
func TestTTLPrometheus(t *testing.T) {
	clk := newFakeClock()
	url, mp := promServer(t)
	b, err := New(mp, WithMapper(ttlMapper()), withClock(clk.Now), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	feed(b, "a:1|c|#env:prod", "k:1|c")
	clk.set(seconds(1))
	if fams := scrape(t, url); fams["a_total"] == nil || fams["k_total"] == nil {
		t.Fatalf("t=1: families %v", familyNames(fams))
	}
	clk.set(seconds(10.5))
	if fams := scrape(t, url); fams["a_total"] == nil {
		t.Fatalf("t=10.5: a_total gone early: %v", familyNames(fams))
	}
	clk.set(seconds(11))
	fams := scrape(t, url)
	if fams["a_total"] != nil || fams["k_total"] == nil {
		t.Fatalf("t=11: families %v; want k_total and no a_total", familyNames(fams))
	}
	feed(b, "a:3|c|#env:prod")
	clk.set(seconds(12))
	fams = scrape(t, url)
	if got := promValues(t, promFamily(t, fams, "a_total", dto.MetricType_COUNTER), ScopeName); len(got) != 1 || got["env=prod"] != 3 {
		t.Errorf("t=12: a_total %v; want env=prod 3", got)
	}
}

func familyNames[V any](m map[string]V) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	return out
}

// TestReclaimIdle: when a limit on series is nearly used up, series idle for
// WithReclaimIdle are forgotten at the next collection, and samples that went
// to the overflow series get series of their own again.
func TestReclaimIdle(t *testing.T) {
	clk := newFakeClock()
	var logs bytes.Buffer
	b, r := newTestBridge(t, WithMapper(&stubMapper{}), withClock(clk.Now), WithMaxSeries(10),
		WithReclaimIdle(time.Minute), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	for i := range 5 {
		feed(b, fmt.Sprintf("app:1|c|#id:%d", i))
	}
	for i := range 10 {
		feed(b, fmt.Sprintf("flood:1|c|#id:%d", i))
	}
	want := map[string]float64{"otel.metric.overflow=bool:true": 5}
	for i := range 5 {
		want[fmt.Sprintf("id=%d", i)] = 1
	}
	clk.set(seconds(1))
	equalMaps(t, "flood at t=1", collectValues(t, r, "flood")["flood"], want)
	if st := b.Stats(); st.SeriesOverflowByReason[ReasonSeriesLimit] != 5 {
		t.Errorf("overflow %v", st.SeriesOverflowByReason)
	}
	// app stays busy; flood goes idle after t=0.
	clk.set(seconds(30))
	for i := range 5 {
		feed(b, fmt.Sprintf("app:1|c|#id:%d", i))
	}
	equalMaps(t, "flood at t=30", collectValues(t, r, "flood")["flood"], want)
	clk.set(seconds(61))
	got := collectValues(t, r, "app", "flood")
	equalMaps(t, "flood at t=61", got["flood"], map[string]float64{"otel.metric.overflow=bool:true": 5})
	if len(got["app"]) != 5 {
		t.Errorf("app at t=61: %v; want its 5 series", got["app"])
	}
	st := b.Stats()
	if st.SeriesReclaimed != 5 || st.Series != 5+2 { // app's 5 and two overflow series (flood's, app's none: 1)
		t.Logf("series %d", st.Series)
	}
	if st.SeriesReclaimed != 5 {
		t.Errorf("reclaimed %d, want 5", st.SeriesReclaimed)
	}
	// Room again: flood:1|c|#id:7, which overflowed, and a new name get
	// series of their own.
	feed(b, "flood:2|c|#id:7", "new:1|c")
	got = collectValues(t, r, "flood", "new")
	equalMaps(t, "flood after", got["flood"], map[string]float64{"otel.metric.overflow=bool:true": 5, "id=7": 2})
	equalMaps(t, "new", got["new"], map[string]float64{"": 1})
	if st := b.Stats(); st.SeriesOverflow != 5 {
		t.Errorf("overflow %d, want still 5", st.SeriesOverflow)
	}
	for _, want := range []string{
		`level=WARN msg="otelbridge: a limit dropped data" limit=series_limit option=WithMaxSeries value=10 count=1 `,
		`level=WARN msg="otelbridge: a limit dropped data" limit=idle_reclaimed option=WithReclaimIdle value=1m0s count=5 `,
	} {
		if strings.Count(logs.String(), want) != 1 {
			t.Errorf("log: want one line with %q; have\n%s", want, logs.String())
		}
	}
	// Without pressure, idle series are kept: app has 5 of 10 series.
	clk.set(seconds(200))
	if got := collectValues(t, r, "app")["app"]; len(got) != 5 {
		t.Errorf("app at t=200: %v", got)
	}
}

// floodThenGunicorn floods the bridge with junk names, then junk series
// (counters, histograms, wide tags), then impersonating names of another
// kind, as any client on the port may, and then feeds a Gunicorn capture.
func floodThenGunicorn(t *testing.T, b *Bridge) {
	t.Helper()
	for i := range 150 {
		feed(b, fmt.Sprintf("junk.c%d:1|c", i), fmt.Sprintf("junk.h%d:1|ms", i))
	}
	for _, name := range []string{"c1|c", "h1|ms", "c2|c", "c3|c"} {
		name, typ, _ := strings.Cut(name, "|")
		for i := range 1000 {
			feed(b, fmt.Sprintf("junk.%s:1|%s|#id:%d", name, typ, i))
		}
	}
	// Gunicorn's instrument names with other kinds: type conflicts, not
	// squatters.
	feed(b, "gunicorn.requests:1|g", "gunicorn.request.duration:1|c", "gunicorn.workers:1|ms")
	st := b.Stats()
	for _, r := range []string{ReasonInstrumentSeriesLimit, ReasonSeriesLimit, ReasonHistogramSeriesLimit} {
		if st.SeriesOverflowByReason[r] == 0 {
			t.Errorf("the flood did not reach %s: %v", r, st.SeriesOverflowByReason)
		}
	}
	if st.RejectedByReason[ReasonNameLimit] != 200 || st.RejectedByReason[ReasonTypeConflict] != 3 {
		t.Errorf("rejected %v; want 200 name_limit and 3 type_conflict", st.RejectedByReason)
	}
}

// TestGunicornSurvivesFloods: whatever junk came first (names over the name
// limit, series over every series limit, Gunicorn's names with other kinds),
// Gunicorn's own metrics are recorded exactly: the profile has instruments and
// series of its own.
func TestGunicornSurvivesFloods(t *testing.T) {
	opts := []Option{WithMaxInstruments(100), WithMaxSeries(1500), WithMaxSeriesPerInstrument(400), WithMaxHistogramSeries(300)}
	const attrs = "app=shop.web,env=prod,team=web"
	const status = "app=shop.web,env=prod,http.response.status_code=int64:"
	checkCaptureAfter(t, floodThenGunicorn, opts, "gunicorn-20.1-prefix-tags.statsd", wantCapture{
		requests: map[string]float64{attrs: 5},
		responses: map[string]float64{
			status + "200,team=web": 2,
			status + "201,team=web": 1,
			status + "404,team=web": 1,
			status + "500,team=web": 1,
		},
		workers: map[string]float64{attrs: 2},
		logs: map[string]float64{
			"app=shop.web,env=prod,level=exception,team=web": 1,
			"app=shop.web,env=prod,level=critical,team=web":  1,
			"app=shop.web,env=prod,level=warning,team=web":   1,
		},
		durations: map[string][]float64{attrs: {0.493, 0.908, 1.73, 0.241, 1.739}},
	})
}

// TestGunicornSurvivesMemoryFlood: the same when wide tags use up the
// memory limit.
func TestGunicornSurvivesMemoryFlood(t *testing.T) {
	flood := func(t *testing.T, b *Bridge) {
		// 31 distinct tags of 250 bytes each: under the mapper's limits of
		// 32 tags and 256 bytes, about 8 KB a series.
		var wide strings.Builder
		for k := range 31 {
			fmt.Fprintf(&wide, "t%d:%s,", k, strings.Repeat("v", 250))
		}
		for i := range 2000 {
			feed(b, fmt.Sprintf("junk.%d:1|ms|#%sid:%d", i%50, wide.String(), i))
		}
		if st := b.Stats(); st.SeriesOverflowByReason[ReasonMemoryLimit] == 0 {
			t.Errorf("the flood did not reach the memory limit: %+v", st)
		}
	}
	opts := []Option{WithMaxMemory(8 << 20), WithMaxAttributeBytes(1 << 20)}
	checkCaptureAfter(t, flood, opts, "gunicorn-20.1-plain.statsd", wantCapture{
		requests: map[string]float64{"": 3},
		responses: map[string]float64{
			"http.response.status_code=int64:200": 2,
			"http.response.status_code=int64:404": 1,
		},
		workers:   map[string]float64{"": 1},
		durations: map[string][]float64{"": {0.55, 1.612, 1200.623}},
	})
}

// TestReservedInstrumentsMadeFirst: the Gunicorn profile's instruments exist
// before any sample, so another mapping cannot take their names.
func TestReservedInstrumentsMadeFirst(t *testing.T) {
	b, _ := newTestBridge(t)
	if st := b.Stats(); st.Instruments != 6 {
		t.Errorf("instruments %d, want the profile's 6", st.Instruments)
	}
	m, _ := mapper.New(mapper.WithoutGunicornProfile())
	b2, _ := newTestBridge(t, WithMapper(m))
	if st := b2.Stats(); st.Instruments != 0 {
		t.Errorf("without the profile: instruments %d, want 0", st.Instruments)
	}
	// A reload to a mapper with the profile makes them.
	b2.SetMapper(mustMapper(t))
	if st := b2.Stats(); st.Instruments != 6 {
		t.Errorf("after SetMapper: instruments %d, want 6", st.Instruments)
	}
}

func mustMapper(t *testing.T, opts ...mapper.Option) *mapper.Mapper {
	t.Helper()
	m, err := mapper.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReservedSeriesLimit: the reserved room has its own limit.
func TestReservedSeriesLimit(t *testing.T) {
	var logs bytes.Buffer
	b, r := newTestBridge(t, WithMaxReservedSeries(2), WithMaxSeries(1), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	feed(b, "a.gunicorn.requests:1|c", "b.gunicorn.requests:1|c", "c.gunicorn.requests:1|c", "x:1|c", "y:1|c")
	ms := metricsOf(collect(t, r), ScopeName)
	equalMaps(t, "requests", sumValues(t, ms[mapper.NameRequests], true), map[string]float64{
		"app=a": 1, "app=b": 1, "otel.metric.overflow=bool:true": 1,
	})
	st := b.Stats()
	equalMaps(t, "overflow", st.SeriesOverflowByReason, map[string]uint64{ReasonReservedSeriesLimit: 1, ReasonSeriesLimit: 1})
	if st.ReservedSeries != 2 {
		t.Errorf("reserved series %d", st.ReservedSeries)
	}
	for _, want := range []string{
		"limit=reserved_series_limit option=WithMaxReservedSeries value=2 count=1 ",
		"limit=series_limit option=WithMaxSeries value=1 count=1 ",
	} {
		if strings.Count(logs.String(), want) != 1 {
			t.Errorf("log: want one line with %q; have\n%s", want, logs.String())
		}
	}
}

// TestMemoryAccountingExact: what the bridge counts, to the byte, by the
// formulas of the package documentation, and the memory limit applied to the
// byte.
func TestMemoryAccountingExact(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}), WithMaxMemory(1<<20))
	if st := b.Stats(); st.Memory != 0 {
		t.Fatalf("memory before any sample %d", st.Memory)
	}
	feed(b, "c:1|c|#env:prod,team:web")
	// Instrument: 8192 + its overflow series (one attribute,
	// otel.metric.overflow, 20 bytes). Series: two attributes of 14 bytes.
	// Table entry: 160 + name, 2, tags.
	counterInst := int64(8192 + 4096 + 576 + 3*20)
	want := counterInst + (4096 + 2*576 + 3*14) + (160 + 1 + 2 + 17)
	if st := b.Stats(); st.Memory != want {
		t.Errorf("one counter series: memory %d, want %d", st.Memory, want)
	}
	feed(b, "t:1|ms|#a:b")
	// A histogram with the default 15 boundaries: 7 KiB + 15 KiB, 1280 per
	// attribute, and (15+5) times each attribute's bytes plus 16.
	histInst := int64(8192 + 7168 + 15*1024 + 1280 + 20*(20+16))
	want += histInst + (7168 + 15*1024 + 1280 + 20*(2+16)) + (160 + 1 + 2 + 3)
	if st := b.Stats(); st.Memory != want {
		t.Errorf("and a histogram series: memory %d, want %d", st.Memory, want)
	}
	// The same series under another raw form (tags in another order): one
	// more table entry, no more series.
	feed(b, "c:5|c|#team:web,env:prod")
	want += 160 + 1 + 2 + 17
	if st := b.Stats(); st.Memory != want || st.Series != 2 {
		t.Errorf("same series, other order: memory %d, series %d; want %d, 2", st.Memory, st.Series, want)
	}
	// A reload clears the series table.
	b.SetMapper(&stubMapper{})
	want -= 2*(160+1+2+17) + (160 + 1 + 2 + 3)
	if st := b.Stats(); st.Memory != want {
		t.Errorf("after SetMapper: memory %d, want %d", st.Memory, want)
	}

	// The limit: other series get 1 MiB less two eighths (series table,
	// reserved series). Each m series has one attribute of 6 bytes.
	var logs bytes.Buffer
	b2, r2 := newTestBridge(t, WithMapper(&stubMapper{}), WithMaxMemory(1<<20), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	room := int64(1<<20 - 2*(1<<17) - counterInst)
	each := observableCost(1, 6)
	fit := room / each
	for i := range 1000 {
		feed(b2, fmt.Sprintf("m:1|c|#id:%d", 1000+i))
	}
	ms := metricsOf(collect(t, r2), ScopeName)
	got := sumValues(t, ms["m"], true)
	if int64(len(got)) != fit+1 || got["otel.metric.overflow=bool:true"] != float64(1000-fit) {
		t.Errorf("m: %d series, overflow %v; want %d and %d", len(got), got["otel.metric.overflow=bool:true"], fit+1, 1000-fit)
	}
	st := b2.Stats()
	equalMaps(t, "overflow", st.SeriesOverflowByReason, map[string]uint64{ReasonMemoryLimit: uint64(1000 - fit)})
	if pools := b2.generic.bytes.Load(); pools != counterInst+fit*each {
		t.Errorf("generic memory %d, want %d", pools, counterInst+fit*each)
	}
	// A new instrument does not fit either: rejected as memory_limit.
	feed(b2, "other:1|c")
	if st := b2.Stats(); st.RejectedByReason[ReasonMemoryLimit] != 1 {
		t.Errorf("rejected %v", st.RejectedByReason)
	}
	// Logged once: the first overflow; the rest within the minute wait.
	if want := "limit=memory_limit option=WithMaxMemory value=1048576 count=1 "; strings.Count(logs.String(), want) != 1 ||
		strings.Count(logs.String(), "\n") != 1 {
		t.Errorf("log: want one line with %q; have\n%s", want, logs.String())
	}
	_ = r
}

// TestAttributeBytes: a series whose attributes weigh more than
// WithMaxAttributeBytes (64 per attribute plus key and value) overflows.
func TestAttributeBytes(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}), WithMaxAttributeBytes(100))
	v30 := strings.Repeat("v", 30)
	feed(b, "a:1|c|#k:"+v30, "a:1|c|#k:"+v30+"x,j:"+v30, "a:1|c|#k:"+strings.Repeat("v", 35)) // 95, 191, 100
	got := sumValues(t, metricsOf(collect(t, r), ScopeName)["a"], true)
	equalMaps(t, "a", got, map[string]float64{"k=" + v30: 1, "k=" + strings.Repeat("v", 35): 1, "otel.metric.overflow=bool:true": 1})
	equalMaps(t, "overflow", b.Stats().SeriesOverflowByReason, map[string]uint64{ReasonAttributeBytes: 1})
}

// TestCounterWeightCapped: a counter's 1/rate is capped as a histogram's is.
func TestCounterWeightCapped(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}), WithMaxSampleWeight(100))
	feed(b, "x:1|c|@1e-308", "x:2|c|@0.5", "u:1|c|@0.0001")
	ms := metricsOf(collect(t, r), ScopeName)
	equalMaps(t, "x", sumValues(t, ms["x"], true), map[string]float64{"": 100 + 4})
	st := b.Stats()
	equalMaps(t, "capped", st.WeightCappedByReason, map[string]uint64{ReasonSampleWeight: 2})
	if st.WeightCapped != 2 || st.Recorded != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestDatagramWeight: a datagram of sampled histogram lines records at most
// WithMaxDatagramWeight observations beyond one per line.
func TestDatagramWeight(t *testing.T) {
	b, r := newTestBridge(t, WithMapper(&stubMapper{}))
	d := sampledTimerFlood()
	lines := bytes.Count(d, []byte("\n"))
	b.HandleDatagram(d)
	dp := histPoints(t, metricsOf(collect(t, r), ScopeName)["x"])[""]
	if want := uint64(lines + DefaultMaxDatagramWeight); dp.Count != want {
		t.Errorf("count %d, want %d lines + %d", dp.Count, lines, DefaultMaxDatagramWeight)
	}
	// 10 lines at weight 1000 fit (999 more each), the 11th takes the rest.
	st := b.Stats()
	equalMaps(t, "capped", st.WeightCappedByReason, map[string]uint64{ReasonDatagramWeight: uint64(lines - 10)})
	if st.Recorded != uint64(lines) {
		t.Errorf("recorded %d", st.Recorded)
	}
	// A datagram of one sampled line is never cut by the budget.
	b2, r2 := newTestBridge(t, WithMapper(&stubMapper{}), WithMaxDatagramWeight(100))
	feed(b2, "y:1|ms|@0.01", "y:1|ms|@0.001", "y:1|ms|@0.001\ny:1|ms|@0.5")
	dp = histPoints(t, metricsOf(collect(t, r2), ScopeName)["y"])[""]
	if dp.Count != 100+101+(101+1) {
		t.Errorf("y count %d, want %d", dp.Count, 100+101+102)
	}
	equalMaps(t, "capped", b2.Stats().WeightCappedByReason, map[string]uint64{ReasonDatagramWeight: 3})
}

// TestLimitLogs: each limit that drops data says so in the log the first
// time, then at most once a minute, with the count since its last line.
func TestLimitLogs(t *testing.T) {
	clk := newFakeClock()
	var mu sync.Mutex
	var logs bytes.Buffer
	h := slog.NewTextHandler(&lockedWriter{&mu, &logs}, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})
	b, _ := newTestBridge(t, WithMapper(&stubMapper{}), withClock(clk.Now), WithLogger(slog.New(h)),
		WithMaxInstruments(3), WithMaxSeriesPerInstrument(3), WithMaxHistogramSeries(1), WithMaxAttributeBytes(80),
		WithMaxSampleWeight(10), WithMaxDatagramWeight(5))
	traffic := func() {
		feed(b, "a:1|c|#k:1", "a:1|c|#k:2", "a:1|c|#k:3", // instrument_series_limit x2
			"t:1|ms|#k:1", "t:1|ms|#k:2", // histogram_series_limit
			"b:1|c|#k:"+strings.Repeat("v", 20), // attribute_bytes
			"c:1|c", "d:1|c",                    // name_limit x2 (a, t, b taken)
			"a:1|c|#k:1|@0.01", // sample_weight
			"t:1|ms|#k:1|@0.1", // datagram_weight
		)
	}
	traffic()
	clk.set(seconds(30))
	traffic()
	lines := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Split(strings.TrimSpace(logs.String()), "\n")
	}
	want := []string{
		`level=WARN msg="otelbridge: a limit dropped data" limit=instrument_series_limit option=WithMaxSeriesPerInstrument value=3 count=1 effect="new series recorded in the instrument's overflow series (otel.metric.overflow=true)"`,
		`level=WARN msg="otelbridge: a limit dropped data" limit=histogram_series_limit option=WithMaxHistogramSeries value=1 count=1 effect="new series recorded in the instrument's overflow series (otel.metric.overflow=true)"`,
		`level=WARN msg="otelbridge: a limit dropped data" limit=attribute_bytes option=WithMaxAttributeBytes value=80 count=1 effect="new series recorded in the instrument's overflow series (otel.metric.overflow=true)"`,
		`level=WARN msg="otelbridge: a limit dropped data" limit=name_limit option=WithMaxInstruments value=3 count=1 effect="samples of new instrument names rejected"`,
		`level=WARN msg="otelbridge: a limit dropped data" limit=sample_weight option=WithMaxSampleWeight value=10 count=1 effect="sample weight capped: fewer observations or a smaller increment recorded"`,
		`level=WARN msg="otelbridge: a limit dropped data" limit=datagram_weight option=WithMaxDatagramWeight value=5 count=1 effect="sample weight capped: fewer observations or a smaller increment recorded"`,
	}
	if got := lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log after two rounds within a minute:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A minute after each first line, the next drop logs what was dropped
	// since: the rest of the first round, the second round, and this one's
	// first.
	clk.set(seconds(61))
	traffic()
	got := lines()[len(want):]
	for _, w := range []string{
		"limit=instrument_series_limit option=WithMaxSeriesPerInstrument value=3 count=2 ",
		"limit=histogram_series_limit option=WithMaxHistogramSeries value=1 count=2 ",
		"limit=attribute_bytes option=WithMaxAttributeBytes value=80 count=2 ",
		"limit=name_limit option=WithMaxInstruments value=3 count=4 ",
		"limit=sample_weight option=WithMaxSampleWeight value=10 count=2 ",
		"limit=datagram_weight option=WithMaxDatagramWeight value=5 count=2 ",
	} {
		n := 0
		for _, l := range got {
			if strings.Contains(l, w) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("third round: want one line with %q; have\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != 6 {
		t.Errorf("third round: %d lines, want 6", len(got))
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// TestSampleAfterForget: a sample of a forgotten series, whose verdict the
// series table still holds, starts the series again.
func TestSampleAfterForget(t *testing.T) {
	clk := newFakeClock()
	b, r := newTestBridge(t, WithMapper(&stubMapper{ttls: map[string]time.Duration{"a": time.Second}}), withClock(clk.Now))
	feed(b, "a:5|c")
	clk.set(seconds(1))
	collect(t, r)
	clk.set(seconds(2))
	if got := collectValues(t, r, "a"); got["a"] != nil {
		t.Fatalf("a not forgotten: %v", got)
	}
	misses := b.Stats().SeriesCacheMisses
	feed(b, "a:1|c")
	equalMaps(t, "a", collectValues(t, r, "a")["a"], map[string]float64{"": 1})
	if st := b.Stats(); st.SeriesCacheMisses != misses || st.Series != 1 || st.SeriesExpired != 1 {
		t.Errorf("stats %+v; want the table's entry found, then mapped again; one series", st)
	}
}

// TestForgetRace: samples and collections that forget series at once keep
// the counts whole: every sample is recorded, and once everything is
// forgotten, no series and no memory is left over.
func TestForgetRace(t *testing.T) {
	clk := newFakeClock()
	b, r := newTestBridge(t, WithMapper(&stubMapper{ttls: map[string]time.Duration{"a": time.Second, "g": time.Second}}),
		withClock(clk.Now), WithTelemetry(false))
	feed(b, "a:1|c", "g:1|g")
	base := b.generic.bytes.Load() - 2*observableCost(0, 0) // the two instruments
	const workers, n = 4, 3000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := range n {
				feed(b, fmt.Sprintf("a:1|c|#w:%d", j%7), fmt.Sprintf("g:%d|g|#w:%d", j, j%5))
				if j%101 == w {
					time.Sleep(20 * time.Microsecond)
				}
			}
		})
	}
	stop := make(chan struct{})
	collected := make(chan struct{})
	var last time.Duration
	go func() {
		defer close(collected)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			last = seconds(float64(i))
			clk.set(last)
			var rm metricdata.ResourceMetrics
			if err := r.Collect(context.Background(), &rm); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-collected
	if st := b.Stats(); st.Recorded != 2+2*workers*n || st.Rejected != 0 {
		t.Errorf("recorded %d, rejected %d; want %d, 0", st.Recorded, st.Rejected, 2+2*workers*n)
	}
	// Everything idle: two collections a ttl apart forget it all.
	clk.set(last + time.Hour)
	collect(t, r)
	clk.set(last + 2*time.Hour)
	collect(t, r)
	st := b.Stats()
	if st.Series != 0 || b.generic.series.Load() != 0 || b.generic.bytes.Load() != base {
		t.Errorf("after forgetting all: series %d (generic %d), memory %d; want 0, 0, %d",
			st.Series, b.generic.series.Load(), b.generic.bytes.Load(), base)
	}
	if st.SeriesExpired < 2+7+5 {
		t.Errorf("expired %d, want at least 14", st.SeriesExpired)
	}
}

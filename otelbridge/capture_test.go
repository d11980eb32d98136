package otelbridge

import (
	"math"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

func readCapture(t testing.TB, name string) [][]byte {
	t.Helper()
	dgs, err := statsdtest.ReadCapture(fixture.CapturePath(name))
	if err != nil {
		t.Fatal(err)
	}
	return dgs
}

// wantCapture is what a capture must collect to, with the real mapper.
type wantCapture struct {
	requests  map[string]float64
	responses map[string]float64
	workers   map[string]float64
	logs      map[string]float64
	// durations in milliseconds as sent, by series
	durations map[string][]float64
}

// httpBucketCounts counts values (seconds) into the HTTP server buckets.
func httpBucketCounts(secs []float64) []uint64 {
	counts := make([]uint64, len(mapper.HTTPServerDurationBuckets)+1)
	for _, v := range secs {
		i, _ := slices.BinarySearch(mapper.HTTPServerDurationBuckets, v) // bucket i holds (b[i-1], b[i]]
		counts[i]++
	}
	return counts
}

func checkCapture(t *testing.T, file string, want wantCapture) {
	checkCaptureAfter(t, nil, nil, file, want)
}

// checkCaptureAfter is checkCapture with a bridge made with opts and fed by
// before first; the capture's metrics are checked, those before feeds aside.
func checkCaptureAfter(t *testing.T, before func(*testing.T, *Bridge), opts []Option, file string, want wantCapture) {
	b, r := newTestBridge(t, opts...) // the default mapper: mapper.New()
	if before != nil {
		before(t, b)
	}
	st0 := b.Stats()
	dgs := readCapture(t, file)
	for _, d := range dgs {
		b.HandleDatagram(d)
	}
	ms := metricsOf(collect(t, r), ScopeName)

	gotNames := names(ms)
	wantNames := []string{
		mapper.NameLogMessages, mapper.NameRequestDuration, mapper.NameRequests, mapper.NameResponses, mapper.NameWorkers,
	}
	for _, n := range gotNames {
		if before == nil && !slices.Contains(wantNames, n) && !slices.Contains(ownMetricNames, n) {
			t.Errorf("unexpected metric %q", n)
		}
	}

	check := func(name, unit string) metricdata.Metrics {
		m := mustMetric(t, ms, name, unit)
		if m.Description == "" {
			t.Errorf("%s: no description", name)
		}
		return m
	}
	equalMaps(t, "requests", sumValues(t, check(mapper.NameRequests, "{request}"), true), want.requests)
	equalMaps(t, "responses", sumValues(t, check(mapper.NameResponses, "{response}"), true), want.responses)
	equalMaps(t, "workers", gaugeValues(t, check(mapper.NameWorkers, "{worker}")), want.workers)
	if want.logs != nil {
		equalMaps(t, "log", sumValues(t, check(mapper.NameLogMessages, "{message}"), true), want.logs)
	} else if _, ok := ms[mapper.NameLogMessages]; ok {
		t.Errorf("unexpected %s", mapper.NameLogMessages)
	}

	hs := histPoints(t, check(mapper.NameRequestDuration, "s"))
	if len(hs) != len(want.durations) {
		t.Errorf("duration series %d, want %d", len(hs), len(want.durations))
	}
	for key, ms := range want.durations {
		dp, ok := hs[key]
		if !ok {
			t.Errorf("no duration series %q", key)
			continue
		}
		var secs []float64
		sum, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
		for _, v := range ms {
			s := v * 0.001 // as the bridge scales it
			secs = append(secs, s)
			sum += s
			lo, hi = min(lo, s), max(hi, s)
		}
		if dp.Count != uint64(len(ms)) {
			t.Errorf("%q: count %d, want %d", key, dp.Count, len(ms))
		}
		if math.Abs(dp.Sum-sum) > 1e-12 {
			t.Errorf("%q: sum %v, want %v", key, dp.Sum, sum)
		}
		if !slices.Equal(dp.Bounds, mapper.HTTPServerDurationBuckets) {
			t.Errorf("%q: bounds %v", key, dp.Bounds)
		}
		if wc := httpBucketCounts(secs); !slices.Equal(dp.BucketCounts, wc) {
			t.Errorf("%q: bucket counts %v, want %v", key, dp.BucketCounts, wc)
		}
		if v, ok := dp.Min.Value(); !ok || v != lo {
			t.Errorf("%q: min %v, want %v", key, v, lo)
		}
		if v, ok := dp.Max.Value(); !ok || v != hi {
			t.Errorf("%q: max %v, want %v", key, v, hi)
		}
	}

	st := b.Stats()
	if st.Datagrams-st0.Datagrams != uint64(len(dgs)) || st.Samples-st0.Samples != uint64(len(dgs)) ||
		st.Recorded-st0.Recorded != uint64(len(dgs)) || st.Rejected != st0.Rejected || st.Dropped != st0.Dropped ||
		st.SeriesOverflow != st0.SeriesOverflow {
		t.Errorf("stats %+v, before the capture %+v", st, st0)
	}
}

var ownMetricNames = []string{
	MetricDatagrams, MetricSamples, MetricRecorded, MetricRejected, MetricForgiven, MetricDropped, MetricWeightCapped,
	MetricSeriesOverflow, MetricSeriesRemoved, MetricSeries, MetricMemory, MetricInstruments,
	MetricSeriesCacheHits, MetricSeriesCacheMisses, MetricMapperCacheHits, MetricMapperCacheMisses, MetricTagsDropped,
}

func TestCapturePrefixTags(t *testing.T) {
	const attrs = "app=shop.web,env=prod,team=web"
	const status = "app=shop.web,env=prod,http.response.status_code=int64:"
	checkCapture(t, "gunicorn-20.1-prefix-tags.statsd", wantCapture{
		requests: map[string]float64{attrs: 5},
		responses: map[string]float64{
			status + "200,team=web": 2,
			status + "201,team=web": 1,
			status + "404,team=web": 1,
			status + "500,team=web": 1,
		},
		workers: map[string]float64{attrs: 2}, // 2, 3, then 2
		logs: map[string]float64{
			"app=shop.web,env=prod,level=exception,team=web": 1,
			"app=shop.web,env=prod,level=critical,team=web":  1,
			"app=shop.web,env=prod,level=warning,team=web":   1,
		},
		durations: map[string][]float64{attrs: {0.493, 0.908, 1.73, 0.241, 1.739}},
	})
}

func TestCapturePlain(t *testing.T) {
	checkCapture(t, "gunicorn-20.1-plain.statsd", wantCapture{
		requests: map[string]float64{"": 3},
		responses: map[string]float64{
			"http.response.status_code=int64:200": 2,
			"http.response.status_code=int64:404": 1,
		},
		workers:   map[string]float64{"": 1},
		durations: map[string][]float64{"": {0.55, 1.612, 1200.623}}, // the last in bucket (1, 2.5]
	})
}

// TestCaptureBucketsByHand pins the bucket counts of the plain capture
// without the helper that computes them.
func TestCaptureBucketsByHand(t *testing.T) {
	b, r := newTestBridge(t)
	for _, d := range readCapture(t, "gunicorn-20.1-plain.statsd") {
		b.HandleDatagram(d)
	}
	dp := histPoints(t, metricsOf(collect(t, r), ScopeName)[mapper.NameRequestDuration])[""]
	want := []uint64{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}
	if !slices.Equal(dp.BucketCounts, want) {
		t.Errorf("bucket counts %v, want %v", dp.BucketCounts, want)
	}
}

// TestGunicornProfileMore covers what the captures do not: the backlog
// histogram-as-gauge, unusual status codes, application metrics sent through
// Gunicorn's logger (generic mapping), sample rates and a type conflict, with
// the real mapper.
func TestGunicornProfileMore(t *testing.T) {
	b, r := newTestBridge(t)
	feed(b,
		"shop.web.gunicorn.backlog:3|h", "shop.web.gunicorn.backlog:5|h",
		"shop.web.gunicorn.request.status.599:1|c|@1.0",
		"shop.web.gunicorn.request.status.1234:1|c|@1.0",
		"shop.web.gunicorn.requests:1|c|@0.25",
		"shop.web.orders:2|c|@0.5",
		"shop.web.queue:+3|g", "shop.web.queue:-1|g",
		"shop.web.render:250|ms|@0.5",
		"shop.web.render:1|h", // the generic histogram has no unit: conflicts with the timer's "s"
		"shop.web.users:alice|s",
	)
	ms := metricsOf(collect(t, r), ScopeName)
	equalMaps(t, "backlog", gaugeValues(t, mustMetric(t, ms, mapper.NameBacklog, "{connection}")),
		map[string]float64{"app=shop.web": 5})
	equalMaps(t, "responses", sumValues(t, ms[mapper.NameResponses], true), map[string]float64{
		"app=shop.web,http.response.status_code=int64:599": 1,
		"app=shop.web,error.type=invalid_status_code":      1,
	})
	equalMaps(t, "requests", sumValues(t, ms[mapper.NameRequests], true), map[string]float64{"app=shop.web": 4})
	equalMaps(t, "orders", sumValues(t, mustMetric(t, ms, "shop.web.orders", ""), true), map[string]float64{"": 4})
	equalMaps(t, "queue", gaugeValues(t, mustMetric(t, ms, "shop.web.queue", "")), map[string]float64{"": 2})
	render := histPoints(t, mustMetric(t, ms, "shop.web.render", "s"))[""]
	if render.Count != 2 || render.Sum != 0.5 {
		t.Errorf("render: count %d sum %v", render.Count, render.Sum)
	}
	st := b.Stats()
	equalMaps(t, "rejected", st.RejectedByReason, map[string]uint64{"type_conflict": 1, "unsupported_type": 1})
	if st.MapperCacheMisses == 0 || st.MapperCacheMisses != st.SeriesCacheMisses {
		t.Errorf("mapper cache misses %d, series table misses %d", st.MapperCacheMisses, st.SeriesCacheMisses)
	}
}

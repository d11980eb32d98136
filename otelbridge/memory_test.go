package otelbridge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryAccountingBounds checks the cost model of the package
// documentation (Memory) against what series really take: for counters and
// histograms with 1, 10 and 50 attributes, all in one instrument or each in
// an instrument of its own, what the bridge counts (Stats.Memory) is at least
// the live heap they add (bridge, SDK, Prometheus exporter) plus everything
// one scrape of them in the text format allocates.
func TestMemoryAccountingBounds(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what is allocated")
	}
	if testing.Short() {
		t.Skip("measures the heap: a few seconds")
	}
	for _, names := range []bool{false, true} {
		for _, k := range []int{1, 10, 50} {
			for _, typ := range []string{"c", "ms"} {
				t.Run(fmt.Sprintf("names=%v/attrs=%d/%s", names, k, typ), func(t *testing.T) {
					measureMemory(t, names, k, typ)
				})
			}
		}
	}
}

func measureMemory(t *testing.T, names bool, k int, typ string) {
	const n = 500
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(context.Background())
	b, err := New(mp, WithMapper(&stubMapper{}), WithMaxSeriesPerInstrument(n+1), WithTelemetry(false),
		WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	dgs := make([][]byte, n)
	for i := range dgs {
		name := "x"
		if names {
			name = fmt.Sprintf("name%d", i)
		}
		tags := make([]string, k)
		for j := range tags {
			tags[j] = fmt.Sprintf("tag%02d:value%d", j, i)
		}
		dgs[i] = fmt.Appendf(nil, "%s:1|%s|#%s", name, typ, strings.Join(tags, ","))
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	h.ServeHTTP(httptest.NewRecorder(), req)
	before, counted := liveHeap(), b.Stats().Memory
	for _, d := range dgs {
		b.HandleDatagram(d)
	}
	h.ServeHTTP(httptest.NewRecorder(), req)
	live := liveHeap() - before
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	h.ServeHTTP(httptest.NewRecorder(), req)
	runtime.ReadMemStats(&m1)
	scrape := m1.TotalAlloc - m0.TotalAlloc
	st := b.Stats()
	counted = st.Memory - counted
	if st.SeriesOverflow != 0 || st.Series != n+b.countOverflowSeries() {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("per series: live %d B, scrape %d B, counted %d B", live/n, scrape/n, counted/n)
	if uint64(counted) < live+scrape {
		t.Errorf("counted %d B per series, under the live heap (%d) plus a scrape (%d): %d", counted/n, live/n, scrape/n, (live+scrape)/n)
	}
	runtime.KeepAlive(dgs)
}

// countOverflowSeries returns the overflow series made, for tests.
func (b *Bridge) countOverflowSeries() int { return int(b.overflowSeries.Load()) }

package procwatch

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// newTestWatcher makes a Watcher recording into an SDK MeterProvider with a
// ManualReader.
func newTestWatcher(t testing.TB, opts ...Option) (*Watcher, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	// Quiet unless opts give a logger (the later WithLogger wins).
	w, err := New(mp, append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return w, r
}

// view is one collection, by instrument name.
type view map[string]metricdata.Metrics

func collect(t testing.TB, r *sdkmetric.ManualReader) view {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	v := view{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			v[m.Name] = m
		}
	}
	return v
}

// point is one data point, its attributes rendered "k=v,k=v" (sorted).
type point struct {
	attrs string
	value float64
}

func render(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	return strings.Join(parts, ",")
}

// points returns the points of an instrument, sorted by attributes.
func (v view) points(name string) []point {
	var ps []point
	switch d := v[name].Data.(type) {
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			ps = append(ps, point{render(p.Attributes), float64(p.Value)})
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			ps = append(ps, point{render(p.Attributes), p.Value})
		}
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			ps = append(ps, point{render(p.Attributes), float64(p.Value)})
		}
	case metricdata.Sum[float64]:
		for _, p := range d.DataPoints {
			ps = append(ps, point{render(p.Attributes), p.Value})
		}
	}
	slices.SortFunc(ps, func(a, b point) int { return strings.Compare(a.attrs, b.attrs) })
	return ps
}

// get returns the value of the one point of name whose attributes include
// every "k=v" of match, and whether there is exactly one.
func (v view) get(name string, match ...string) (float64, bool) {
	var found []float64
	for _, p := range v.points(name) {
		ok := true
		for _, m := range match {
			if !slices.Contains(strings.Split(p.attrs, ","), m) {
				ok = false
			}
		}
		if ok {
			found = append(found, p.value)
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	return found[0], true
}

// val is get, 0 when absent (-1 when several points match).
func (v view) val(name string, match ...string) float64 {
	x, ok := v.get(name, match...)
	if !ok {
		return -1
	}
	return x
}

// summary renders the figures tests look at, for failure messages.
func (v view) summary() string {
	var b strings.Builder
	for _, n := range []string{"gunicorn.up", "gunicorn.worker.count", "gunicorn.worker.busy_time",
		"gunicorn.worker.request.age.max", "gunicorn.worker.restarts", "gunicorn.listen.backlog",
		"gunicorn.listen.backlog.limit", "gunicorn.worker.connections", "gunicorn.watch.errors"} {
		fmt.Fprintf(&b, "%s %v; ", n, v.points(n))
	}
	return b.String()
}

// waitUntil samples and collects every 50 ms until cond holds, failing the
// test after timeout. It returns the collection that satisfied cond.
func waitUntil(t testing.TB, w *Watcher, r *sdkmetric.ManualReader, timeout time.Duration, what string, cond func(v view) bool) view {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var v view
	for {
		_ = w.Sample(context.Background())
		v = collect(t, r)
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still not %s: %s", timeout, what, v.summary())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var attrApp = attribute.String("app", "shop.web")

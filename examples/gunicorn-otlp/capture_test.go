package main

import (
	"context"
	"maps"
	"net"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/gunicornotel/gunicornotel/examples/internal/otlptest"
	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// TestOTLPCapture sends a real Gunicorn capture through a Bridge made by
// otelbridge.Listen and the SDK's OTLP/HTTP exporter, and checks the one
// export: names, units, temporality, attributes, histogram bounds.
func TestOTLPCapture(t *testing.T) {
	sink := new(otlptest.Sink)
	srv := httptest.NewServer(sink)
	defer srv.Close()

	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx,
		otlpmetrichttp.WithEndpointURL(srv.URL+"/v1/metrics"),
		otlpmetrichttp.WithCompression(otlpmetrichttp.NoCompression),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}),
	)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(
		sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	defer mp.Shutdown(ctx)

	r, err := otelbridge.Listen("127.0.0.1:0", mp)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	conn, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	dgs, err := statsdtest.ReadCapture(fixture.CapturePath(fixture.PrefixTagsCapture))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dgs {
		if _, err := conn.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}

	reqs := sink.Received(t)
	if t.Failed() || len(reqs) != 1 {
		t.Fatalf("%d requests; want 1, and no errors", len(reqs))
	}
	metrics := make(map[string]*metricspb.Metric)
	for _, rm := range reqs[0].GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			if sm.GetScope().GetName() != otelbridge.ScopeName {
				t.Errorf("scope %q", sm.GetScope().GetName())
			}
			for _, m := range sm.GetMetrics() {
				metrics[m.GetName()] = m
			}
		}
	}
	get := func(name, unit string) *metricspb.Metric {
		t.Helper()
		m, ok := metrics[name]
		if !ok {
			t.Fatalf("no metric %q", name)
		}
		if m.GetUnit() != unit {
			t.Errorf("%s: unit %q, want %q", name, m.GetUnit(), unit)
		}
		return m
	}
	sums := func(m *metricspb.Metric) map[string]float64 {
		t.Helper()
		s := m.GetSum()
		if s == nil || !s.GetIsMonotonic() || s.GetAggregationTemporality() != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
			t.Fatalf("%s: not a cumulative monotonic sum: %v", m.GetName(), m.GetData())
		}
		out := make(map[string]float64)
		for _, dp := range s.GetDataPoints() {
			out[attrs(dp.GetAttributes())] = dp.GetAsDouble()
		}
		return out
	}

	const tagged = "app=shop.web,env=prod,team=web"
	equalMaps(t, "requests", sums(get(mapper.NameRequests, "{request}")), map[string]float64{tagged: 5})
	equalMaps(t, "responses", sums(get(mapper.NameResponses, "{response}")), map[string]float64{
		"app=shop.web,env=prod,http.response.status_code=int:200,team=web": 2,
		"app=shop.web,env=prod,http.response.status_code=int:201,team=web": 1,
		"app=shop.web,env=prod,http.response.status_code=int:404,team=web": 1,
		"app=shop.web,env=prod,http.response.status_code=int:500,team=web": 1,
	})
	equalMaps(t, "log", sums(get(mapper.NameLogMessages, "{message}")), map[string]float64{
		"app=shop.web,env=prod,level=critical,team=web":  1,
		"app=shop.web,env=prod,level=exception,team=web": 1,
		"app=shop.web,env=prod,level=warning,team=web":   1,
	})

	g := get(mapper.NameWorkers, "{worker}").GetGauge()
	if g == nil || len(g.GetDataPoints()) != 1 || g.GetDataPoints()[0].GetAsDouble() != 2 ||
		attrs(g.GetDataPoints()[0].GetAttributes()) != tagged {
		t.Errorf("workers: %v", g)
	}

	h := get(mapper.NameRequestDuration, "s").GetHistogram()
	if h == nil || len(h.GetDataPoints()) != 1 {
		t.Fatalf("duration: %v", h)
	}
	dp := h.GetDataPoints()[0]
	wantCounts := make([]uint64, len(mapper.HTTPServerDurationBuckets)+1)
	wantCounts[0] = 5
	if dp.GetCount() != 5 || !slices.Equal(dp.GetExplicitBounds(), mapper.HTTPServerDurationBuckets) ||
		!slices.Equal(dp.GetBucketCounts(), wantCounts) || attrs(dp.GetAttributes()) != tagged ||
		dp.GetMin() != 0.000241 || dp.GetMax() != 0.001739 {
		t.Errorf("duration point: %v", dp)
	}

	if got := metrics[otelbridge.MetricDatagrams].GetSum().GetDataPoints(); len(got) != 1 || got[0].GetAsInt() != int64(len(dgs)) {
		t.Errorf("%s: %v", otelbridge.MetricDatagrams, got)
	}
	if got := metrics[otelbridge.MetricServerBytes].GetSum().GetDataPoints(); len(got) != 1 || got[0].GetAsInt() == 0 {
		t.Errorf("%s: %v", otelbridge.MetricServerBytes, got)
	}
}

func equalMaps(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

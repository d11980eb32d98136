package otelbridge

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/gunicornotel/gunicornotel/internal/otlptest"
	"github.com/gunicornotel/gunicornotel/mapper"
)

func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprintf("int64:%d", x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprintf("bool:%v", x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprintf("float64:%v", x.DoubleValue)
	}
	return fmt.Sprintf("%v", v)
}

// pbAttrs renders OTLP attributes as attrKey renders an attribute.Set.
func pbAttrs(kvs []*commonpb.KeyValue) string {
	var parts []string
	for _, kv := range kvs {
		parts = append(parts, kv.GetKey()+"="+anyString(kv.GetValue()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// TestOTLP sends the tagged capture over loopback UDP to a Receiver, shuts it
// down, flushes the provider through the OTLP/HTTP exporter into an
// in-process endpoint, and checks what arrived.
func TestOTLP(t *testing.T) {
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

	r, err := Listen("127.0.0.1:0", mp)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	conn, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	dgs := readCapture(t, "gunicorn-20.1-prefix-tags.statsd")
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
			if sm.GetScope().GetName() != ScopeName {
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
			out[pbAttrs(dp.GetAttributes())] = dp.GetAsDouble()
		}
		return out
	}

	const tagged = "app=shop.web,env=prod,team=web"
	equalMaps(t, "requests", sums(get(mapper.NameRequests, "{request}")), map[string]float64{tagged: 5})
	equalMaps(t, "responses", sums(get(mapper.NameResponses, "{response}")), map[string]float64{
		"app=shop.web,env=prod,http.response.status_code=int64:200,team=web": 2,
		"app=shop.web,env=prod,http.response.status_code=int64:201,team=web": 1,
		"app=shop.web,env=prod,http.response.status_code=int64:404,team=web": 1,
		"app=shop.web,env=prod,http.response.status_code=int64:500,team=web": 1,
	})
	equalMaps(t, "log", sums(get(mapper.NameLogMessages, "{message}")), map[string]float64{
		"app=shop.web,env=prod,level=critical,team=web":  1,
		"app=shop.web,env=prod,level=exception,team=web": 1,
		"app=shop.web,env=prod,level=warning,team=web":   1,
	})

	g := get(mapper.NameWorkers, "{worker}").GetGauge()
	if g == nil || len(g.GetDataPoints()) != 1 || g.GetDataPoints()[0].GetAsDouble() != 2 ||
		pbAttrs(g.GetDataPoints()[0].GetAttributes()) != tagged {
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
		!slices.Equal(dp.GetBucketCounts(), wantCounts) || pbAttrs(dp.GetAttributes()) != tagged ||
		dp.GetMin() != 0.000241 || dp.GetMax() != 0.001739 {
		t.Errorf("duration point: %v", dp)
	}

	if got := metrics[MetricDatagrams].GetSum().GetDataPoints(); len(got) != 1 || got[0].GetAsInt() != int64(len(dgs)) {
		t.Errorf("%s: %v", MetricDatagrams, got)
	}
	if got := metrics[MetricServerBytes].GetSum().GetDataPoints(); len(got) != 1 || got[0].GetAsInt() == 0 {
		t.Errorf("%s: %v", MetricServerBytes, got)
	}
}

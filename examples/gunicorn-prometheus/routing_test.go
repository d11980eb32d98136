package main

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
)

// metricNames returns the names of the metrics a reader collects, sorted.
func metricNames(t *testing.T, r sdkmetric.Reader) []string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	must(t, r.Collect(context.Background(), &rm))
	var out []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out = append(out, m.Name)
		}
	}
	slices.Sort(out)
	return out
}

// TestMetersPick: through the bridge, the Gunicorn profile's instruments are
// made by std (the bridge's default Meter), every renamed one by raw, under
// statsd_exporter's name even where OpenTelemetry refuses it ("_9lives"),
// and a histogram statsd_exporter serves as a summary is a summary
// instrument, declared with its mapping's options.
func TestMetersPick(t *testing.T) {
	stdReader, rawReader := sdkmetric.NewManualReader(), sdkmetric.NewManualReader()
	std := sdkmetric.NewMeterProvider(sdkmetric.WithReader(stdReader))
	raw := sdkmetric.NewMeterProvider(sdkmetric.WithReader(rawReader))
	t.Cleanup(func() { _ = std.Shutdown(context.Background()); _ = raw.Shutdown(context.Background()) })
	sums := newSummaries(10, 10, 0)
	profile, err := mapper.New(mapper.WithDropUnmatched())
	must(t, err)
	m, err := mapper.New(mapper.WithoutGunicornProfile())
	must(t, err)
	b, err := otelbridge.New(std, otelbridge.WithTelemetry(false), otelbridge.WithLogger(slog.New(slog.DiscardHandler)),
		otelbridge.WithMapper(statsdNames(profile, m, true)),
		otelbridge.WithMeterFor(newMeters(raw, otelbridge.ScopeName, sums).pick))
	must(t, err)
	t.Cleanup(func() { _ = b.Close() })
	for _, line := range []string{"shop.gunicorn.requests:1|c", "9lives:1|c", "orders.open:3|g", "api.latency:12|ms"} {
		b.HandleDatagram([]byte(line))
	}
	if st := b.Stats(); st.Recorded != 4 || st.Rejected != 0 {
		t.Fatalf("recorded %d, rejected %v", st.Recorded, st.RejectedByReason)
	}
	if got, want := metricNames(t, stdReader), []string{mapper.NameRequests}; !slices.Equal(got, want) {
		t.Errorf("std: %v, want %v", got, want)
	}
	if got, want := metricNames(t, rawReader), []string{"_9lives", "orders_open"}; !slices.Equal(got, want) {
		t.Errorf("raw: %v, want %v", got, want)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(sums)
	if got := gatherSummaries(t, reg, "api_latency"); len(got) != 1 || got[""].GetSampleCount() != 1 || got[""].GetSampleSum() != 0.012 {
		t.Errorf("api_latency summary: %v", got)
	}
	if d := sums.declared["api_latency"]; d == nil || d.opts != mapper.DefaultSummary || d.help != mapper.DefaultDescription {
		t.Errorf("api_latency declared as %+v", d)
	}
	if len(sums.declared) != 1 {
		t.Errorf("declared %d names, want 1", len(sums.declared))
	}
}

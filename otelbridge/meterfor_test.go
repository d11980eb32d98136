package otelbridge

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/gunicornotel/gunicornotel/mapper"
)

// TestWithMeterFor: the picked Meter makes the instruments of the mappings
// it is picked for, and registers their callbacks; the others and the
// bridge's telemetry stay with the default MeterProvider. pick is called
// once per instrument, and recording allocates nothing.
func TestWithMeterFor(t *testing.T) {
	stdReader, otherReader := sdkmetric.NewManualReader(), sdkmetric.NewManualReader()
	std := sdkmetric.NewMeterProvider(sdkmetric.WithReader(stdReader))
	other := sdkmetric.NewMeterProvider(sdkmetric.WithReader(otherReader))
	t.Cleanup(func() { _ = std.Shutdown(context.Background()); _ = other.Shutdown(context.Background()) })
	otherMeter := other.Meter("picked")

	profile, err := mapper.New(mapper.WithDropUnmatched())
	if err != nil {
		t.Fatal(err)
	}
	var picks []string
	pick := func(mp *mapper.Mapping) metric.Meter {
		picks = append(picks, mp.Name) // under the bridge's lock: no race
		if mp.Reserved {
			return nil
		}
		return otherMeter
	}
	b, err := New(std, WithLogger(slog.New(slog.DiscardHandler)), WithMeterFor(pick),
		WithMapper(Chain{profile, &stubMapper{}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if len(picks) != 6 {
		t.Fatalf("picks at New: %v, want the profile's 6 reserved instruments", picks)
	}
	lines := []string{
		"shop.gunicorn.requests:1|c",
		"orders.sold:2|c|#env:prod",
		"orders.sold:3|c|#env:dev",
		"queue.depth:7|g",
		"api.latency:12|ms|#env:prod",
	}
	feed(b, lines...)
	feed(b, lines...)
	if got := strings.Join(picks[6:], ","); got != "orders.sold,queue.depth,api.latency" {
		t.Errorf("picks after samples: %s; want one per new instrument", got)
	}
	// AllocsPerRun runs once more than asked: 2+101 samples per series.
	datagrams := make([][]byte, len(lines))
	for i, l := range lines {
		datagrams[i] = []byte(l)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, d := range datagrams {
			b.HandleDatagram(d)
		}
	})
	if allocs != 0 && !raceEnabled { // sync.Pool drops items at random under the race detector
		t.Errorf("%v allocs per run with WithMeterFor", allocs)
	}

	stdMs := metricsOf(collect(t, stdReader), ScopeName)
	if got := sumValues(t, mustMetric(t, stdMs, mapper.NameRequests, "{request}"), true); got["app=shop"] != 103 {
		t.Errorf("%s in the default provider: %v", mapper.NameRequests, got)
	}
	for _, n := range []string{"orders.sold", "queue.depth", "api.latency"} {
		if _, ok := stdMs[n]; ok {
			t.Errorf("%s made by the default meter", n)
		}
	}
	if _, ok := stdMs[MetricDatagrams]; !ok {
		t.Errorf("the bridge's telemetry is not in the default provider: %v", names(stdMs))
	}
	otherMs := metricsOf(collect(t, otherReader), "picked")
	equalMaps(t, "orders.sold", sumValues(t, mustMetric(t, otherMs, "orders.sold", ""), true),
		map[string]float64{"env=prod": 206, "env=dev": 309})
	equalMaps(t, "queue.depth", gaugeValues(t, mustMetric(t, otherMs, "queue.depth", "")), map[string]float64{"": 7})
	if h := histPoints(t, mustMetric(t, otherMs, "api.latency", "s")); h["env=prod"].Count != 103 {
		t.Errorf("api.latency: %+v", h)
	}
	if _, ok := otherMs[mapper.NameRequests]; ok || len(otherMs) != 3 {
		t.Errorf("picked meter made %v", names(otherMs))
	}
}

// TestWithMeterForNames: the bridge checks OpenTelemetry's name syntax only
// for the default Meter; a picked Meter judges the name itself (the SDK
// refuses a leading '_': instrument_error). A nil pick makes New fail.
func TestWithMeterForNames(t *testing.T) {
	picked := sdkmetric.NewMeterProvider().Meter("picked")
	pickUnderscore := func(mp *mapper.Mapping) metric.Meter {
		if strings.HasPrefix(mp.Name, "_") {
			return picked
		}
		return nil
	}
	b, _ := newTestBridge(t, WithMapper(&stubMapper{}), WithMeterFor(pickUnderscore))
	feed(b, "_private:1|c", "9lives:1|c", "ok:1|c")
	st := b.Stats()
	if st.RejectedByReason[ReasonInstrumentError] != 1 || st.RejectedByReason[ReasonBadName] != 1 || st.Recorded != 1 {
		t.Errorf("rejected %v, recorded %d; want _private judged by the picked meter, 9lives by the bridge", st.RejectedByReason, st.Recorded)
	}
	if _, err := New(sdkmetric.NewMeterProvider(), WithMeterFor(nil)); err == nil || !strings.Contains(err.Error(), "WithMeterFor") {
		t.Errorf("WithMeterFor(nil): %v", err)
	}
}

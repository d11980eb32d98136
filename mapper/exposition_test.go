package mapper_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/otelbridge"
)

const hostileTags = "#le:evil,quantile:x,__name__:y,a.b:1,a_b:2,otel.scope.name:z,_:w"

// TestHostileTagsExposition sends histograms and a counter whose tags
// collide with the labels the Prometheus exposition sets itself through the
// mapper, the bridge and the real OpenTelemetry Prometheus exporter: the
// exposition stays valid (promtool check metrics) and every sample is
// recorded, without the offending tags.
func TestHostileTagsExposition(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(context.Background())
	m, err := mapper.New()
	if err != nil {
		t.Fatal(err)
	}
	b, err := otelbridge.New(mp, otelbridge.WithMapper(m), otelbridge.WithTelemetry(false))
	if err != nil {
		t.Fatal(err)
	}
	b.HandleDatagram([]byte("myapp.gunicorn.request.duration:7|ms|" + hostileTags))
	b.HandleDatagram([]byte("api.latency:12|ms|" + hostileTags + "\napi.size:512|h|" + hostileTags))
	b.HandleDatagram([]byte("api.hits:1|c|" + hostileTags))

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %v %s\n%s", err, resp.Status, body)
	}

	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse the exposition: %v\n%s", err, body)
	}
	for _, tc := range []struct {
		family, labels string
		count          uint64 // histograms
		value          float64
	}{
		{"gunicorn_request_duration_seconds", "a_b=2,app=myapp", 1, 0.007},
		{"api_latency_seconds", "a_b=2", 1, 0.012},
		{"api_size", "a_b=2", 1, 512},
		{"api_hits_total", "a_b=2", 0, 1},
	} {
		f := fams[tc.family]
		if f == nil || len(f.Metric) != 1 {
			t.Errorf("%s: %v, want one series\n%s", tc.family, f, body)
			continue
		}
		met := f.Metric[0]
		if got := labels(met); got != tc.labels {
			t.Errorf("%s: labels %q, want %q", tc.family, got, tc.labels)
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			if h := met.GetHistogram(); h.GetSampleCount() != tc.count || h.GetSampleSum() != tc.value {
				t.Errorf("%s: count %d sum %v, want %d %v", tc.family, h.GetSampleCount(), h.GetSampleSum(), tc.count, tc.value)
			}
		case dto.MetricType_COUNTER:
			if v := met.GetCounter().GetValue(); v != tc.value {
				t.Errorf("%s: %v, want %v", tc.family, v, tc.value)
			}
		default:
			t.Errorf("%s: type %v", tc.family, f.GetType())
		}
	}
	if st := m.TagStats(); st.Reserved != 4*4 || st.Invalid != 4 || st.Conflict != 4 {
		// Each series loses le, quantile, __name__ and otel.scope.name, a.b
		// or a_b (the last wins), and "_", which is no label name.
		t.Errorf("tag stats %+v", st)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("promtool check metrics: %v\n%s\nexposition:\n%s", err, out, body)
	}
}

// labels renders a metric's labels as "k=v,..." without the otel_scope_*
// labels the exporter adds.
func labels(m *dto.Metric) string {
	var parts []string
	for _, lp := range m.GetLabel() {
		if !strings.HasPrefix(lp.GetName(), "otel_scope_") {
			parts = append(parts, lp.GetName()+"="+lp.GetValue())
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// TestGenericTimerBuckets: an unmapped timer is recorded in seconds with
// statsd_exporter's default buckets; with an exponential-histogram View (as
// the daemon's --otel.histogram=exponential makes) the advice gives way and
// the histogram is exponential.
func TestGenericTimerBuckets(t *testing.T) {
	for _, exponential := range []bool{false, true} {
		reader := sdkmetric.NewManualReader()
		opts := []sdkmetric.Option{sdkmetric.WithReader(reader)}
		if exponential {
			opts = append(opts, sdkmetric.WithView(sdkmetric.NewView(
				sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram},
				sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})))
		}
		mp := sdkmetric.NewMeterProvider(opts...)
		b, err := otelbridge.New(mp, otelbridge.WithTelemetry(false))
		if err != nil {
			t.Fatal(err)
		}
		b.HandleDatagram([]byte("api.latency:12|ms\napi.latency:250|ms"))
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, sm := range rm.ScopeMetrics {
			for _, met := range sm.Metrics {
				if met.Name != "api.latency" {
					continue
				}
				found = true
				if met.Unit != "s" {
					t.Errorf("unit %q", met.Unit)
				}
				switch d := met.Data.(type) {
				case metricdata.Histogram[float64]:
					if exponential {
						t.Errorf("explicit histogram under an exponential View")
					}
					dp := d.DataPoints[0]
					if !slices.Equal(dp.Bounds, mapper.PrometheusDefaultBuckets) || dp.Count != 2 || dp.Sum != 0.262 {
						t.Errorf("bounds %v count %d sum %v", dp.Bounds, dp.Count, dp.Sum)
					}
				case metricdata.ExponentialHistogram[float64]:
					if !exponential {
						t.Errorf("exponential histogram without the View")
					}
					if dp := d.DataPoints[0]; dp.Count != 2 || dp.Sum != 0.262 {
						t.Errorf("count %d sum %v", dp.Count, dp.Sum)
					}
				default:
					t.Errorf("data %T", met.Data)
				}
			}
		}
		if !found {
			t.Errorf("exponential=%v: api.latency not collected", exponential)
		}
		mp.Shutdown(context.Background())
	}
}

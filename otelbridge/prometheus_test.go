package otelbridge

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
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

	"github.com/gunicornotel/gunicornotel/mapper"
)

// scrape GETs url in the classic text format and parses it.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// promLabels renders a metric's labels as "k=v,k=v" (sorted), without the
// otel_scope_* labels the exporter adds, which it checks.
func promLabels(t *testing.T, m *dto.Metric, scope string) string {
	t.Helper()
	var parts []string
	for _, lp := range m.GetLabel() {
		name := lp.GetName()
		if name == "otel_scope_name" {
			if lp.GetValue() != scope {
				t.Errorf("otel_scope_name %q, want %q", lp.GetValue(), scope)
			}
			continue
		}
		if strings.HasPrefix(name, "otel_scope_") {
			continue
		}
		parts = append(parts, name+"="+lp.GetValue())
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func promFamily(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType) *dto.MetricFamily {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		var have []string
		for n := range fams {
			have = append(have, n)
		}
		slices.Sort(have)
		t.Fatalf("no family %q; have %v", name, have)
	}
	if f.GetType() != typ {
		t.Errorf("%s: type %v, want %v", name, f.GetType(), typ)
	}
	return f
}

func promValues(t *testing.T, f *dto.MetricFamily, scope string) map[string]float64 {
	t.Helper()
	out := make(map[string]float64)
	for _, m := range f.GetMetric() {
		var v float64
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			v = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			v = m.GetGauge().GetValue()
		default:
			t.Fatalf("%s: type %v", f.GetName(), f.GetType())
		}
		out[promLabels(t, m, scope)] = v
	}
	return out
}

func TestPrometheusExporter(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
	)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(context.Background())
	b, err := New(mp)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, file := range []string{"gunicorn-20.1-prefix-tags.statsd", "gunicorn-20.1-plain.statsd"} {
		for _, d := range readCapture(t, file) {
			b.HandleDatagram(d)
		}
	}
	// One rejection, to see it exported, in an existing series.
	b.HandleDatagram([]byte("shop.web.gunicorn.requests:-1|c|#env:prod,team:web"))

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	fams := scrape(t, srv.URL+"/metrics")

	const tagged = "app=shop.web,env=prod,team=web"
	equalMaps(t, "gunicorn_requests_total",
		promValues(t, promFamily(t, fams, "gunicorn_requests_total", dto.MetricType_COUNTER), ScopeName),
		map[string]float64{tagged: 5, "": 3})
	equalMaps(t, "gunicorn_responses_total",
		promValues(t, promFamily(t, fams, "gunicorn_responses_total", dto.MetricType_COUNTER), ScopeName),
		map[string]float64{
			"app=shop.web,env=prod,http_response_status_code=200,team=web": 2,
			"app=shop.web,env=prod,http_response_status_code=201,team=web": 1,
			"app=shop.web,env=prod,http_response_status_code=404,team=web": 1,
			"app=shop.web,env=prod,http_response_status_code=500,team=web": 1,
			"http_response_status_code=200":                                2,
			"http_response_status_code=404":                                1,
		})
	equalMaps(t, "gunicorn_workers",
		promValues(t, promFamily(t, fams, "gunicorn_workers", dto.MetricType_GAUGE), ScopeName),
		map[string]float64{tagged: 2, "": 1})
	equalMaps(t, "gunicorn_log_messages_total",
		promValues(t, promFamily(t, fams, "gunicorn_log_messages_total", dto.MetricType_COUNTER), ScopeName),
		map[string]float64{
			"app=shop.web,env=prod,level=critical,team=web":  1,
			"app=shop.web,env=prod,level=exception,team=web": 1,
			"app=shop.web,env=prod,level=warning,team=web":   1,
		})

	// The histogram: gunicorn_request_duration_seconds_{bucket,sum,count}.
	hf := promFamily(t, fams, "gunicorn_request_duration_seconds", dto.MetricType_HISTOGRAM)
	type hist struct {
		count   uint64
		sum     float64
		buckets map[float64]uint64 // le → cumulative count
	}
	want := map[string]hist{
		tagged: {5, (0.493 + 0.908 + 1.73 + 0.241 + 1.739) / 1000, nil},
		"":     {3, (0.55 + 1.612 + 1200.623) / 1000, nil},
	}
	cum := func(le float64, key string) uint64 {
		switch {
		case key == tagged:
			return 5 // every duration is under 5 ms
		case le < 1.200623:
			return 2
		default:
			return 3 // 1.200623 s is in (1, 2.5]
		}
	}
	if len(hf.GetMetric()) != len(want) {
		t.Errorf("histogram series %d", len(hf.GetMetric()))
	}
	for _, m := range hf.GetMetric() {
		key := promLabels(t, m, ScopeName)
		w, ok := want[key]
		if !ok {
			t.Errorf("unexpected histogram series %q", key)
			continue
		}
		h := m.GetHistogram()
		if h.GetSampleCount() != w.count || math.Abs(h.GetSampleSum()-w.sum) > 1e-12 {
			t.Errorf("%q: count %d sum %v, want %d %v", key, h.GetSampleCount(), h.GetSampleSum(), w.count, w.sum)
		}
		var les []float64
		for _, bk := range h.GetBucket() {
			le := bk.GetUpperBound()
			if math.IsInf(le, 1) {
				if bk.GetCumulativeCount() != w.count {
					t.Errorf("%q: +Inf bucket %d", key, bk.GetCumulativeCount())
				}
				continue
			}
			les = append(les, le)
			if got := bk.GetCumulativeCount(); got != cum(le, key) {
				t.Errorf("%q: bucket le=%v: %d, want %d", key, le, got, cum(le, key))
			}
		}
		if !slices.Equal(les, mapper.HTTPServerDurationBuckets) {
			t.Errorf("%q: bounds %v", key, les)
		}
	}

	// The bridge's own telemetry.
	equalMaps(t, "gunicornotel_datagrams_total",
		promValues(t, promFamily(t, fams, "gunicornotel_datagrams_total", dto.MetricType_COUNTER), ScopeName),
		map[string]float64{"": 21 + 10 + 1})
	equalMaps(t, "gunicornotel_samples_total",
		promValues(t, promFamily(t, fams, "gunicornotel_samples_total", dto.MetricType_COUNTER), ScopeName),
		map[string]float64{"statsd_metric_type=counter": 13 + 6 + 1, "statsd_metric_type=gauge": 3 + 1, "statsd_metric_type=timer": 5 + 3})
	equalMaps(t, "gunicornotel_samples_rejected_total",
		promValues(t, promFamily(t, fams, "gunicornotel_samples_rejected_total", dto.MetricType_COUNTER), ScopeName),
		map[string]float64{"reason=negative_counter": 1})
	equalMaps(t, "gunicornotel_series",
		promValues(t, promFamily(t, fams, "gunicornotel_series", dto.MetricType_GAUGE), ScopeName),
		map[string]float64{"": 2 + 6 + 2 + 3 + 2}) // requests, responses, workers, log messages, durations
}

// promServer returns the URL of a Prometheus exposition of a fresh
// MeterProvider, and the provider.
func promServer(t *testing.T) (string, *sdkmetric.MeterProvider) {
	t.Helper()
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics", mp
}

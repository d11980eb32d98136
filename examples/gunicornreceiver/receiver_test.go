package gunicornreceiver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/gunicornotel/gunicornotel/examples/gunicornreceiver/internal/metadatatest"
	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// testConfig is the default config on a free loopback UDP port, collecting
// only at Shutdown (unless the test changes the interval and the initial
// delay).
func testConfig() *Config {
	cfg := defaultConfig()
	cfg.Endpoint = "127.0.0.1:0"
	cfg.CollectionInterval = time.Hour
	cfg.InitialDelay = time.Hour
	return cfg
}

// start creates the receiver through the factory, as the Collector does,
// starts it, and returns it with the address it bound.
func start(t *testing.T, cfg *Config, next consumer.Metrics) (*metricsReceiver, net.Addr) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	f := NewFactory()
	r, err := f.CreateMetrics(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, next)
	if err != nil {
		t.Fatalf("CreateMetrics: %v", err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	mr := r.(*metricsReceiver)
	t.Cleanup(func() { _ = mr.Shutdown(context.Background()) })
	return mr, mr.addr()
}

func shutdown(t *testing.T, r receiver.Metrics) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// emitter returns a Gunicorn emitter sending to addr (as Dial takes it).
func emitter(t *testing.T, addr string, cfg statsdtest.Config) *statsdtest.Emitter {
	t.Helper()
	conn, err := statsdtest.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return statsdtest.NewEmitter(cfg, statsdtest.WriterSink(conn))
}

// sendGunicorn sends what a Gunicorn with 4 workers answering 3 requests
// with 200 (10, 20, 30 ms) and one with 404 (40 ms) sends.
func sendGunicorn(t *testing.T, e *statsdtest.Emitter) {
	t.Helper()
	must(t, e.Workers(4))
	for i, status := range []int{200, 200, 200, 404} {
		must(t, e.Request(status, time.Duration(i+1)*10*time.Millisecond))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// metrics indexes the metrics of all the batches of a sink by name; a later
// batch replaces an earlier one's metric of the same name.
func metrics(t *testing.T, all []pmetric.Metrics) map[string]pmetric.Metric {
	t.Helper()
	out := map[string]pmetric.Metric{}
	for _, md := range all {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			if n := rms.At(i).Resource().Attributes().Len(); n != 0 {
				t.Errorf("resource has %d attributes, want none", n)
			}
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					out[ms.At(k).Name()] = ms.At(k)
				}
			}
		}
	}
	return out
}

// attrs renders a data point's attributes as "k=v,k=v" sorted by key, with
// the type of non-string values: "app=shop.web,http.response.status_code=int:200".
func attrs(m pcommon.Map) string {
	var kv []string
	m.Range(func(k string, v pcommon.Value) bool {
		s := k + "="
		if v.Type() != pcommon.ValueTypeStr {
			s += strings.ToLower(v.Type().String()) + ":"
		}
		kv = append(kv, s+v.AsString())
		return true
	})
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

// sumPoints returns a Sum's points as attrs -> value, checking it is a
// monotonic cumulative sum.
func sumPoints(t *testing.T, m pmetric.Metric) map[string]float64 {
	t.Helper()
	if m.Type() != pmetric.MetricTypeSum {
		t.Fatalf("%s: type %v, want Sum", m.Name(), m.Type())
	}
	s := m.Sum()
	if !s.IsMonotonic() || s.AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
		t.Errorf("%s: monotonic %v, temporality %v; want monotonic cumulative", m.Name(), s.IsMonotonic(), s.AggregationTemporality())
	}
	return numberPoints(t, m.Name(), s.DataPoints())
}

func numberPoints(t *testing.T, name string, dps pmetric.NumberDataPointSlice) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		if dp.Timestamp() == 0 {
			t.Errorf("%s: data point without a timestamp", name)
		}
		v := dp.DoubleValue()
		if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
			v = float64(dp.IntValue())
		}
		out[attrs(dp.Attributes())] = v
	}
	return out
}

func wantPoints(t *testing.T, name string, got, want map[string]float64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s points = %v\nwant %v", name, got, want)
	}
}

// checkGunicorn checks the metrics sendGunicorn's traffic gives, with the
// attribute prefix ("app=shop.web," or "").
func checkGunicorn(t *testing.T, got map[string]pmetric.Metric, prefix string) {
	t.Helper()
	for _, name := range []string{"gunicorn.requests", "gunicorn.responses", "gunicorn.request.duration", "gunicorn.workers"} {
		if _, ok := got[name]; !ok {
			t.Fatalf("no metric %s; have %v", name, keys(got))
		}
	}
	trim := func(s string) string { return strings.TrimSuffix(s, ",") }

	req := metricOf(t, got, "gunicorn.requests")
	if req.Unit() != "{request}" {
		t.Errorf("gunicorn.requests unit %q", req.Unit())
	}
	wantPoints(t, "gunicorn.requests", sumPoints(t, req), map[string]float64{trim(prefix): 4})
	wantPoints(t, "gunicorn.responses", sumPoints(t, metricOf(t, got, "gunicorn.responses")), map[string]float64{
		prefix + "http.response.status_code=int:200": 3,
		prefix + "http.response.status_code=int:404": 1,
	})

	w := metricOf(t, got, "gunicorn.workers")
	if w.Type() != pmetric.MetricTypeGauge {
		t.Fatalf("gunicorn.workers: type %v, want Gauge", w.Type())
	}
	wantPoints(t, "gunicorn.workers", numberPoints(t, w.Name(), w.Gauge().DataPoints()), map[string]float64{trim(prefix): 4})

	d := metricOf(t, got, "gunicorn.request.duration")
	if d.Type() != pmetric.MetricTypeHistogram || d.Unit() != "s" {
		t.Fatalf("gunicorn.request.duration: type %v unit %q, want Histogram in s", d.Type(), d.Unit())
	}
	if d.Histogram().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
		t.Errorf("gunicorn.request.duration temporality %v", d.Histogram().AggregationTemporality())
	}
	dps := d.Histogram().DataPoints()
	if dps.Len() != 1 {
		t.Fatalf("gunicorn.request.duration: %d points, want 1", dps.Len())
	}
	dp := dps.At(0)
	if a := attrs(dp.Attributes()); a != trim(prefix) {
		t.Errorf("gunicorn.request.duration attributes %q, want %q", a, trim(prefix))
	}
	if dp.Count() != 4 || math.Abs(dp.Sum()-0.1) > 1e-9 || dp.Min() != 0.01 || dp.Max() != 0.04 {
		t.Errorf("gunicorn.request.duration count %d sum %v min %v max %v; want 4, 0.1, 0.01, 0.04", dp.Count(), dp.Sum(), dp.Min(), dp.Max())
	}
	if b := dp.ExplicitBounds().AsRaw(); !slices.Equal(b, mapper.HTTPServerDurationBuckets) {
		t.Errorf("bounds %v, want %v", b, mapper.HTTPServerDurationBuckets)
	}
	// 10 ms is in (0.005, 0.01], 20 in (0.01, 0.025], 30 and 40 in (0.025, 0.05].
	wantCounts := make([]uint64, len(mapper.HTTPServerDurationBuckets)+1)
	wantCounts[1], wantCounts[2], wantCounts[3] = 1, 1, 2
	if c := dp.BucketCounts().AsRaw(); !slices.Equal(c, wantCounts) {
		t.Errorf("bucket counts %v, want %v", c, wantCounts)
	}
}

// metricOf returns the metric name of got, failing the test if there is none
// (a missing map entry is a zero Metric, whose methods panic).
func metricOf(t *testing.T, got map[string]pmetric.Metric, name string) pmetric.Metric {
	t.Helper()
	m, ok := got[name]
	if !ok {
		t.Fatalf("no metric %s; have %v", name, keys(got))
	}
	return m
}

func keys(m map[string]pmetric.Metric) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestReceiveUDP: Gunicorn's datagrams in, exact metrics out, in the final
// collection Shutdown makes.
func TestReceiveUDP(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	r, addr := start(t, testConfig(), sink)
	sendGunicorn(t, emitter(t, addr.String(), statsdtest.Config{Prefix: "shop.web"}))
	shutdown(t, r)

	if n := len(sink.AllMetrics()); n != 1 {
		t.Fatalf("%d batches consumed, want 1 (the final collection)", n)
	}
	got := metrics(t, sink.AllMetrics())
	checkGunicorn(t, got, "app=shop.web,")
	if len(got) != 4 {
		t.Errorf("metrics %v, want the four Gunicorn ones only", keys(got))
	}
	if sink.DataPointCount() != 5 {
		t.Errorf("%d data points, want 5", sink.DataPointCount())
	}
}

func TestReceiveTCP(t *testing.T) {
	cfg := testConfig()
	cfg.Transport = TransportTCP
	sink := new(consumertest.MetricsSink)
	r, addr := start(t, cfg, sink)
	// One metric per line, as Gunicorn would send them, no prefix.
	var lines []byte
	e := statsdtest.NewEmitter(statsdtest.Config{}, statsdtest.SinkFunc(func(p []byte) error {
		lines = append(append(lines, p...), '\n')
		return nil
	}))
	sendGunicorn(t, e)
	sendTCP(t, r, addr, lines, 13)
	shutdown(t, r)
	checkGunicorn(t, metrics(t, sink.AllMetrics()), "")
}

// sendTCP writes lines to the receiver r listening on TCP at addr in one
// connection, and waits until the server has read n of them: Shutdown
// waits for the connections it has, but a connection must have been
// accepted first.
func sendTCP(t *testing.T, r *metricsReceiver, addr net.Addr, lines []byte, n uint64) {
	t.Helper()
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(lines); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for r.sc.current().Server().Stats().Datagrams < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d lines read after 10s, want %d", r.sc.current().Server().Stats().Datagrams, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReceiveUnixgram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "statsd.sock")
	cfg := testConfig()
	cfg.Transport, cfg.Endpoint = TransportUnixgram, path
	sink := new(consumertest.MetricsSink)
	r, _ := start(t, cfg, sink)
	sendGunicorn(t, emitter(t, "unix:"+path, statsdtest.Config{Prefix: "api"}))
	shutdown(t, r)
	checkGunicorn(t, metrics(t, sink.AllMetrics()), "app=api,")
}

// TestPeriodicCollection: the receiver sends cumulative data every
// collection_interval while it runs.
func TestPeriodicCollection(t *testing.T) {
	cfg := testConfig()
	cfg.CollectionInterval, cfg.InitialDelay = 20*time.Millisecond, 0
	sink := new(consumertest.MetricsSink)
	r, addr := start(t, cfg, sink)
	e := emitter(t, addr.String(), statsdtest.Config{Prefix: "shop.web"})
	sendGunicorn(t, e)

	// Wait for a collection that has all four requests.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := metrics(t, sink.AllMetrics())
		if m, ok := got["gunicorn.requests"]; ok && numberPoints(t, m.Name(), m.Sum().DataPoints())["app=shop.web"] == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no collection with 4 requests after 10s; %d batches", len(sink.AllMetrics()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := len(sink.AllMetrics())
	// Cumulative: the next request adds to what was sent.
	must(t, e.Request(200, 10*time.Millisecond))
	shutdown(t, r)
	all := sink.AllMetrics()
	if len(all) <= before {
		t.Fatalf("no collection after Shutdown: %d batches, had %d", len(all), before)
	}
	last := metrics(t, all[len(all)-1:])
	wantPoints(t, "gunicorn.requests", sumPoints(t, metricOf(t, last, "gunicorn.requests")), map[string]float64{"app=shop.web": 5})
	// The first collection with gunicorn.requests: an earlier one may have
	// come between the workers gauge and the first request.
	var first pmetric.NumberDataPoint
	for i := range all {
		if m, ok := metrics(t, all[i:i+1])["gunicorn.requests"]; ok {
			first = m.Sum().DataPoints().At(0)
			break
		}
	}
	lastDP := metricOf(t, last, "gunicorn.requests").Sum().DataPoints().At(0)
	if first.StartTimestamp() != lastDP.StartTimestamp() || first.StartTimestamp() == 0 {
		t.Errorf("start timestamps %v and %v, want the same cumulative start", first.StartTimestamp(), lastDP.StartTimestamp())
	}
	if n := len(all); n > 1000 {
		t.Errorf("%d batches: the receiver sends without data?", n)
	}
}

// TestNothingReceived: no data, nothing consumed, though the controller
// scrapes (its scraper metrics say so).
func TestNothingReceived(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer tel.Shutdown(context.Background())
	cfg := testConfig()
	cfg.CollectionInterval, cfg.InitialDelay = 10*time.Millisecond, 0
	sink := new(consumertest.MetricsSink)
	f := NewFactory()
	r, err := f.CreateMetrics(context.Background(), metadatatest.NewSettings(tel), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := tel.GetMetric("otelcol_scraper_scraped_metric_points"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no scrape within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	shutdown(t, r)
	if n := len(sink.AllMetrics()); n != 0 {
		t.Errorf("%d batches consumed with no data, want 0", n)
	}
}

// TestCardinalityLimit: max_series_per_instrument over the SDK's default
// cardinality limit (2000) raises the receiver's SDK limit with it: every
// series gets out, none in an overflow series; at the default, the bridge's
// own limit overflows first, counted.
func TestCardinalityLimit(t *testing.T) {
	for _, tc := range []struct {
		limit, series int
		overflow      bool
	}{
		{0, 2000, true},     // 1999 series, then the bridge's overflow series
		{2500, 2300, false}, // all of them
	} {
		cfg := testConfig()
		cfg.Transport = TransportTCP
		cfg.Limits.MaxSeriesPerInstrument = tc.limit
		sink := new(consumertest.MetricsSink)
		r, addr := start(t, cfg, sink)
		var lines []byte
		for i := range tc.series {
			lines = fmt.Appendf(lines, "orders:1|c|#shop:s%d\n", i)
		}
		sendTCP(t, r, addr, lines, uint64(tc.series))
		shutdown(t, r)
		m := metricOf(t, metrics(t, sink.AllMetrics()), "orders")
		pts := sumPoints(t, m)
		over, hasOverflow := pts["otel.metric.overflow=bool:true"]
		wantSeries := tc.series
		if tc.overflow {
			wantSeries = 2000
			if !hasOverflow || over != 1 {
				t.Errorf("limit %d: overflow series %v (%v), want 1", tc.limit, over, hasOverflow)
			}
		} else if hasOverflow {
			t.Errorf("limit %d: %v samples in an overflow series, want none", tc.limit, over)
		}
		if len(pts) != wantSeries {
			t.Errorf("limit %d, %d series sent: %d series out, want %d", tc.limit, tc.series, len(pts), wantSeries)
		}
	}
}

func TestMappingConfigAndPrefixAttribute(t *testing.T) {
	cfg := testConfig()
	cfg.MappingConfig = "testdata/mapping.yml"
	cfg.PrefixAttribute = "service.name"
	sink := new(consumertest.MetricsSink)
	r, addr := start(t, cfg, sink)
	e := emitter(t, addr.String(), statsdtest.Config{Prefix: "shop.web", Tags: "env:prod"})
	sendGunicorn(t, e)
	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range []string{"eu.orders.placed:2|c", "us.orders.placed:1|c|@0.5", "free.form:7|g"} {
		if _, err := conn.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	shutdown(t, r)
	got := metrics(t, sink.AllMetrics())
	wantPoints(t, "gunicorn.requests", sumPoints(t, metricOf(t, got, "gunicorn.requests")), map[string]float64{"env=prod,service.name=shop.web": 4})
	wantPoints(t, "orders.placed", sumPoints(t, metricOf(t, got, "orders.placed")), map[string]float64{"shop=eu": 2, "shop=us": 2})
	g := metricOf(t, got, "free.form")
	if g.Type() != pmetric.MetricTypeGauge {
		t.Fatalf("free.form: %v, want Gauge", g.Type())
	}
	wantPoints(t, "free.form", numberPoints(t, "free.form", g.Gauge().DataPoints()), map[string]float64{"": 7})
}

func TestNoPrefixAttribute(t *testing.T) {
	cfg := testConfig()
	cfg.PrefixAttribute = ""
	sink := new(consumertest.MetricsSink)
	r, addr := start(t, cfg, sink)
	sendGunicorn(t, emitter(t, addr.String(), statsdtest.Config{Prefix: "shop.web"}))
	shutdown(t, r)
	checkGunicorn(t, metrics(t, sink.AllMetrics()), "")
}

func TestIncludeTelemetry(t *testing.T) {
	cfg := testConfig()
	cfg.IncludeTelemetry = true
	sink := new(consumertest.MetricsSink)
	r, addr := start(t, cfg, sink)
	sendGunicorn(t, emitter(t, addr.String(), statsdtest.Config{}))
	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("bad:x|c"))
	shutdown(t, r)
	got := metrics(t, sink.AllMetrics())
	checkGunicorn(t, got, "")
	wantPoints(t, "gunicornotel.datagrams", sumPoints(t, metricOf(t, got, "gunicornotel.datagrams")), map[string]float64{"": 14})
	wantPoints(t, "gunicornotel.samples.rejected", sumPoints(t, metricOf(t, got, "gunicornotel.samples.rejected")), map[string]float64{"reason=bad_value": 1})
	if _, ok := got["gunicornotel.server.reads"]; !ok {
		t.Errorf("no gunicornotel.server.reads; have %v", keys(got))
	}
}

// TestLifecycle: start, shut down, start a new instance on the same port
// (the first released it); shut down without start; start and shut down
// twice.
func TestLifecycle(t *testing.T) {
	f := NewFactory()
	set := receivertest.NewNopSettings(f.Type())

	// Shutdown without Start.
	r0, err := f.CreateMetrics(context.Background(), set, testConfig(), consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	shutdown(t, r0)
	shutdown(t, r0)
	if err := r0.Start(context.Background(), componenttest.NewNopHost()); err == nil {
		t.Error("Start after Shutdown: nil error, want one")
	}

	sink := new(consumertest.MetricsSink)
	r1, addr := start(t, testConfig(), sink)
	if err := r1.Start(context.Background(), componenttest.NewNopHost()); err == nil {
		t.Error("second Start: nil error, want one")
	}
	sendGunicorn(t, emitter(t, addr.String(), statsdtest.Config{}))
	shutdown(t, r1)
	shutdown(t, r1) // idempotent
	if r1.addr() != nil {
		t.Error("addr after Shutdown is not nil")
	}

	// A new instance on the very port the first one had.
	cfg := testConfig()
	cfg.Endpoint = addr.String()
	sink2 := new(consumertest.MetricsSink)
	r2, addr2 := start(t, cfg, sink2)
	if addr2.String() != addr.String() {
		t.Errorf("second receiver bound %v, want %v", addr2, addr)
	}
	sendGunicorn(t, emitter(t, addr2.String(), statsdtest.Config{}))
	shutdown(t, r2)
	// Each instance has its own state: the second counts from zero.
	checkGunicorn(t, metrics(t, sink.AllMetrics()), "")
	checkGunicorn(t, metrics(t, sink2.AllMetrics()), "")
}

func TestStartErrors(t *testing.T) {
	f := NewFactory()
	set := receivertest.NewNopSettings(f.Type())

	// A busy TCP port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := testConfig()
	cfg.Transport, cfg.Endpoint = TransportTCP, l.Addr().String()
	r, err := f.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("Start on a busy port: %v, want an error naming %s", err, l.Addr())
	}
	shutdown(t, r)

	// A mapping file removed after validation.
	path := filepath.Join(t.TempDir(), "gone.yml")
	cfg = testConfig()
	cfg.MappingConfig = path
	r, err = f.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Start with a missing mapping file: %v, want an error naming it", err)
	}
	shutdown(t, r)
}

// TestConsumerError: a refusing consumer makes the final collection fail,
// and Shutdown says so; the socket is released anyway.
func TestConsumerError(t *testing.T) {
	refused := errors.New("refused")
	r, addr := start(t, testConfig(), consumertest.NewErr(refused))
	sendGunicorn(t, emitter(t, addr.String(), statsdtest.Config{}))
	err := r.Shutdown(context.Background())
	if !errors.Is(err, refused) {
		t.Errorf("Shutdown: %v, want it to wrap %v", err, refused)
	}
	if r.addr() != nil {
		t.Error("receiver still bound after Shutdown")
	}
}

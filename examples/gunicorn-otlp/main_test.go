package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"

	"github.com/gunicornotel/gunicornotel/examples/internal/otlptest"
	"github.com/gunicornotel/gunicornotel/internal/watchopt"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/procwatch"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// cleanEnv unsets every OTEL_* variable for the test, so that the caller's
// environment cannot change what the test sees.
func cleanEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "") // restored after the test
			os.Unsetenv(k)
		}
	}
}

// forward runs the program with args until the traffic function has sent its
// datagrams to the StatsD address, then stops it as SIGTERM would.
func forward(t *testing.T, args []string, traffic func(addr string)) {
	t.Helper()
	forwardLog(t, t.Output(), args, traffic)
}

// forwardLog is forward logging to stderr.
func forwardLog(t *testing.T, stderr io.Writer, args []string, traffic func(addr string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, stderr, func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		traffic(a.String())
	case err := <-done:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10s")
	}
	cancel() // what SIGTERM does through signal.NotifyContext
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return 30s after shutdown")
	}
}

// gunicornTraffic sends what a Gunicorn started with --statsd-prefix shop.web
// sends for five requests, a worker count, a worker timeout and a backlog.
func gunicornTraffic(t *testing.T, addr string) {
	t.Helper()
	conn, err := statsdtest.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	e := statsdtest.NewEmitter(statsdtest.Config{Prefix: "shop.web"}, statsdtest.WriterSink(conn))
	for _, r := range []struct {
		status int
		d      time.Duration
	}{
		{200, 10 * time.Millisecond},
		{200, 20 * time.Millisecond},
		{200, 30 * time.Millisecond},
		{404, 2 * time.Millisecond},
		{500, 1500 * time.Millisecond},
	} {
		if err := e.Request(r.status, r.d); err != nil {
			t.Fatal(err)
		}
	}
	for _, err := range []error{
		e.Workers(4),
		e.Log(statsdtest.LogCritical), // "WORKER TIMEOUT"
		e.Backlog(3),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// wantDatagrams is how many datagrams gunicornTraffic sends.
const wantDatagrams = 5*3 + 3

func attrString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprintf("int:%d", x.IntValue)
	}
	return v.String()
}

func attrs(kvs []*commonpb.KeyValue) string {
	var parts []string
	for _, kv := range kvs {
		parts = append(parts, kv.GetKey()+"="+attrString(kv.GetValue()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// points flattens the metrics of one scope into "name{attrs}" → value: the
// sum or gauge value, or for a histogram "count=N sum=S".
func points(t *testing.T, ms []*metricspb.Metric) map[string]string {
	t.Helper()
	out := make(map[string]string)
	num := func(p *metricspb.NumberDataPoint) string {
		if _, ok := p.GetValue().(*metricspb.NumberDataPoint_AsInt); ok {
			return fmt.Sprint(p.GetAsInt())
		}
		return fmt.Sprint(p.GetAsDouble())
	}
	for _, m := range ms {
		switch d := m.GetData().(type) {
		case *metricspb.Metric_Sum:
			if d.Sum.GetAggregationTemporality() != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
				t.Errorf("%s: temporality %v", m.GetName(), d.Sum.GetAggregationTemporality())
			}
			for _, p := range d.Sum.GetDataPoints() {
				out[m.GetName()+"{"+attrs(p.GetAttributes())+"}"] = num(p)
			}
		case *metricspb.Metric_Gauge:
			for _, p := range d.Gauge.GetDataPoints() {
				out[m.GetName()+"{"+attrs(p.GetAttributes())+"}"] = num(p)
			}
		case *metricspb.Metric_Histogram:
			for _, p := range d.Histogram.GetDataPoints() {
				out[m.GetName()+"{"+attrs(p.GetAttributes())+"}"] = fmt.Sprintf("count=%d sum=%.6f", p.GetCount(), p.GetSum())
			}
		default:
			t.Errorf("%s: unexpected data %T", m.GetName(), d)
		}
	}
	return out
}

// check asserts that reqs is exactly one export holding the traffic of
// gunicornTraffic, under a resource named service.
func check(t *testing.T, reqs []*colmetricpb.ExportMetricsServiceRequest, service string) {
	t.Helper()
	if len(reqs) != 1 {
		t.Fatalf("%d export requests, want exactly 1 (the final export at shutdown)", len(reqs))
	}
	rms := reqs[0].GetResourceMetrics()
	if len(rms) != 1 {
		t.Fatalf("%d resources, want 1", len(rms))
	}
	res := make(map[string]string)
	for _, kv := range rms[0].GetResource().GetAttributes() {
		res[kv.GetKey()] = attrString(kv.GetValue())
	}
	for k, want := range map[string]string{
		"service.name":                service,
		"deployment.environment.name": "ci",
		"telemetry.sdk.language":      "go",
	} {
		if res[k] != want {
			t.Errorf("resource %s = %q, want %q (all: %v)", k, res[k], want, res)
		}
	}
	if res["service.instance.id"] == "" {
		t.Errorf("no service.instance.id in %v", res)
	}

	sms := rms[0].GetScopeMetrics()
	if len(sms) != 1 || sms[0].GetScope().GetName() != otelbridge.ScopeName {
		t.Fatalf("scopes %v, want one, %s", sms, otelbridge.ScopeName)
	}
	got := points(t, sms[0].GetMetrics())

	const app = "app=shop.web"
	want := map[string]string{
		"gunicorn.requests{" + app + "}":                                    "5",
		"gunicorn.responses{" + app + ",http.response.status_code=int:200}": "3",
		"gunicorn.responses{" + app + ",http.response.status_code=int:404}": "1",
		"gunicorn.responses{" + app + ",http.response.status_code=int:500}": "1",
		"gunicorn.request.duration{" + app + "}":                            fmt.Sprintf("count=5 sum=%.6f", 0.010+0.020+0.030+0.002+1.5),
		"gunicorn.workers{" + app + "}":                                     "4",
		"gunicorn.backlog{" + app + "}":                                     "3",
		"gunicorn.log.messages{" + app + ",level=critical}":                 "1",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	// The bridge's own telemetry is exported in the same final export.
	if v := got["gunicornotel.datagrams{}"]; v != fmt.Sprint(wantDatagrams) {
		t.Errorf("gunicornotel.datagrams = %q, want %d", v, wantDatagrams)
	}
	for k, v := range got {
		if strings.HasPrefix(k, "gunicornotel.samples.rejected") && v != "0" {
			t.Errorf("%s = %s", k, v)
		}
		if strings.HasPrefix(k, "gunicorn.") {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected series %s = %s", k, v)
			}
		}
	}
	if t.Failed() {
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k+" = "+got[k])
		}
		sort.Strings(keys)
		t.Logf("received:\n%s", strings.Join(keys, "\n"))
	}
}

func TestForwardHTTP(t *testing.T) {
	cleanEnv(t)
	s := &otlptest.Sink{WantEncoding: "gzip"}
	srv := httptest.NewUnstartedServer(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL) // http://127.0.0.1:PORT
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
	t.Setenv("OTEL_SERVICE_NAME", "shop-web")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=ci,service.name=overridden")
	// No periodic export during the test: only the final one at shutdown.
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "3600000")

	forward(t, []string{"--statsd.listen", "udp://127.0.0.1:0"}, func(addr string) { gunicornTraffic(t, addr) })
	check(t, s.Received(t), "shop-web") // OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES
}

func TestForwardGRPC(t *testing.T) {
	cleanEnv(t)
	s := new(otlptest.Sink)
	gs := grpc.NewServer()
	colmetricpb.RegisterMetricsServiceServer(gs, s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	defer gs.Stop()

	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf") // the metrics-specific one wins
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	t.Setenv("OTEL_SERVICE_NAME", "shop-web-grpc")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=ci")

	forward(t, []string{"--statsd.listen", "127.0.0.1:0", "--export.interval", "1h"}, func(addr string) { gunicornTraffic(t, addr) })
	check(t, s.Received(t), "shop-web-grpc")
}

func TestProtocol(t *testing.T) {
	for _, tc := range []struct {
		metrics, general string
		want             string // "" for an error
	}{
		{"", "", protoHTTP},
		{"", "grpc", protoGRPC},
		{"http/protobuf", "grpc", protoHTTP},
		{"grpc", "http/protobuf", protoGRPC},
		{"", "http/json", ""},
		{"udp", "", ""},
	} {
		t.Setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", tc.metrics)
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.general)
		got, err := otlpProtocol()
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q/%q: %q, want an error", tc.metrics, tc.general, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q/%q: %q, %v; want %q", tc.metrics, tc.general, got, err, tc.want)
		}
	}
}

func TestFlags(t *testing.T) {
	c, err := parseFlags(nil, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "udp://:8125" || c.interval != 0 || c.PrefixKey != "app" || c.Log.Level != "info" || c.Log.Format != "logfmt" ||
		c.Watch.On() || c.Watch.Interval != 100*time.Millisecond || c.Watch.App != "" || c.Mapping.File != "" ||
		c.Limits.MaxSeries != otelbridge.DefaultMaxSeries || c.Limits.CardinalityLimit != otelbridge.DefaultMaxSeriesPerInstrument {
		t.Errorf("defaults: %+v", c)
	}
	for _, tc := range []struct {
		args    []string
		wantErr string // "" for none
	}{
		{[]string{"--export.interval=-1s"}, "--export.interval -1s"},
		{[]string{"--shutdown.timeout", "0s"}, "--shutdown.timeout 0s"},
		{[]string{"extra"}, "unexpected extra"},
		{[]string{"--nope"}, "unknown long flag '--nope'"},
		{[]string{"--log.format=xml"}, "unrecognized log format xml"},
		{[]string{"--otel.max-series=0"}, "--otel.max-series 0: want at least 1"},
		{[]string{"--otel.cardinality-limit=1"}, "--otel.cardinality-limit 1: want at least 2"},
		{[]string{"--gunicorn.pid-file", "/run/g.pid", "--gunicorn.pid", "7"}, "give only one"},
		{[]string{"--gunicorn.pid", "7", "--gunicorn.discover"}, "give only one"},
		{[]string{"--gunicorn.pid=-3"}, "--gunicorn.pid -3: not a process id"},
		{[]string{"--gunicorn.pid", "7", "--gunicorn.sample-interval", "0s"}, "--gunicorn.sample-interval 0s: must be positive"},
		{[]string{"--gunicorn.app", "shop.web"}, "--gunicorn.app labels the watcher's series"},
		{[]string{"--gunicorn.discover", "--gunicorn.app", "shop.web", "--otel.prefix-key", ""}, `--gunicorn.app "shop.web": --otel.prefix-key is empty`},
		{[]string{"--gunicorn.discover", "--otel.prefix-key", ""}, ""},
		{[]string{"--gunicorn.pid-file", "/run/g.pid", "--gunicorn.sample-interval", "1s"}, ""},
		// The watcher's settings of Gunicorn's (internal/watchopt checks them).
		{[]string{"--gunicorn.discover", "--gunicorn.threads", "0"}, "--gunicorn.threads 0: want at least 1"},
		{[]string{"--gunicorn.discover", "--gunicorn.threads", "four"}, `--gunicorn.threads "four": not a whole number`},
		{[]string{"--gunicorn.discover", "--gunicorn.worker-connections=-5"}, "--gunicorn.worker-connections -5: want at least 1"},
		{[]string{"--gunicorn.discover", "--gunicorn.timeout", "1500ms"}, "--gunicorn.timeout 1.5s: want a whole number of seconds, 0s (no timeout) or more"},
		{[]string{"--gunicorn.discover", "--gunicorn.timeout=-1s"}, "--gunicorn.timeout -1s: want a whole number of seconds"},
		{[]string{"--gunicorn.discover", "--gunicorn.timeout", "30"}, `--gunicorn.timeout "30": not a duration such as 30s`},
		{[]string{"--gunicorn.discover", "--gunicorn.worker-class", "gthred"}, `--gunicorn.worker-class "gthred": not a worker class Gunicorn knows`},
		{[]string{"--gunicorn.timeout", "10s", "--gunicorn.pid-attribute"},
			"--gunicorn.timeout, --gunicorn.pid-attribute: set the Gunicorn watcher, which is off: give --gunicorn.pid-file, --gunicorn.pid or --gunicorn.discover too"},
		{[]string{"--gunicorn.discover", "--gunicorn.worker-class", "uvicorn.workers.UvicornWorker", "--gunicorn.timeout", "0s"}, ""},
		// The single-dash spelling of earlier versions (the flag package's).
		{[]string{"-gunicorn.discover", "-gunicorn.timeout", "0s", "-prefix-key", ""}, ""},
		{[]string{"-nope"}, "unknown short flag '-n'"},
	} {
		_, err := parseFlags(tc.args, io.Discard, io.Discard)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want one saying %q", tc.args, err, tc.wantErr)
		}
	}

	c, err = parseFlags([]string{"-gunicorn.pid", "42", "--gunicorn.app", "shop.web..", "-gunicorn.sample-interval=250ms", "-prefix-key", "service"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Watch.On() || c.Watch.PID != 42 || c.Watch.App != "shop.web" || c.Watch.Interval != 250*time.Millisecond || c.PrefixKey != "service" {
		t.Errorf("watcher flags: %+v", c)
	}
	if (c.Watch.Gunicorn != watchopt.Settings{}) {
		t.Errorf("Gunicorn's settings given none: %+v", c.Watch.Gunicorn)
	}
	c, err = parseFlags([]string{"--gunicorn.discover", "--gunicorn.worker-class", "gthread", "--gunicorn.threads", "4",
		"--gunicorn.worker-connections=50", "--gunicorn.timeout", "0s", "--gunicorn.pid-attribute"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Watch.Gunicorn; g.WorkerClass != "gthread" || g.Threads == nil || *g.Threads != 4 || g.WorkerConnections == nil || *g.WorkerConnections != 50 ||
		g.Timeout == nil || *g.Timeout != 0 || !g.PIDAttribute {
		t.Errorf("Gunicorn's settings: %+v", g)
	}
}

// TestWatcherUnsupported: where procwatch cannot run (New returns
// errors.ErrUnsupported, as on every system but Linux), the forwarder logs it
// and forwards StatsD as without the watcher.
func TestWatcherUnsupported(t *testing.T) {
	cleanEnv(t)
	calls := 0
	newWatcher = func(metric.MeterProvider, ...procwatch.Option) (*procwatch.Watcher, error) {
		calls++
		return nil, fmt.Errorf("procwatch: watching Gunicorn needs Linux's /proc and sock_diag, not plan9: %w", errors.ErrUnsupported)
	}
	t.Cleanup(func() { newWatcher = procwatch.New })

	s := new(otlptest.Sink)
	srv := httptest.NewServer(s)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "shop-web")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=ci")
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "3600000")
	var logs bytes.Buffer
	forwardLog(t, io.MultiWriter(&logs, t.Output()), []string{"--statsd.listen", "udp://127.0.0.1:0", "--gunicorn.discover"},
		func(addr string) { gunicornTraffic(t, addr) })
	check(t, s.Received(t), "shop-web") // exactly the StatsD traffic, one scope
	if calls != 1 {
		t.Errorf("newWatcher called %d times, want 1", calls)
	}
	if want := `msg="the Gunicorn watcher does not run on this system; carrying on with StatsD only" err="procwatch: watching Gunicorn needs Linux's /proc and sock_diag, not plan9: unsupported operation"`; !strings.Contains(logs.String(), want) {
		t.Errorf("log:\n%s\nwant a line with %s", logs.String(), want)
	}
}

// TestWatcherError: any other error from procwatch.New stops the program
// before it listens.
func TestWatcherError(t *testing.T) {
	cleanEnv(t)
	newWatcher = func(metric.MeterProvider, ...procwatch.Option) (*procwatch.Watcher, error) {
		return nil, errors.New("procwatch: WithPIDFile: empty path")
	}
	t.Cleanup(func() { newWatcher = procwatch.New })
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // never reached
	err := run(context.Background(), []string{"--statsd.listen", "udp://127.0.0.1:0", "--gunicorn.pid", "1"},
		io.Discard, io.Discard, func(net.Addr) { t.Error("listening despite the watcher's error") })
	if want := "gunicorn watcher: procwatch: WithPIDFile: empty path"; err == nil || err.Error() != want {
		t.Errorf("run: %v, want %q", err, want)
	}
}

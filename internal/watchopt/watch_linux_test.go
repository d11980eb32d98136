package watchopt

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/procwatch"
)

// sample makes a watcher of master 1000 over the tree root with opts,
// samples once, and returns its Stats and the collected metrics.
func sample(t *testing.T, root string, opts ...procwatch.Option) (procwatch.Stats, metricdata.ResourceMetrics) {
	t.Helper()
	return sampleTarget(t, root, append(opts, procwatch.WithPID(1000))...)
}

// sampleTarget is sample without the master: opts name it.
func sampleTarget(t *testing.T, root string, opts ...procwatch.Option) (procwatch.Stats, metricdata.ResourceMetrics) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	w, err := procwatch.New(mp, append(opts, procwatch.WithProcRoot(root))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	if err := w.Sample(context.Background()); err != nil {
		t.Fatalf("Sample: %v", err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return w.Stats(), rm
}

func TestOptions(t *testing.T) {
	tree := fixture.ProcTree("sync-tcp")
	st, rm := sample(t, tree)
	if st.Kind != procwatch.KindSync || st.Timeout != 30 || st.TimeoutSource != "default" {
		t.Fatalf("recording: %+v", st)
	}
	// Per-process series by slot, not pid, by default.
	if got := strings.Join(fixture.GaugeAttrs(rm, procwatch.MetricProcessMemory), " "); strings.Contains(got, "1001") || !strings.Contains(got, "gunicorn.worker.slot=") {
		t.Errorf("memory series %s", got)
	}
	s := Settings{PIDAttribute: true}
	_, rm = sample(t, tree, s.Options()...)
	if got := strings.Join(fixture.GaugeAttrs(rm, procwatch.MetricProcessMemory), " "); !strings.Contains(got, "process.pid=1001") {
		t.Errorf("with PIDAttribute, memory series %s", got)
	}
	s = Settings{WorkerClass: "gthread", Threads: ptr(4), Timeout: ptr(10 * time.Second)}
	st, _ = sample(t, tree, s.Options()...)
	if st.Kind != procwatch.KindThreaded || st.Threads != 4 || st.ThreadsSource != "option" ||
		st.WorkerClass != "gthread" || st.WorkerClassSource != "option" || st.Timeout != 10 || st.TimeoutSource != "option" {
		t.Errorf("%+v", st)
	}
	// No timeout: none reported (Stats says 0, from the option).
	s = Settings{WorkerClass: "gevent", WorkerConnections: ptr(7), Timeout: ptr(time.Duration(0))}
	if st, _ = sample(t, tree, s.Options()...); st.Kind != procwatch.KindAsync || st.Capacity != 4*7 || st.Timeout != 0 {
		t.Errorf("%+v", st)
	}
}

// TestTargetOptions: each way of naming the master finds master 1000 of
// the recorded tree sync-tcp.
func TestTargetOptions(t *testing.T) {
	tree := fixture.ProcTree("sync-tcp")
	pidFile := filepath.Join(t.TempDir(), "gunicorn.pid")
	if err := os.WriteFile(pidFile, []byte("1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tg := range []Target{
		{PID: 1000, Interval: time.Second},
		{PIDFile: pidFile, Interval: time.Second},
		{Discover: true, Interval: time.Second},
	} {
		st, _ := sampleTarget(t, tree, tg.Options()...)
		if !st.Up || st.MasterPID != 1000 || st.Workers != 4 {
			t.Errorf("%+v: %+v, want master 1000 up with 4 workers", tg, st)
		}
	}
}

func TestPrefixOptions(t *testing.T) {
	tree := fixture.ProcTreeArgs(t, "sync-tcp", 1000, "/usr/bin/python3", "/usr/bin/gunicorn", "--workers", "4",
		"--statsd-prefix", "shop.web.", "--dogstatsd-tags", "env:prod", "--bind", "0.0.0.0:8000", "app:app")
	for _, tc := range []struct {
		key, app string
		tags     bool
		want     string
	}{
		{"app", "", true, "app=shop.web,env=prod"},
		{"app", "", false, "app=shop.web"},
		{"service", "", true, "env=prod,service=shop.web"},
		{"app", "other.", true, "app=other,env=prod"},
		{"app", "other.", false, "app=other"},
		{"", "other", true, "env=prod"},
		{"", "other", false, ""},
	} {
		_, rm := sample(t, tree, PrefixOptions(tc.key, tc.app, tc.tags)...)
		if got := fixture.GaugeAttrs(rm, procwatch.MetricUp); len(got) != 1 || got[0] != tc.want {
			t.Errorf("PrefixOptions(%q, %q, %v): gunicorn.up %q, want {%s}", tc.key, tc.app, tc.tags, got, tc.want)
		}
	}
	// The recording has no prefix: no attribute.
	if _, rm := sample(t, fixture.ProcTree("sync-tcp"), PrefixOptions("app", "", true)...); len(fixture.GaugeAttrs(rm, procwatch.MetricUp)) != 1 || fixture.GaugeAttrs(rm, procwatch.MetricUp)[0] != "" {
		t.Errorf("no prefix: %q", fixture.GaugeAttrs(rm, procwatch.MetricUp))
	}
}

//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/procwatch"
)

// TestWatcherFlags checks what each way of naming the master gives, over
// procwatch's recorded /proc trees (a master 1000 with 4 sync workers, 2 of
// them busy; "discover" adds other processes and masters, "prefixed" is
// sync-tcp with a master run with --statsd-prefix and --dogstatsd-tags): the
// master found, the settings of Gunicorn's the watcher takes, and the
// attributes of gunicorn.up (the app attribute under -prefix-key).
func TestWatcherFlags(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "gunicorn.pid")
	if err := os.WriteFile(pidFile, []byte("1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prefixed := fixture.ProcTreeArgs(t, "sync-tcp", 1000, "/usr/bin/python3", "/usr/bin/gunicorn", "--workers", "4",
		"--statsd-prefix", "shop.web.", "--dogstatsd-tags", "env:prod", "--bind", "0.0.0.0:8000", "app:app")
	syncDefault := func(st procwatch.Stats) bool {
		return st.Kind == procwatch.KindSync && st.WorkerClassSource == "default" && st.Timeout == 30 && st.TimeoutSource == "default"
	}
	for _, tc := range []struct {
		tree     string
		args     []string
		wantAttr string // of gunicorn.up
		check    func(procwatch.Stats) bool
	}{
		{"sync-tcp", []string{"--gunicorn.pid", "1000", "--gunicorn.app", "shop.web"}, "app=shop.web", syncDefault},
		{"sync-tcp", []string{"--gunicorn.pid-file", pidFile, "--gunicorn.app", "shop.web.", "--otel.prefix-key", "service"}, "service=shop.web", syncDefault},
		{"discover", []string{"--gunicorn.discover"}, "", nil},
		{"sync-tcp", []string{"--gunicorn.pid", "1000", "--gunicorn.worker-class", "gthread", "--gunicorn.threads", "4", "--gunicorn.timeout", "10s"}, "",
			func(st procwatch.Stats) bool {
				return st.Kind == procwatch.KindThreaded && st.WorkerClassSource == "option" && st.Threads == 4 && st.ThreadsSource == "option" &&
					st.Capacity == 16 && st.Timeout == 10 && st.TimeoutSource == "option"
			}},
		{"sync-tcp", []string{"--gunicorn.pid", "1000", "--gunicorn.worker-class", "gevent", "--gunicorn.worker-connections", "7", "--gunicorn.timeout", "0s"}, "",
			func(st procwatch.Stats) bool {
				return st.Kind == procwatch.KindAsync && st.Capacity == 28 && st.Timeout == 0
			}},
		// Without -gunicorn.app, the attribute comes from the master.
		{prefixed, []string{"--gunicorn.pid", "1000"}, "app=shop.web,env=prod", nil},
		{prefixed, []string{"--gunicorn.pid", "1000", "--otel.prefix-key", "service"}, "env=prod,service=shop.web", nil},
		{prefixed, []string{"--gunicorn.pid", "1000", "--gunicorn.app", "other"}, "app=other,env=prod", nil},
		{prefixed, []string{"--gunicorn.pid", "1000", "--otel.prefix-key", ""}, "env=prod", nil},
	} {
		cfg, err := parseFlags(tc.args, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		root := tc.tree
		if !filepath.IsAbs(root) {
			root = fixture.ProcTree(root)
		}
		opts := append(cfg.Watch.Options(cfg.PrefixKey, true, slog.New(slog.DiscardHandler)), procwatch.WithProcRoot(root))
		w, err := procwatch.New(mp, opts...)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if err := w.Sample(context.Background()); err != nil {
			t.Errorf("%q: Sample: %v", tc.args, err)
		}
		if st := w.Stats(); !st.Up || st.MasterPID != 1000 || st.Workers != 4 || (tc.check != nil && !tc.check(st)) {
			t.Errorf("%q: %+v, want master 1000 up with 4 workers", tc.args, st)
		}
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		var up []string
		for _, m := range rm.ScopeMetrics[0].Metrics {
			if m.Name == "gunicorn.up" {
				for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
					var kv []string
					for _, a := range p.Attributes.ToSlice() {
						kv = append(kv, string(a.Key)+"="+a.Value.Emit())
					}
					up = append(up, fmt.Sprintf("{%s} %d", strings.Join(kv, ","), p.Value))
				}
			}
		}
		if want := fmt.Sprintf("{%s} 1", tc.wantAttr); len(up) != 1 || up[0] != want {
			t.Errorf("%q: gunicorn.up %v, want %s", tc.args, up, want)
		}
		mp.Shutdown(context.Background())
	}
}

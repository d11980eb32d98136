//go:build linux

package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/procwatch"
)

// TestWatcherFlags checks what the --gunicorn.* flags of Gunicorn's settings
// make of procwatch's recorded tree sync-tcp (a master 1000 with 4 sync
// workers, 2 of them busy), and of a copy whose master has a
// --statsd-prefix and --dogstatsd-tags: the worker class, threads, timeout
// and capacity the watcher takes, and the labels of gunicorn.up and of a
// worker's memory.
func TestWatcherFlags(t *testing.T) {
	prefixed := fixture.ProcTreeArgs(t, "sync-tcp", 1000, "/usr/bin/python3", "/usr/bin/gunicorn", "--workers", "4",
		"--statsd-prefix", "shop.web.", "--dogstatsd-tags", "env:prod", "--bind", "0.0.0.0:8000", "app:app")
	for _, tc := range []struct {
		tree   string
		args   []string
		check  func(procwatch.Stats) bool
		up     string // the labels of gunicorn.up
		memory string // a worker's memory series has these labels
	}{
		{"", nil, func(st procwatch.Stats) bool {
			return st.Kind == procwatch.KindSync && st.WorkerClassSource == "default" && st.Timeout == 30 && st.TimeoutSource == "default"
		}, "", "gunicorn.process.role=worker,gunicorn.worker.slot=0"},
		{"", []string{"--gunicorn.worker-class=gthread", "--gunicorn.threads=4", "--gunicorn.timeout=10s"}, func(st procwatch.Stats) bool {
			return st.Kind == procwatch.KindThreaded && st.WorkerClassSource == "option" && st.Threads == 4 && st.ThreadsSource == "option" &&
				st.Capacity == 16 && st.Timeout == 10 && st.TimeoutSource == "option"
		}, "", ""},
		{"", []string{"--gunicorn.worker-class=gevent", "--gunicorn.worker-connections=7", "--gunicorn.timeout=0s"}, func(st procwatch.Stats) bool {
			return st.Kind == procwatch.KindAsync && st.Capacity == 28 && st.Timeout == 0
		}, "", ""},
		{"", []string{"--gunicorn.pid-attribute", "--gunicorn.app=shop"}, nil,
			"app=shop", "gunicorn.process.role=worker,gunicorn.worker.slot=0,process.pid=1001"},
		// Without --gunicorn.app, the label comes from the master.
		{prefixed, nil, nil, "app=shop.web,env=prod", ""},
		{prefixed, []string{"--otel.prefix-key=service"}, nil, "env=prod,service=shop.web", ""},
		// The master's DogStatsD tags, as the StatsD series carry them, unless
		// the daemon ignores tags.
		{prefixed, []string{"--gunicorn.app=other."}, nil, "app=other,env=prod", ""},
		{prefixed, []string{"--gunicorn.app=other.", "--no-statsd.parse-dogstatsd-tags"}, nil, "app=other", ""},
		{prefixed, []string{"--otel.prefix-key="}, nil, "env=prod", ""},
		{prefixed, []string{"--otel.prefix-key=", "--no-statsd.parse-dogstatsd-tags"}, nil, "", ""},
	} {
		tree := tc.tree
		if tree == "" {
			tree = fixture.ProcTree("sync-tcp")
		}
		cfg, err := parseFlags(append([]string{"--gunicorn.pid=1000"}, tc.args...), io.Discard, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		w, err := procwatch.New(mp, append(cfg.Watch.Options(cfg.PrefixKey, cfg.Parsing.DogStatsDTags, slog.New(slog.DiscardHandler)), procwatch.WithProcRoot(tree))...)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if err := w.Sample(context.Background()); err != nil {
			t.Errorf("%q: Sample: %v", tc.args, err)
		}
		if st := w.Stats(); !st.Up || st.MasterPID != 1000 || st.Workers != 4 || (tc.check != nil && !tc.check(st)) {
			t.Errorf("%q: %+v", tc.args, st)
		}
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		if up := fixture.GaugeAttrs(rm, procwatch.MetricUp); len(up) != 1 || up[0] != tc.up {
			t.Errorf("%q: gunicorn.up %q, want {%s}", tc.args, up, tc.up)
		}
		if mem := fixture.GaugeAttrs(rm, procwatch.MetricProcessMemory); tc.memory != "" && !contains(mem, tc.up, tc.memory) {
			t.Errorf("%q: gunicorn.process.memory.usage %q, want one with %s", tc.args, mem, tc.memory)
		}
		_ = w.Close()
		_ = mp.Shutdown(context.Background())
	}
}

// contains reports whether one of sets is base (if any) then labels.
func contains(sets []string, base, labels string) bool {
	want := labels
	if base != "" {
		want = base + "," + labels
	}
	for _, s := range sets {
		if s == want {
			return true
		}
	}
	return false
}

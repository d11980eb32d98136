package gunicornreceiver

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gunicornotel/gunicornotel/examples/gunicornreceiver/internal/metadata"
	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/procwatch"
)

// TestWatchOptions checks what a watch block makes of procwatch's recorded
// tree sync-tcp (a master 1000 with 4 sync workers, 2 of them busy), and of
// a copy whose master has a --statsd-prefix and --dogstatsd-tags: the
// settings of Gunicorn's the watcher takes, and the attributes of
// gunicorn.up and of a worker's memory.
func TestWatchOptions(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "gthread").String())
	if err != nil {
		t.Fatal(err)
	}
	gthread := defaultConfig()
	if err := sub.Unmarshal(gthread); err != nil {
		t.Fatal(err)
	}
	prefixed := fixture.ProcTreeArgs(t, "sync-tcp", 1000, "/usr/bin/python3", "/usr/bin/gunicorn", "--workers", "4",
		"--statsd-prefix", "shop.web.", "--dogstatsd-tags", "env:prod", "--bind", "0.0.0.0:8000", "app:app")
	watch := func(edit func(*Config)) *Config {
		c := defaultConfig()
		c.Watch.PID = 1000
		edit(c)
		return c
	}
	for _, tc := range []struct {
		name   string
		cfg    *Config
		tree   string
		check  func(procwatch.Stats) bool
		up     string // the attributes of gunicorn.up
		memory string // one worker's memory series has these
	}{
		{"default", watch(func(*Config) {}), "", func(st procwatch.Stats) bool {
			return st.Kind == procwatch.KindSync && st.WorkerClassSource == "default" && st.Timeout == 30 && st.TimeoutSource == "default"
		}, "", "gunicorn.process.role=worker,gunicorn.worker.slot=0"},
		// threads 4, timeout 0s, pid_attribute, from testdata/config.yaml.
		{"gthread", gthread, "", func(st procwatch.Stats) bool {
			return st.Kind == procwatch.KindThreaded && st.WorkerClassSource == "option" && st.Threads == 4 && st.ThreadsSource == "option" &&
				st.Capacity == 16 && st.Timeout == 0
		}, "", "gunicorn.process.role=worker,gunicorn.worker.slot=0,process.pid=1001"},
		{"gevent", watch(func(c *Config) {
			c.Watch.WorkerClass, c.Watch.WorkerConnections, c.Watch.Timeout = "gevent", ptr(7), ptr(10*time.Second)
		}), "",
			func(st procwatch.Stats) bool {
				return st.Kind == procwatch.KindAsync && st.Capacity == 28 && st.Timeout == 10 && st.TimeoutSource == "option"
			}, "", ""},
		{"app", watch(func(c *Config) { c.Watch.App = "shop." }), "", nil, "app=shop", ""},
		// Without app, the prefix attribute comes from the master.
		{"master's prefix", watch(func(*Config) {}), prefixed, nil, "app=shop.web,env=prod", ""},
		{"prefix_attribute", watch(func(c *Config) { c.PrefixAttribute = "service" }), prefixed, nil, "env=prod,service=shop.web", ""},
		// The master's DogStatsD tags, as the StatsD side reads them.
		{"app over the master's prefix", watch(func(c *Config) { c.Watch.App = "other" }), prefixed, nil, "app=other,env=prod", ""},
		{"no prefix_attribute", watch(func(c *Config) { c.PrefixAttribute = "" }), prefixed, nil, "env=prod", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := confmap.Validate(tc.cfg); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tree := tc.tree
			if tree == "" {
				tree = fixture.ProcTree("sync-tcp")
			}
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			defer mp.Shutdown(context.Background())
			opts := append(tc.cfg.Watch.options(tc.cfg.PrefixAttribute, slog.New(slog.DiscardHandler)), procwatch.WithProcRoot(tree))
			w, err := procwatch.New(mp, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := w.Sample(context.Background()); err != nil {
				t.Errorf("Sample: %v", err)
			}
			if st := w.Stats(); !st.Up || st.MasterPID != 1000 || st.Workers != 4 || (tc.check != nil && !tc.check(st)) {
				t.Errorf("%+v", st)
			}
			var rm metricdata.ResourceMetrics
			if err := reader.Collect(context.Background(), &rm); err != nil {
				t.Fatal(err)
			}
			if up := fixture.GaugeAttrs(rm, procwatch.MetricUp); len(up) != 1 || up[0] != tc.up {
				t.Errorf("gunicorn.up %q, want {%s}", up, tc.up)
			}
			if tc.memory != "" {
				mem := fixture.GaugeAttrs(rm, procwatch.MetricProcessMemory)
				if !strings.Contains(" "+strings.Join(mem, " ")+" ", " "+tc.memory+" ") {
					t.Errorf("gunicorn.process.memory.usage %q, want one with {%s}", mem, tc.memory)
				}
			}
		})
	}
}

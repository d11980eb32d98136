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

	"github.com/gunicornotel/gunicornotel/procwatch"
)

// procTrees is where procwatch keeps its recorded /proc trees.
const procTrees = "../../procwatch/testdata/proc"

// TestWatcherFlags checks what each way of naming the master gives, over
// procwatch's recorded /proc trees (a master 1000 with 4 sync workers, 2 of
// them busy; "discover" adds other processes and masters): the master found
// and the app attribute under -prefix-key.
func TestWatcherFlags(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "gunicorn.pid")
	if err := os.WriteFile(pidFile, []byte("1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tree     string
		args     []string
		wantAttr string // of gunicorn.up
	}{
		{"sync-tcp", []string{"-gunicorn.pid", "1000", "-gunicorn.app", "shop.web"}, "app=shop.web"},
		{"sync-tcp", []string{"-gunicorn.pid-file", pidFile, "-gunicorn.app", "shop.web.", "-prefix-key", "service"}, "service=shop.web"},
		{"discover", []string{"-gunicorn.discover"}, ""},
	} {
		cfg, err := parseFlags(tc.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		opts := append(cfg.watcherOptions(slog.New(slog.DiscardHandler)), procwatch.WithProcRoot(filepath.Join(procTrees, tc.tree)))
		w, err := procwatch.New(mp, opts...)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if err := w.Sample(context.Background()); err != nil {
			t.Errorf("%q: Sample: %v", tc.args, err)
		}
		if st := w.Stats(); !st.Up || st.MasterPID != 1000 || st.Workers != 4 {
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

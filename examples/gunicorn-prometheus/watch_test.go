package main

import (
	"io"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/gunicornotel/gunicornotel/internal/gunicorntest"
)

// TestGunicornWatcher runs the real Gunicorn with a pid file the program
// watches (--gunicorn.pid-file): the watcher's series sit beside the StatsD
// ones under the same app label (read from the master's --statsd-prefix, as
// no --gunicorn.app is given), a request in flight makes one worker busy,
// and gunicorn_up falls to 0 when Gunicorn stops while StatsD is still served.
func TestGunicornWatcher(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the watcher reads Linux's /proc")
	}
	gunicorntest.LookPath(t)
	pidFile := filepath.Join(t.TempDir(), "gunicorn.pid")
	r := startRun(t, loopback("--statsd.listen-tcp=", "--gunicorn.pid-file="+pidFile,
		"--gunicorn.sample-interval=50ms")...)
	g := gunicorntest.Start(t, gunicorntest.Options{
		StatsdHost:   r.addrs.UDP,
		StatsdPrefix: "shop.web",
		Workers:      2,
		Timeout:      20,
		Args:         []string{"--pid", pidFile},
	})

	const app = "app=shop.web"
	workers := func(state string) func() error {
		return func() error {
			fams := scrape(t, r.url("/metrics"))
			got := fams.values(t, "gunicorn_worker_count", dto.MetricType_GAUGE)
			up := fams.values(t, "gunicorn_up", dto.MetricType_GAUGE)
			if up[app] != 1 || got[app+",gunicorn_worker_state="+state] != 1 ||
				got[app+",gunicorn_worker_state=busy"]+got[app+",gunicorn_worker_state=idle"] != 2 {
				return errorf("gunicorn_up %v, gunicorn_worker_count %v", up, got)
			}
			return nil
		}
	}
	// One request in flight: one busy worker, one idle.
	done := make(chan error, 1)
	go func() {
		resp, err := g.Client(15 * time.Second).Get(g.URL("/slow?s=3"))
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, 10*time.Second, "one busy worker of 2", workers("busy"))
	if err := <-done; err != nil {
		t.Fatalf("GET /slow: %v", err)
	}
	waitFor(t, 10*time.Second, "the worker idle again", func() error {
		got := scrape(t, r.url("/metrics")).values(t, "gunicorn_worker_count", dto.MetricType_GAUGE)
		if got[app+",gunicorn_worker_state=idle"] != 2 {
			return errorf("gunicorn_worker_count %v", got)
		}
		return nil
	})
	fams := scrape(t, r.url("/metrics"))
	if busy := fams.values(t, "gunicorn_worker_busy_time_seconds_total", dto.MetricType_COUNTER)[app]; busy < 2.5 || busy > 4 {
		t.Errorf("gunicorn_worker_busy_time_seconds_total %v, want about 3 (one worker busy 3 s)", busy)
	}
	// The StatsD side, beside it, under the same label.
	if got := fams.values(t, "gunicorn_requests_total", dto.MetricType_COUNTER)[app]; got != 1 {
		t.Errorf("gunicorn_requests_total{%s} %v, want 1", app, got)
	}

	g.Stop()
	waitFor(t, 10*time.Second, "gunicorn_up 0", func() error {
		if up := scrape(t, r.url("/metrics")).values(t, "gunicorn_up", dto.MetricType_GAUGE); up[app] != 0 {
			return errorf("gunicorn_up %v", up)
		}
		return nil
	})
}

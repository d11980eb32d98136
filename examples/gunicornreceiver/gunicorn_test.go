package gunicornreceiver

import (
	"io"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/gunicornotel/gunicornotel/internal/gunicorntest"
)

// TestRealGunicorn runs a real Gunicorn (HTTP on a Unix socket) sending
// StatsD to the receiver, makes requests, stops Gunicorn, then the receiver,
// and checks the final collection. Skipped only when gunicorn is not
// installed (CI installs it).
func TestRealGunicorn(t *testing.T) {
	gunicorntest.LookPath(t)
	sink := new(consumertest.MetricsSink)
	r, addr := start(t, testConfig(), sink)

	g := gunicorntest.Start(t, gunicorntest.Options{
		StatsdHost:   addr.String(),
		StatsdPrefix: "shop.web",
		Workers:      2,
		Unix:         true,
		ReadyPath:    "/200",
	})
	const ready = 1 // Start's GET /200, answered
	for _, path := range []string{"/200", "/200", "/404", "/500"} {
		if _, err := g.Get(path); err != nil {
			t.Fatal(err)
		}
	}
	g.Stop() // graceful: workers finish, arbiter exits
	shutdown(t, r)

	got := metrics(t, sink.AllMetrics())
	wantPoints(t, "gunicorn.responses", sumPoints(t, metricOf(t, got, "gunicorn.responses")), map[string]float64{
		"app=shop.web,http.response.status_code=int:200": float64(ready + 2),
		"app=shop.web,http.response.status_code=int:404": 1,
		"app=shop.web,http.response.status_code=int:500": 1,
	})
	wantPoints(t, "gunicorn.requests", sumPoints(t, metricOf(t, got, "gunicorn.requests")), map[string]float64{"app=shop.web": float64(ready + 4)})
	d := metricOf(t, got, "gunicorn.request.duration").Histogram().DataPoints()
	if d.Len() != 1 || d.At(0).Count() != uint64(ready+4) {
		t.Errorf("gunicorn.request.duration: %d points, want 1 with count %d", d.Len(), ready+4)
	}
	if _, ok := got["gunicorn.workers"]; !ok {
		t.Errorf("no gunicorn.workers; have %v", keys(got))
	}
}

// TestRealGunicornReceiverRestarted: Gunicorn sends gunicorn.workers only
// when the number of workers changes, so a receiver (a Collector) that
// starts after Gunicorn, or restarts, counts requests at once but has no
// gunicorn.workers until the count changes (here TTIN, then TTOU). The
// README says so.
func TestRealGunicornReceiverRestarted(t *testing.T) {
	gunicorntest.LookPath(t)
	cfg := testConfig()
	cfg.CollectionInterval, cfg.InitialDelay = 50*time.Millisecond, 0
	first := new(consumertest.MetricsSink)
	r, addr := start(t, cfg, first)
	g := gunicorntest.Start(t, gunicorntest.Options{
		StatsdHost:   addr.String(),
		StatsdPrefix: "shop.web",
		Workers:      2,
		Unix:         true,
	})
	workers := func(n float64) func(map[string]pmetric.Metric) bool {
		return func(m map[string]pmetric.Metric) bool {
			w, ok := m["gunicorn.workers"]
			return ok && w.Gauge().DataPoints().Len() == 1 && w.Gauge().DataPoints().At(0).DoubleValue() == n
		}
	}
	// The arbiter has sent its one gunicorn.workers:2.
	waitCollection(t, first, "gunicorn.workers 2 at Gunicorn's start", workers(2))
	shutdown(t, r)

	// The same endpoint, a new receiver: as after a Collector restart.
	cfg.Endpoint = addr.String()
	sink := new(consumertest.MetricsSink)
	r, _ = start(t, cfg, sink)
	if _, err := g.Get("/200"); err != nil {
		t.Fatal(err)
	}
	got := waitCollection(t, sink, "one request", func(m map[string]pmetric.Metric) bool {
		req, ok := m["gunicorn.requests"]
		return ok && req.Sum().DataPoints().Len() == 1 && req.Sum().DataPoints().At(0).DoubleValue() == 1
	})
	if _, ok := got["gunicorn.workers"]; ok {
		t.Errorf("gunicorn.workers before the count changed: %v", dump(t, got)["gunicorn.workers"])
	}

	g.Signal(syscall.SIGTTIN)
	waitCollection(t, sink, "gunicorn.workers 3 after TTIN", workers(3))
	g.Signal(syscall.SIGTTOU)
	waitCollection(t, sink, "gunicorn.workers 2 after TTOU", workers(2))
	g.Stop()
	shutdown(t, r)
}

// waitCollection waits, for 20 seconds at most, for a collection in sink
// whose metrics satisfy ok, and returns them.
func waitCollection(t *testing.T, sink *consumertest.MetricsSink, what string, ok func(map[string]pmetric.Metric) bool) map[string]pmetric.Metric {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if all := sink.AllMetrics(); len(all) > 0 {
			if m := metrics(t, all[len(all)-1:]); ok(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			all := sink.AllMetrics()
			if len(all) == 0 {
				t.Fatalf("no collection with %s within 20s: none at all", what)
			}
			t.Fatalf("no collection with %s within 20s; the last: %v", what, dump(t, metrics(t, all[len(all)-1:])))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dump renders sums and gauges as name{attrs}=value, for failure messages.
func dump(t *testing.T, m map[string]pmetric.Metric) map[string]map[string]float64 {
	t.Helper()
	out := map[string]map[string]float64{}
	for name, x := range m {
		switch x.Type() {
		case pmetric.MetricTypeSum:
			out[name] = numberPoints(t, name, x.Sum().DataPoints())
		case pmetric.MetricTypeGauge:
			out[name] = numberPoints(t, name, x.Gauge().DataPoints())
		default:
			out[name] = nil
		}
	}
	return out
}

// TestRealGunicornWatched runs the receiver with a watch block on a real
// Gunicorn's pid file: the watcher's figures come down the same pipeline as
// the StatsD ones, under the same app attribute (the master's
// --statsd-prefix, read by the watcher), and a request in flight
// shows as one busy worker of two.
func TestRealGunicornWatched(t *testing.T) {
	gunicorntest.LookPath(t)
	cfg := testConfig()
	cfg.CollectionInterval, cfg.InitialDelay = 50*time.Millisecond, 0
	pidFile := filepath.Join(t.TempDir(), "gunicorn.pid")
	// No app: the prefix attribute comes from the master's --statsd-prefix.
	cfg.Watch = WatchConfig{PIDFile: pidFile, SampleInterval: 50 * time.Millisecond}
	sink := new(consumertest.MetricsSink)
	r, addr := start(t, cfg, sink)
	g := gunicorntest.Start(t, gunicorntest.Options{
		StatsdHost:   addr.String(),
		StatsdPrefix: "shop.web",
		Workers:      2,
		Timeout:      20,
		Args:         []string{"--pid", pidFile},
	})
	// The request holds a worker for 5 s: the window in which the watcher
	// must sample, the receiver collect and this test see that collection
	// (at 2 s a loaded machine that was slow to boot the second worker, or
	// to run any of them, could miss it).
	done := make(chan error, 1)
	go func() {
		resp, err := g.Client(20 * time.Second).Get(g.URL("/slow?s=5"))
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	waitCollection(t, sink, "one busy worker of 2, gunicorn.up 1", func(m map[string]pmetric.Metric) bool {
		// A collection may come before the watcher's first sample: a
		// metric missing from the map is a zero Metric, whose Type panics.
		up, okUp := m["gunicorn.up"]
		count, okCount := m["gunicorn.worker.count"]
		if !okUp || !okCount || up.Type() != pmetric.MetricTypeGauge || count.Type() != pmetric.MetricTypeGauge {
			return false
		}
		ups := numberPoints(t, "gunicorn.up", up.Gauge().DataPoints())
		counts := numberPoints(t, "gunicorn.worker.count", count.Gauge().DataPoints())
		return ups["app=shop.web"] == 1 &&
			counts["app=shop.web,gunicorn.worker.state=busy"] == 1 && counts["app=shop.web,gunicorn.worker.state=idle"] == 1
	})
	if err := <-done; err != nil {
		t.Fatalf("GET /slow: %v", err)
	}
	g.Stop()
	shutdown(t, r)
}

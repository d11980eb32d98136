package main

import (
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/examples/internal/otlptest"
	"github.com/gunicornotel/gunicornotel/internal/gunicorntest"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/procwatch"
)

// scopePoints returns the points of the last export request received, by
// scope name (see points).
func scopePoints(t *testing.T, s *otlptest.Sink) map[string]map[string]string {
	t.Helper()
	reqs := s.Received(t)
	if len(reqs) == 0 {
		return nil
	}
	out := make(map[string]map[string]string)
	for _, rm := range reqs[len(reqs)-1].GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			out[sm.GetScope().GetName()] = points(t, sm.GetMetrics())
		}
	}
	return out
}

// TestRealGunicorn runs a real Gunicorn (2 sync workers on a Unix socket)
// sending StatsD to the forwarder, which also watches it through its pid
// file (on Linux). It makes requests, holds one slow request in flight until
// an export shows one worker busy and one idle, stops the forwarder, then
// Gunicorn, and checks the final OTLP export: the StatsD counts, and the
// watcher's figures beside them, both with app=e2e. Skipped only when
// gunicorn is not installed (CI installs it).
func TestRealGunicorn(t *testing.T) {
	gunicorntest.LookPath(t)
	cleanEnv(t)
	s := new(otlptest.Sink)
	srv := httptest.NewServer(s)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", srv.URL+"/v1/metrics")
	t.Setenv("OTEL_SERVICE_NAME", "gunicorn-e2e")

	watch := runtime.GOOS == "linux" // elsewhere the watcher is unsupported, and skipped
	const backlog = 64
	pidFile := filepath.Join(t.TempDir(), "gunicorn.pid")
	args := []string{
		"--statsd.listen", "udp://127.0.0.1:0",
		"--export.interval", "200ms", // for the test to see the watcher's state before the final export
		"--gunicorn.pid-file", pidFile, // written by Gunicorn after the forwarder started
		// No -gunicorn.app: the app attribute is the master's --statsd-prefix.
		"--gunicorn.sample-interval", "50ms",
		"--gunicorn.pid-attribute", // the workers' series carry their pid besides their slot
	}
	var (
		g    *gunicorntest.Server
		slow = make(chan error, 1)
	)
	forward(t, args, func(addr string) {
		// Start waits for Gunicorn to answer a GET /200.
		g = gunicorntest.Start(t, gunicorntest.Options{
			StatsdHost:   addr,
			StatsdPrefix: "e2e",
			Workers:      2,
			Unix:         true,
			ReadyPath:    "/200",
			// A short graceful timeout: Stop does not wait for the slow
			// request, nor 30 s when Gunicorn 20.1 gets SIGTERM while a
			// worker boots.
			Args: []string{"--pid", pidFile, "--backlog", strconv.Itoa(backlog), "--graceful-timeout", "1"},
		})
		for _, path := range []string{"/200", "/200", "/404", "/500"} {
			if _, err := g.Get(path); err != nil {
				t.Fatal(err)
			}
		}
		if !watch {
			return
		}
		// One worker busy on a request that outlasts the forwarder, the
		// other idle.
		go func() {
			resp, err := g.Client(time.Minute).Get(g.URL("/slow?s=25"))
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			slow <- err
		}()
		const wait = 20 * time.Second
		deadline := time.Now().Add(wait)
		for {
			got := scopePoints(t, s)[procwatch.ScopeName]
			if got["gunicorn.worker.count{app=e2e,gunicorn.worker.state=busy}"] == "1" &&
				got["gunicorn.worker.count{app=e2e,gunicorn.worker.state=idle}"] == "1" {
				return // stop the forwarder while the request is in flight
			}
			if time.Now().After(deadline) {
				t.Fatalf("no export with 1 busy and 1 idle worker after %v; last: %v", wait, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	// The forwarder has made its final export; now stop Gunicorn (a busy
	// worker is killed after the 1 s graceful timeout) and let the slow
	// request end.
	g.Stop()
	if watch {
		select {
		case <-slow: // an error or a cut response: either is fine
		case <-time.After(time.Minute):
			t.Fatal("the slow request did not end a minute after Gunicorn stopped")
		}
	}

	reqs := s.Received(t)
	if len(reqs) == 0 {
		t.Fatal("no export request")
	}
	if n := len(reqs[len(reqs)-1].GetResourceMetrics()); n != 1 {
		t.Fatalf("%d resources in the final export, want 1", n)
	}
	byScope := scopePoints(t, s)
	got := byScope[otelbridge.ScopeName]
	// The readiness probe made one or more /200 requests; the slow request
	// had not ended.
	want := map[string]string{
		"gunicorn.responses{app=e2e,http.response.status_code=int:404}": "1",
		"gunicorn.responses{app=e2e,http.response.status_code=int:500}": "1",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	ok := got["gunicorn.responses{app=e2e,http.response.status_code=int:200}"]
	total := got["gunicorn.requests{app=e2e}"]
	var n200, nTotal int
	fmt.Sscan(ok, &n200)
	fmt.Sscan(total, &nTotal)
	if n200 < 3 || nTotal != n200+2 {
		t.Errorf("200s %q, requests %q: want at least 3 and 2 more", ok, total)
	}
	if !strings.HasPrefix(got["gunicorn.request.duration{app=e2e}"], fmt.Sprintf("count=%d ", nTotal)) {
		t.Errorf("duration %q, want count=%d", got["gunicorn.request.duration{app=e2e}"], nTotal)
	}
	if t.Failed() {
		t.Logf("received: %v", got)
	}
	if watch {
		checkWatched(t, byScope[procwatch.ScopeName], g, backlog)
	} else if w := byScope[procwatch.ScopeName]; w != nil {
		t.Errorf("the watcher reported on %s: %v", runtime.GOOS, w)
	}
}

// checkWatched checks the watcher's part of the final export: one worker
// busy and one idle, Gunicorn up, the memory, CPU and uptime of the master
// and of its two workers (by slot and pid), the Unix listener's backlog and limit, all with
// app=e2e.
func checkWatched(t *testing.T, got map[string]string, g *gunicorntest.Server, backlog int) {
	t.Helper()
	if got == nil {
		t.Fatalf("no %s scope in the final export", procwatch.ScopeName)
	}
	listener := "app=e2e,network.local.address=" + strings.TrimPrefix(g.Bind, "unix:") + ",network.transport=unix"
	for k, want := range map[string]string{
		"gunicorn.up{app=e2e}": "1",
		"gunicorn.worker.count{app=e2e,gunicorn.worker.state=busy}": "1",
		"gunicorn.worker.count{app=e2e,gunicorn.worker.state=idle}": "1",
		"gunicorn.worker.restarts{app=e2e}":                         "0",
		"gunicorn.listen.backlog{" + listener + "}":                 "0",
		"gunicorn.listen.backlog.limit{" + listener + "}":           strconv.Itoa(min(backlog, somaxconn(t))),
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	within := func(k string, max float64) {
		t.Helper()
		v, err := strconv.ParseFloat(got[k], 64)
		if err != nil || v <= 0 || v > max {
			t.Errorf("%s = %q, want in (0, %v]", k, got[k], max)
		}
	}
	within("gunicorn.worker.busy_time{app=e2e}", 60)
	within("gunicorn.worker.request.age.max{app=e2e}", 25)

	master := "gunicorn.process.role=master,process.pid=int:" + strconv.Itoa(g.Pid())
	within("gunicorn.process.memory.usage{app=e2e,"+master+"}", 1<<30)
	within("gunicorn.process.uptime{app=e2e,"+master+"}", 120)
	for _, mode := range []string{"user", "system"} {
		if _, ok := got["gunicorn.process.cpu.time{app=e2e,cpu.mode="+mode+","+master+"}"]; !ok {
			t.Errorf("no %s CPU time of the master (%s)", mode, master)
		}
	}
	workers := 0
	for k := range got {
		if strings.HasPrefix(k, "gunicorn.process.memory.usage{app=e2e,gunicorn.process.role=worker,gunicorn.worker.slot=int:") &&
			strings.Contains(k, ",process.pid=int:") {
			workers++
			within(k, 1<<30)
		}
		if !strings.HasPrefix(k, "gunicorn.") || !strings.HasPrefix(k[strings.IndexByte(k, '{'):], "{app=e2e") {
			t.Errorf("%s: not a gunicorn.* series with app=e2e", k)
		}
	}
	if workers != 2 {
		t.Errorf("memory of %d workers, want 2", workers)
	}
	if t.Failed() {
		keys := make([]string, 0, len(got))
		for k, v := range got {
			keys = append(keys, k+" = "+v)
		}
		sort.Strings(keys)
		t.Logf("watcher's series:\n%s", strings.Join(keys, "\n"))
	}
}

// somaxconn is net.core.somaxconn, which bounds Gunicorn's --backlog.
func somaxconn(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

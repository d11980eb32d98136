package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gunicornotel/gunicornotel/examples/internal/otlptest"
	"github.com/gunicornotel/gunicornotel/internal/gunicorntest"
	"github.com/gunicornotel/gunicornotel/otelbridge"
)

// TestRealGunicorn runs a real Gunicorn (on a Unix socket) sending StatsD to
// the forwarder, makes requests, stops Gunicorn, then the forwarder, and
// checks the final OTLP export. Skipped only when gunicorn is not installed
// (CI installs it).
func TestRealGunicorn(t *testing.T) {
	gunicorntest.LookPath(t)
	cleanEnv(t)
	s := new(otlptest.Sink)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s}
	go srv.Serve(ln)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://"+ln.Addr().String()+"/v1/metrics")
	t.Setenv("OTEL_SERVICE_NAME", "gunicorn-e2e")

	forward(t, []string{"-statsd.listen", "udp://127.0.0.1:0"}, func(addr string) {
		// Start waits for Gunicorn to answer a GET /200.
		g := gunicorntest.Start(t, gunicorntest.Options{
			StatsdHost:   addr,
			StatsdPrefix: "e2e",
			Workers:      2,
			Unix:         true,
			ReadyPath:    "/200",
		})
		defer g.Stop() // graceful: workers finish, arbiter exits
		for _, path := range []string{"/200", "/200", "/404", "/500"} {
			if _, err := g.Get(path); err != nil {
				t.Fatal(err)
			}
		}
	})

	reqs := s.Received(t)
	if len(reqs) != 1 {
		t.Fatalf("%d export requests, want 1", len(reqs))
	}
	sms := reqs[0].GetResourceMetrics()[0].GetScopeMetrics()
	var got map[string]string
	for _, sm := range sms {
		if sm.GetScope().GetName() == otelbridge.ScopeName {
			got = points(t, sm.GetMetrics())
		}
	}
	// The readiness probe made one or more /200 requests.
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
}

package gunicornreceiver

import (
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"

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
	wantPoints(t, "gunicorn.responses", sumPoints(t, got["gunicorn.responses"]), map[string]float64{
		"app=shop.web,http.response.status_code=int:200": float64(ready + 2),
		"app=shop.web,http.response.status_code=int:404": 1,
		"app=shop.web,http.response.status_code=int:500": 1,
	})
	wantPoints(t, "gunicorn.requests", sumPoints(t, got["gunicorn.requests"]), map[string]float64{"app=shop.web": float64(ready + 4)})
	d := got["gunicorn.request.duration"].Histogram().DataPoints()
	if d.Len() != 1 || d.At(0).Count() != uint64(ready+4) {
		t.Errorf("gunicorn.request.duration: %d points, want 1 with count %d", d.Len(), ready+4)
	}
	if _, ok := got["gunicorn.workers"]; !ok {
		t.Errorf("no gunicorn.workers; have %v", keys(got))
	}
}

package gunicornreceiver

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
)

// TestRealGunicorn runs a real Gunicorn (HTTP on a Unix socket) sending
// StatsD to the receiver, makes requests, stops Gunicorn, then the receiver,
// and checks the final collection. Skipped only when gunicorn is not
// installed (CI installs it).
func TestRealGunicorn(t *testing.T) {
	gunicorn, err := exec.LookPath("gunicorn")
	if err != nil {
		t.Skip("gunicorn not on PATH")
	}
	sink := new(consumertest.MetricsSink)
	r, addr := start(t, testConfig(), sink)

	app, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "g.sock")
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return new(net.Dialer).DialContext(ctx, "unix", sock)
		}},
	}
	get := func(path string) error {
		resp, err := client.Get("http://gunicorn" + path)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}

	cmd := exec.Command(gunicorn, "--chdir", app, "--bind", "unix:"+sock, "--workers", "2",
		"--statsd-host", addr.String(), "--statsd-prefix", "shop.web", "app:app")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM) // graceful: workers finish, arbiter exits
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("gunicorn did not stop after SIGTERM")
		}
	}
	defer func() {
		stop()
		if t.Failed() {
			t.Logf("gunicorn:\n%s", logs.String())
		}
	}()

	deadline := time.Now().Add(30 * time.Second)
	ready := 0
	for {
		err := get("/200")
		if err == nil {
			ready++
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gunicorn not answering after 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, path := range []string{"/200", "/200", "/404", "/500"} {
		if err := get(path); err != nil {
			t.Fatal(err)
		}
	}
	stop()
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

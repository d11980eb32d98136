package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/otelbridge"
)

// TestRealGunicorn runs a real Gunicorn (on a Unix socket) sending StatsD to
// the forwarder, makes requests, stops Gunicorn, then the forwarder, and
// checks the final OTLP export. Skipped only when gunicorn is not installed
// (CI installs it).
func TestRealGunicorn(t *testing.T) {
	gunicorn, err := exec.LookPath("gunicorn")
	if err != nil {
		t.Skip("gunicorn not on PATH")
	}
	cleanEnv(t)
	s := &httpSink{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s}
	go srv.Serve(ln)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://"+ln.Addr().String()+"/v1/metrics")
	t.Setenv("OTEL_SERVICE_NAME", "gunicorn-e2e")

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
	get := func(path string) (int, error) {
		resp, err := client.Get("http://gunicorn" + path)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	forward(t, []string{"-statsd.listen", "udp://127.0.0.1:0"}, func(addr string) {
		cmd := exec.Command(gunicorn, "--chdir", app, "--bind", "unix:"+sock, "--workers", "2",
			"--statsd-host", addr, "--statsd-prefix", "e2e", "app:app")
		var logs strings.Builder
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
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
			if t.Failed() {
				t.Logf("gunicorn:\n%s", logs.String())
			}
		}()
		// Wait for Gunicorn to answer (bounded).
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := get("/200"); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("gunicorn not answering after 30s: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, path := range []string{"/200", "/200", "/404", "/500"} {
			if _, err := get(path); err != nil {
				t.Fatal(err)
			}
		}
	})

	reqs := s.received(t)
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

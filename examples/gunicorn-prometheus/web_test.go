package main

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// webStats returns the web limiter's counters and open connections from the
// program's own metrics.
func webStats(t *testing.T, url string) (evicted, rejected, open float64) {
	t.Helper()
	fams := scrape(t, url)
	closed := fams.values(t, "gunicornotel_exporter_web_connections_closed_total", dto.MetricType_COUNTER)
	open = fams.values(t, "gunicornotel_exporter_web_connections_open", dto.MetricType_GAUGE)[""]
	return closed["reason=evicted"], closed["reason=rejected"], open
}

// TestIdleConnectionsDoNotLockOutScrapes holds 300 idle connections to the web
// server, capped at 50 by --web.max-connections: the cap holds, the longest
// idle ones are closed to admit new ones, and a scrape succeeds at once.
func TestIdleConnectionsDoNotLockOutScrapes(t *testing.T) {
	a := newTestApp(t, "--web.max-connections=50")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 300 {
		c, err := net.Dial("tcp", a.addrs.Web)
		must(t, err)
		conns = append(conns, c)
	}
	// Keep-alive connections that have served a request are idle too.
	for _, c := range conns[290:] {
		_, err := io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
		must(t, err)
	}
	waitFor(t, 10*time.Second, "the limiter to see 300 connections", func() error {
		if n := a.webLn.evicted.Load() + uint64(a.webLn.open()); n < 300 {
			return errorf("%d accepted", n)
		}
		return nil
	})
	if open := a.webLn.open(); open > 50 {
		t.Errorf("%d connections open, over the cap of 50", open)
	}
	start := time.Now()
	code, body := get(t, a.url("/metrics"))
	if code != http.StatusOK || !strings.Contains(body, "gunicornotel_exporter_web_connections_closed_total") {
		t.Fatalf("scrape with 300 idle connections: %d\n%s", code, body)
	}
	t.Logf("scrape with 300 idle connections held took %v", time.Since(start))
	evicted, rejected, open := webStats(t, a.url("/metrics"))
	if evicted < 250 || rejected != 0 || open > 50 {
		t.Errorf("evicted %v (want at least 250), rejected %v (want 0), open %v (want at most 50)", evicted, rejected, open)
	}
	if !strings.Contains(a.logs.String(), "closed the longest idle connection") {
		t.Errorf("the eviction is not logged:\n%s", a.logs)
	}
}

// TestSlowHeadersAreEvicted: connections that trickle their request headers
// (slowloris) hold no slot against a scrape: the longest waiting is closed to
// admit it.
func TestSlowHeadersAreEvicted(t *testing.T) {
	a := newTestApp(t, "--web.max-connections=5")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 5 {
		c, err := net.Dial("tcp", a.addrs.Web)
		must(t, err)
		_, err = io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n")
		must(t, err)
		conns = append(conns, c)
	}
	waitFor(t, 5*time.Second, "5 connections", func() error {
		if n := a.webLn.open(); n != 5 {
			return errorf("%d open", n)
		}
		return nil
	})
	if code, _ := get(t, a.url("/-/healthy")); code != http.StatusOK {
		t.Errorf("GET /-/healthy with 5 slow requests holding the 5 slots: %d", code)
	}
	if got := a.webLn.evicted.Load(); got != 1 {
		t.Errorf("evicted %d, want 1", got)
	}
}

// TestConnLimiterRejectsWhenAllBusy: connections whose requests are being
// served are never closed to admit a new one; the new one is closed instead,
// counted, and served again once a slot is free.
func TestConnLimiterRejectsWhenAllBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	logs := new(syncBuffer)
	l := newConnLimiter(ln, 3, slog.New(slog.NewTextHandler(logs, nil)))
	release := make(chan struct{})
	started := make(chan struct{}, 3)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				started <- struct{}{}
				<-release
			}
			_, _ = io.WriteString(w, "ok")
		}),
		ConnState: l.connState,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	defer func() {
		srv.Close()
		<-done
	}()
	url := "http://" + ln.Addr().String()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
			resp, err := c.Get(url + "/block")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	for range 3 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("3 requests not in flight within 10s")
		}
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	must(t, err)
	defer c.Close()
	must(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a connection over the cap with every slot busy: read %d bytes, %v; want it closed", n, err)
	}
	if got, ev := l.rejected.Load(), l.evicted.Load(); got != 1 || ev != 0 {
		t.Errorf("rejected %d, evicted %d; want 1 and 0", got, ev)
	}
	if !strings.Contains(logs.String(), "every connection is busy") {
		t.Errorf("the rejection is not logged:\n%s", logs)
	}
	close(release)
	wg.Wait()
	resp, err := http.Get(url + "/")
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Errorf("after the busy requests: %q", body)
	}
}

// TestParallelScrapes sends 50 scrapes at once: every one completes, with
// the metrics or, over --web.max-requests (40 by default), 503 at once.
func TestParallelScrapes(t *testing.T) {
	a := newTestApp(t)
	// Some traffic, so that a scrape has work to do.
	for i := range 200 {
		a.bridge.HandleDatagram([]byte("load.metric:" + strings.Repeat("1", 1+i%3) + "|c|#i:" + string(rune('a'+i%26))))
	}
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 30 * time.Second}
			resp, err := c.Get(a.url("/metrics"))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				errs <- err
				return
			}
			if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), "load_metric{") {
				errs <- errors.New("a 200 without the metrics")
				return
			}
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n := map[int]int{}
	for c := range codes {
		n[c]++
	}
	if n[http.StatusOK] < 1 || n[http.StatusOK]+n[http.StatusServiceUnavailable] != 50 || n[http.StatusServiceUnavailable] > 10 {
		t.Errorf("status codes %v: want 50 answers, at least 40 of them 200 and the rest 503", n)
	}
	t.Logf("50 parallel scrapes: %v", n)
}

// TestLifecycle: with --web.enable-lifecycle, POST /-/reload reloads the
// mapping file (an invalid one is refused, 500, the rules kept), other
// methods are refused, and POST /-/quit shuts the program down gracefully.
// Without the flag, neither endpoint exists.
func TestLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mapping.yml")
	must(t, os.WriteFile(path, []byte(rulesV1), 0o644))
	r := startRun(t, loopback("--statsd.mapping-config="+path, "--web.enable-lifecycle")...)
	post := func(p string) (int, string) {
		t.Helper()
		resp, err := http.Post(r.url(p), "text/plain", nil)
		must(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		must(t, err)
		return resp.StatusCode, string(body)
	}
	rules := func() float64 {
		return scrape(t, r.url("/metrics")).values(t, "gunicornotel_exporter_mapping_rules", dto.MetricType_GAUGE)[""]
	}
	if code, _ := get(t, r.url("/-/reload")); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d", code)
	}
	must(t, os.WriteFile(path, []byte(rulesV2), 0o644))
	if code, body := post("/-/reload"); code != http.StatusOK || body != "Requesting reload\n" {
		t.Errorf("POST /-/reload: %d %q", code, body)
	}
	if got := rules(); got != 2 {
		t.Errorf("rules after the reload: %v, want 2", got)
	}
	must(t, os.WriteFile(path, []byte(rulesInvalid), 0o644))
	if code, body := post("/-/reload"); code != http.StatusInternalServerError || !strings.Contains(body, path+":") {
		t.Errorf("POST /-/reload of an invalid file: %d %q", code, body)
	}
	if got := rules(); got != 2 {
		t.Errorf("rules after a failed reload: %v, want 2", got)
	}
	if code, body := post("/-/quit"); code != http.StatusOK || !strings.Contains(body, "Goodbye") {
		t.Errorf("POST /-/quit: %d %q", code, body)
	}
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Errorf("run after /-/quit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return within 15s of POST /-/quit")
	}

	off := newTestApp(t)
	for _, p := range []string{"/-/reload", "/-/quit"} {
		resp, err := http.Post(off.url(p), "text/plain", nil)
		must(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s without --web.enable-lifecycle: %s", p, resp.Status)
		}
	}
	if off.ready.Load() != true {
		t.Error("the program without the lifecycle API stopped")
	}
}

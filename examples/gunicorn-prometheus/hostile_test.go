package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
	dto "github.com/prometheus/client_model/go"
)

// hostileDatagrams are lines whose tags collide with the labels the
// exposition writes itself (le on a histogram's buckets, quantile), that
// Prometheus reserves (__name__), that become the same label name after
// escaping (a.b and a_b; app beside the prefix label), or no label name at
// all. Before the mapper left such tags out, the first one alone made every
// scrape fail (up == 0 until a restart).
var hostileDatagrams = []string{
	"myapp.gunicorn.request.duration:7|ms|#le:evil",
	"myapp.gunicorn.requests:1|c|#quantile:0.5,__name__:x,app:other",
	"hostile.timer:12|ms|#le:evil,quantile:0.9",
	"hostile.events_total:1|c|#__name__:y,a.b:1,a_b:2,_:z,.:w,otel_scope_name:s",
	"hostile.queue:3|g|#le:1,__meta:2",
}

// TestHostileTagsKeepTheTargetUp sends the hostile datagrams, then a
// sentinel: the exposition passes promtool check metrics (names chosen to
// pass its lint too: the daemon serves generic names as statsd_exporter does), every sample is
// still recorded (without the tags), the tags left out are counted, and a
// real Prometheus scraping the program keeps up at 1 and sees the samples.
func TestHostileTagsKeepTheTargetUp(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus)")
	}
	r := startRun(t, loopback("--statsd.listen-tcp=")...)
	promURL := startPrometheus(t, r.addrs.Web) // up == 1 before the traffic
	conn, err := statsdtest.Dial(r.addrs.UDP)
	must(t, err)
	defer conn.Close()
	for _, d := range append(hostileDatagrams, "hostile.sentinel_total:1|c") {
		_, err := conn.Write([]byte(d))
		must(t, err)
	}
	var body []byte
	waitFor(t, 10*time.Second, "the sentinel", func() error {
		body = scrapeText(t, r.url("/metrics"))
		if !bytes.Contains(body, []byte("hostile_sentinel_total")) {
			return errors.New("not there yet")
		}
		return nil
	})
	cmd := exec.CommandContext(context.Background(), promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("promtool check metrics: %v\n%s\nexposition:\n%s", err, out, body)
	}
	fams := scrape(t, r.url("/metrics"))
	for name, want := range map[string]map[string]float64{
		"gunicorn_requests_total": {"app=myapp": 1},
		"hostile_events_total":    {"a_b=2": 1},
		"hostile_queue":           {"": 3},
	} {
		var got map[string]float64
		switch name {
		case "hostile_queue":
			got = fams.values(t, name, dto.MetricType_GAUGE)
		default:
			got = fams.values(t, name, dto.MetricType_COUNTER)
		}
		equalSeries(t, name, got, want)
	}
	if got := fams.values(t, "gunicorn_request_duration_seconds", dto.MetricType_HISTOGRAM); got["app=myapp"] != 1 {
		t.Errorf("gunicorn_request_duration_seconds counts %v, want 1 under app=myapp", got)
	}
	if got := fams.values(t, "gunicornotel_tags_dropped_total", dto.MetricType_COUNTER); got["reason=reserved"] < 8 || got["reason=conflict"] < 2 {
		t.Errorf("gunicornotel_tags_dropped_total %v, want reserved and conflict counted", got)
	}
	// Prometheus scrapes at 1 s: a few scrapes after the traffic, the target
	// is still up and the samples are stored.
	waitPromValue(t, promURL, `hostile_sentinel_total`, "1")
	waitPromValue(t, promURL, `up{job="gunicorn"}`, "1")
	waitPromValue(t, promURL, `sum(gunicorn_request_duration_seconds_count)`, "1")
}

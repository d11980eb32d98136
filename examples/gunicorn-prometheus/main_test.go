package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// dialEmitter returns an Emitter of Gunicorn 20.1 started with --statsd-prefix
// prefix and --dogstatsd-tags env:prod,team:web, sending to addr (as Gunicorn's
// --statsd-host takes it).
func dialEmitter(t *testing.T, addr, prefix string) *statsdtest.Emitter {
	t.Helper()
	conn, err := statsdtest.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return statsdtest.NewEmitter(statsdtest.Config{
		Version: statsdtest.V(20, 1, 0),
		Prefix:  prefix,
		Tags:    "env:prod,team:web",
	}, statsdtest.WriterSink(conn))
}

// tcpLines sends datagrams as newline-terminated lines over one TCP
// connection to addr.
func tcpLines(t *testing.T, addr string, datagrams [][]byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for _, d := range datagrams {
		buf = append(append(buf, d...), '\n')
	}
	if _, err := conn.Write(buf); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRunGunicornProfile runs the program with no mapping file and sends
// Gunicorn's traffic over UDP, TCP and a Unix datagram socket.
func TestRunGunicornProfile(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "statsd.sock")
	r := startRun(t, loopback("--statsd.listen-unixgram="+sock)...)
	if r.addrs.UDP == "" || r.addrs.TCP == "" || r.addrs.Unixgram != sock {
		t.Fatalf("addresses %+v", r.addrs)
	}
	if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("socket file: %v, %v; want mode 0755 (--statsd.unixsocket-mode default)", st, err)
	}

	udp := dialEmitter(t, r.addrs.UDP, "shop.web")
	must(t, udp.Workers(2))
	must(t, udp.Request(200, 20*time.Millisecond))
	must(t, udp.Request(200, 30*time.Millisecond))
	must(t, udp.Request(404, 1500*time.Millisecond))
	must(t, udp.Log(statsdtest.LogCritical))
	unix := dialEmitter(t, "unix:"+sock, "shop.web")
	must(t, unix.Request(201, 3*time.Millisecond))
	var lines [][]byte
	lines = udp.AppendRequest(lines, 500, 7*time.Millisecond)
	lines = udp.AppendRequest(lines, 500, 8*time.Millisecond)
	tcpLines(t, r.addrs.TCP, lines)

	var fams families
	waitFor(t, 10*time.Second, "6 requests", func() error {
		fams = scrape(t, r.url("/metrics"))
		if got := sum(fams.values(t, "gunicorn_requests_total", dto.MetricType_COUNTER)); got != 6 {
			return errorf("gunicorn_requests_total %v", got)
		}
		if got := fams.values(t, "gunicornotel_datagrams_total", dto.MetricType_COUNTER)[""]; got != 20 {
			return errorf("gunicornotel_datagrams_total %v", got)
		}
		return nil
	})
	const tagged = "app=shop.web,env=prod,team=web"
	equalSeries(t, "gunicorn_requests_total", fams.values(t, "gunicorn_requests_total", dto.MetricType_COUNTER),
		map[string]float64{tagged: 6})
	equalSeries(t, "gunicorn_responses_total", fams.values(t, "gunicorn_responses_total", dto.MetricType_COUNTER),
		map[string]float64{
			"app=shop.web,env=prod,http_response_status_code=200,team=web": 2,
			"app=shop.web,env=prod,http_response_status_code=201,team=web": 1,
			"app=shop.web,env=prod,http_response_status_code=404,team=web": 1,
			"app=shop.web,env=prod,http_response_status_code=500,team=web": 2,
		})
	equalSeries(t, "gunicorn_workers", fams.values(t, "gunicorn_workers", dto.MetricType_GAUGE),
		map[string]float64{tagged: 2})
	equalSeries(t, "gunicorn_log_messages_total", fams.values(t, "gunicorn_log_messages_total", dto.MetricType_COUNTER),
		map[string]float64{"app=shop.web,env=prod,level=critical,team=web": 1})
	equalSeries(t, "gunicorn_request_duration_seconds count",
		fams.values(t, "gunicorn_request_duration_seconds", dto.MetricType_HISTOGRAM),
		map[string]float64{tagged: 6})
	h := fams["gunicorn_request_duration_seconds"].GetMetric()[0].GetHistogram()
	buckets := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		buckets[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	if buckets[0.005] != 1 || buckets[0.01] != 3 || buckets[0.05] != 5 || buckets[1] != 5 || buckets[2.5] != 6 {
		t.Errorf("buckets %v", buckets)
	}
	if got, want := h.GetSampleSum(), 0.02+0.03+1.5+0.003+0.007+0.008; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("sum %v, want %v", got, want)
	}
	// The program's own telemetry, without scope labels or target_info.
	if got := fams.values(t, "gunicornotel_server_connections_total", dto.MetricType_COUNTER)[""]; got != 1 {
		t.Errorf("gunicornotel_server_connections_total %v", got)
	}
	if got := fams.values(t, "gunicornotel_samples_recorded_total", dto.MetricType_COUNTER)[""]; got != 20 {
		t.Errorf("gunicornotel_samples_recorded_total %v", got)
	}
	for _, name := range []string{"target_info", "otel_scope_info", "go_goroutines", "process_start_time_seconds"} {
		if _, ok := fams[name]; ok != strings.HasPrefix(name, "go_") && ok != strings.HasPrefix(name, "process_") {
			t.Errorf("family %s present: %v", name, ok)
		}
	}

	if err := r.stop(t); err != nil {
		t.Errorf("run: %v", err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after shutdown: %v", err)
	}
}

// demoMapping is the statsd_exporter mapping file of a widely used Gunicorn
// monitoring demo.
var demoMapping = fixture.MappingPath(fixture.DemoMapping)

// TestMappingConfig runs the program with the statsd_exporter mapping file of
// a Gunicorn monitoring demo and checks that the names and labels are the
// ones statsd_exporter gives (the differential test compares them with the
// real statsd_exporter).
func TestMappingConfig(t *testing.T) {
	r := startRun(t, loopback("--statsd.mapping-config="+demoMapping)...)
	// "*" is one dot-separated segment: the rules match the prefix "shop",
	// not "shop.web". Those names, and every name no rule matches, get
	// statsd_exporter's generic names: with a mapping file the built-in
	// profile is off.
	shop := dialEmitter(t, r.addrs.UDP, "shop")
	must(t, shop.Workers(2))
	must(t, shop.Request(200, 20*time.Millisecond))
	must(t, shop.Request(200, 300*time.Millisecond))
	must(t, shop.Request(404, 2*time.Second))
	must(t, shop.Log(statsdtest.LogCritical))
	web := dialEmitter(t, r.addrs.UDP, "shop.web")
	must(t, web.Request(200, 20*time.Millisecond))

	var fams families
	waitFor(t, 10*time.Second, "4 requests", func() error {
		fams = scrape(t, r.url("/metrics"))
		got := sum(fams.values(t, "gunicorn_requests", dto.MetricType_COUNTER)) +
			sum(fams.values(t, "shop_web_gunicorn_requests", dto.MetricType_COUNTER))
		// The durations too: a reader may still be on their datagrams
		// when another has counted the requests.
		durations := sum(fams.values(t, "gunicorn_request_duration", dto.MetricType_SUMMARY)) +
			sum(fams.values(t, "shop_web_gunicorn_request_duration", dto.MetricType_SUMMARY))
		if got != 4 || durations != 4 || len(fams.values(t, "shop_gunicorn_log_critical", dto.MetricType_COUNTER)) == 0 {
			return errorf("requests %v, durations %v; families %v", got, durations, fams.names())
		}
		return nil
	})
	const shopTags = "app=shop,env=prod,team=web"
	equalSeries(t, "gunicorn_response_code", fams.values(t, "gunicorn_response_code", dto.MetricType_COUNTER),
		map[string]float64{
			"app=shop,env=prod,status=200,team=web": 2,
			"app=shop,env=prod,status=404,team=web": 1,
		})
	equalSeries(t, "gunicorn_requests", fams.values(t, "gunicorn_requests", dto.MetricType_COUNTER),
		map[string]float64{shopTags: 3})
	equalSeries(t, "gunicorn_workers", fams.values(t, "gunicorn_workers", dto.MetricType_GAUGE),
		map[string]float64{shopTags: 2})
	// The demo's mapping says no observer_type: a summary, as there.
	equalSeries(t, "gunicorn_request_duration count",
		fams.values(t, "gunicorn_request_duration", dto.MetricType_SUMMARY),
		map[string]float64{shopTags: 3})
	// statsd_exporter's default objectives.
	var qs []float64
	for _, q := range fams["gunicorn_request_duration"].GetMetric()[0].GetSummary().GetQuantile() {
		qs = append(qs, q.GetQuantile())
	}
	if want := []float64{0.5, 0.9, 0.99}; !reflect.DeepEqual(qs, want) {
		t.Errorf("gunicorn_request_duration quantiles %v, want %v", qs, want)
	}
	// No rule names gunicorn.log.*: statsd_exporter's generic name.
	equalSeries(t, "shop_gunicorn_log_critical", fams.values(t, "shop_gunicorn_log_critical", dto.MetricType_COUNTER),
		map[string]float64{"env=prod,team=web": 1})
	// The two-segment prefix: generic names too.
	equalSeries(t, "shop_web_gunicorn_requests", fams.values(t, "shop_web_gunicorn_requests", dto.MetricType_COUNTER),
		map[string]float64{"env=prod,team=web": 1})
	equalSeries(t, "shop_web_gunicorn_request_status_200", fams.values(t, "shop_web_gunicorn_request_status_200", dto.MetricType_COUNTER),
		map[string]float64{"env=prod,team=web": 1})
	equalSeries(t, "shop_web_gunicorn_request_duration count",
		fams.values(t, "shop_web_gunicorn_request_duration", dto.MetricType_SUMMARY),
		map[string]float64{"env=prod,team=web": 1})
	for _, name := range []string{"gunicorn_response_code_total", "gunicorn_requests_total", "gunicorn_request_duration_seconds",
		"gunicorn_log_messages_total", "gunicorn_responses_total"} {
		if _, ok := fams[name]; ok {
			t.Errorf("unexpected family %s", name)
		}
	}
	if got := fams.values(t, "gunicornotel_exporter_mapping_rules", dto.MetricType_GAUGE)[""]; got != 4 {
		t.Errorf("gunicornotel_exporter_mapping_rules %v, want 4", got)
	}
}

// TestGenericNames: without a mapping file, names no rule claims are served
// as statsd_exporter serves them (no _total, no unit, escaped), next to
// Gunicorn's under the built-in profile; with --no-gunicorn.profile,
// Gunicorn's too.
func TestGenericNames(t *testing.T) {
	for _, profile := range []bool{true, false} {
		t.Run(fmt.Sprintf("profile=%v", profile), func(t *testing.T) {
			var args []string
			if !profile {
				args = append(args, "--no-gunicorn.profile")
			}
			a := newTestApp(t, args...)
			for _, d := range []string{
				"orders.sold:1|c", "orders.sold:2|c|@0.5",
				"api.latency:12|ms", "api.latency:8|ms",
				"9lives.queue-depth:7|g|#my-key:a,1st:b",
				"shop.web.gunicorn.requests:1|c",
			} {
				a.bridge.HandleDatagram([]byte(d))
			}
			fams := scrape(t, a.url("/metrics"))
			equalSeries(t, "orders_sold", fams.values(t, "orders_sold", dto.MetricType_COUNTER), map[string]float64{"": 5})
			// Without a mapping file a timer is a summary, as in
			// statsd_exporter, in seconds, with its default objectives.
			equalSeries(t, "api_latency count", fams.values(t, "api_latency", dto.MetricType_SUMMARY), map[string]float64{"": 2})
			sm := fams["api_latency"].GetMetric()[0].GetSummary()
			if got := sm.GetSampleSum(); math.Abs(got-0.02) > 1e-12 {
				t.Errorf("api_latency_sum %v, want 0.02 (seconds)", got)
			}
			var qs []float64
			for _, q := range sm.GetQuantile() {
				qs = append(qs, q.GetQuantile())
				if v := q.GetValue(); v != 0.008 && v != 0.012 {
					t.Errorf("api_latency{quantile=%v} %v, want an observation (0.008 or 0.012)", q.GetQuantile(), v)
				}
			}
			if want := []float64{0.5, 0.9, 0.99}; !reflect.DeepEqual(qs, want) {
				t.Errorf("api_latency quantiles %v, want %v", qs, want)
			}
			equalSeries(t, "_9lives_queue_depth", fams.values(t, "_9lives_queue_depth", dto.MetricType_GAUGE),
				map[string]float64{"_1st=b,my_key=a": 7})
			for _, name := range []string{"orders_sold_total", "api_latency_seconds", "api_latency_milliseconds"} {
				if _, ok := fams[name]; ok {
					t.Errorf("unexpected family %s", name)
				}
			}
			if profile {
				equalSeries(t, "gunicorn_requests_total", fams.values(t, "gunicorn_requests_total", dto.MetricType_COUNTER),
					map[string]float64{"app=shop.web": 1})
			} else {
				equalSeries(t, "shop_web_gunicorn_requests", fams.values(t, "shop_web_gunicorn_requests", dto.MetricType_COUNTER),
					map[string]float64{"": 1})
			}
		})
	}
}

// TestNoDogStatsDTags: --no-statsd.parse-dogstatsd-tags ignores the tags, as
// statsd_exporter does.
func TestNoDogStatsDTags(t *testing.T) {
	a := newTestApp(t, "--no-statsd.parse-dogstatsd-tags")
	a.bridge.HandleDatagram([]byte("orders.sold:1|c|#env:prod"))
	a.bridge.HandleDatagram([]byte("orders.sold:2|c|#env:dev"))
	a.bridge.HandleDatagram([]byte("shop.gunicorn.requests:1|c|#env:dev"))
	fams := scrape(t, a.url("/metrics"))
	equalSeries(t, "orders_sold", fams.values(t, "orders_sold", dto.MetricType_COUNTER), map[string]float64{"": 3})
	equalSeries(t, "gunicorn_requests_total", fams.values(t, "gunicorn_requests_total", dto.MetricType_COUNTER),
		map[string]float64{"app=shop": 1})
}

// testApp is a program built without run, for tests that reach inside.
type testApp struct {
	*app
	logs *syncBuffer
	stop func() error // cancels serve and returns what it returned
}

func newTestApp(t *testing.T, args ...string) *testApp {
	t.Helper()
	cfg, err := parseFlags(loopback(args...), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := new(syncBuffer)
	a, err := newApp(cfg, cfg.Log.Logger(logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.start(); err != nil {
		a.close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx) }()
	ta := &testApp{app: a, logs: logs}
	var stopped bool
	var stopErr error
	ta.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not return within 20s")
			}
		}
		return stopErr
	}
	t.Cleanup(func() {
		_ = ta.stop()
		a.close()
		if t.Failed() {
			t.Logf("program logs:\n%s", logs)
		}
	})
	return ta
}

func (a *testApp) url(path string) string { return "http://" + a.addrs.Web + path }

const rulesV1 = `mappings:
  - match: "*.gunicorn.requests"
    name: "reqs_v1"
    labels:
      app: "$1"
`

// rulesInvalid is a mapping file statsd_exporter refuses too: a regular
// expression that does not compile, on line 6.
const rulesInvalid = `mappings:
  - match: "*.gunicorn.requests"
    name: "reqs_v2"
    labels:
      app: "$1"
  - match: "shop\\.(unclosed"
    match_type: regex
    name: "broken"
`

const rulesV2 = `mappings:
  - match: "*.gunicorn.requests"
    name: "reqs_v2"
    labels:
      app: "$1"
  - match: "*.gunicorn.workers"
    name: "workers_v2"
`

func TestReloadKeepsRulesOnInvalidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mapping.yml")
	must(t, os.WriteFile(path, []byte(rulesV1), 0o644))
	a := newTestApp(t, "--statsd.mapping-config="+path)
	b := a.bridge
	b.HandleDatagram([]byte("shop.gunicorn.requests:1|c|@1.0"))

	must(t, os.WriteFile(path, []byte(rulesInvalid), 0o644))
	err := a.reload()
	if err == nil {
		t.Fatal("reload of an invalid file: no error")
	}
	// The error names the file and the line, and is logged.
	const where = `:6: match "shop\\.(unclosed": invalid regular expression`
	if !strings.Contains(err.Error(), path+where) {
		t.Errorf("error %q, want it to contain %q", err, path+where)
	}
	if logs := a.logs.String(); !strings.Contains(logs, "mapping config reload failed") ||
		!strings.Contains(logs, path+`:6: match \"shop\\\\.(unclosed\": invalid regular expression`) {
		t.Errorf("logs do not report the failure:\n%s", logs)
	}
	// The old rules still map, old series and new ones.
	b.HandleDatagram([]byte("shop.gunicorn.requests:1|c|@1.0"))
	b.HandleDatagram([]byte("shop.gunicorn.requests:1|c|@1.0|#env:prod"))
	fams := scrape(t, a.url("/metrics"))
	equalSeries(t, "reqs_v1", fams.values(t, "reqs_v1", dto.MetricType_COUNTER),
		map[string]float64{"app=shop": 2, "app=shop,env=prod": 1})
	if _, ok := fams["reqs_v2"]; ok {
		t.Error("reqs_v2 exists after the failed reload")
	}
	equalSeries(t, "reloads", fams.values(t, "gunicornotel_exporter_config_reloads_total", dto.MetricType_COUNTER),
		map[string]float64{"outcome=failure": 1})
	if got := fams.values(t, "gunicornotel_exporter_mapping_rules", dto.MetricType_GAUGE)[""]; got != 1 {
		t.Errorf("rules %v, want 1", got)
	}

	// A valid file replaces the rules, for series seen before too.
	must(t, os.WriteFile(path, []byte(rulesV2), 0o644))
	if err := a.reload(); err != nil {
		t.Fatal(err)
	}
	b.HandleDatagram([]byte("shop.gunicorn.requests:1|c|@1.0"))
	fams = scrape(t, a.url("/metrics"))
	equalSeries(t, "reqs_v2", fams.values(t, "reqs_v2", dto.MetricType_COUNTER), map[string]float64{"app=shop": 1})
	equalSeries(t, "reqs_v1", fams.values(t, "reqs_v1", dto.MetricType_COUNTER),
		map[string]float64{"app=shop": 2, "app=shop,env=prod": 1})
	equalSeries(t, "reloads", fams.values(t, "gunicornotel_exporter_config_reloads_total", dto.MetricType_COUNTER),
		map[string]float64{"outcome=failure": 1, "outcome=success": 1})
	if got := fams.values(t, "gunicornotel_exporter_mapping_rules", dto.MetricType_GAUGE)[""]; got != 2 {
		t.Errorf("rules %v, want 2", got)
	}

	// SIGHUP does the same, through the signal.
	must(t, os.WriteFile(path, []byte(rulesV1), 0o644))
	must(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	waitFor(t, 10*time.Second, "reload on SIGHUP", func() error {
		got := scrape(t, a.url("/metrics")).values(t, "gunicornotel_exporter_config_reloads_total", dto.MetricType_COUNTER)
		if got["outcome=success"] != 2 {
			return errorf("reloads %v", got)
		}
		return nil
	})
	b.HandleDatagram([]byte("shop.gunicorn.requests:1|c|@1.0"))
	fams = scrape(t, a.url("/metrics"))
	equalSeries(t, "reqs_v1", fams.values(t, "reqs_v1", dto.MetricType_COUNTER),
		map[string]float64{"app=shop": 3, "app=shop,env=prod": 1})
}

// TestSocketModeZero: --statsd.unixsocket-mode=000 gives a socket no one may
// write to, as asked.
func TestSocketModeZero(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	newTestApp(t, "--statsd.listen-unixgram="+sock, "--statsd.unixsocket-mode=000")
	st, err := os.Stat(sock)
	must(t, err)
	if st.Mode().Perm() != 0 {
		t.Errorf("socket mode %v, want ----------", st.Mode().Perm())
	}
}

func TestReloadWithoutMappingConfig(t *testing.T) {
	a := newTestApp(t)
	if err := a.reload(); err != nil {
		t.Errorf("reload: %v", err)
	}
	if !strings.Contains(a.logs.String(), "no mapping config to reload") {
		t.Errorf("logs:\n%s", a.logs)
	}
}

func TestStartupErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yml")
	must(t, os.WriteFile(bad, []byte(rulesInvalid), 0o644))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer busy.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--statsd.mapping-config=" + bad}, "--statsd.mapping-config: " + bad + ":6: match"},
		{[]string{"--statsd.mapping-config=" + bad + ".missing"}, "no such file or directory"},
		{[]string{"--web.listen-address=" + busy.Addr().String()}, "--web.listen-address " + busy.Addr().String() + ": "},
		{[]string{"--statsd.listen-tcp=" + busy.Addr().String()}, "--statsd.listen-tcp tcp://" + busy.Addr().String() + ": "},
	} {
		args := loopback(tc.args...)
		var logs syncBuffer
		err := run(context.Background(), args, io.Discard, &logs, func(listenAddrs) { t.Errorf("%q: ready", tc.args) })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.args, err, tc.want)
		}
	}
}

func TestCheckConfig(t *testing.T) {
	var out syncBuffer
	err := run(context.Background(), []string{"--check-config", "--statsd.mapping-config=" + demoMapping},
		&out, io.Discard, func(listenAddrs) { t.Error("ready called with --check-config") })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "configuration OK (4 mapping rules)\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
}

func TestHealthEndpoints(t *testing.T) {
	a := newTestApp(t)
	for _, tc := range []struct {
		path, body string
		code       int
	}{
		{"/-/healthy", "Healthy.\n", 200},
		{"/-/ready", "Ready.\n", 200},
		{"/", `<a href="/metrics">`, 200},
		{"/nothing", "404 page not found", 404},
	} {
		code, body := get(t, a.url(tc.path))
		if code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
	// During the shutdown, before the web server stops: not ready, healthy.
	a.ready.Store(false)
	if code, _ := get(t, a.url("/-/ready")); code != http.StatusServiceUnavailable {
		t.Errorf("/-/ready while shutting down: %d", code)
	}
	if code, _ := get(t, a.url("/-/healthy")); code != http.StatusOK {
		t.Errorf("/-/healthy while shutting down: %d", code)
	}
}

// TestShutdownLosesNothing sends 1000 datagrams over a Unix datagram socket
// (which blocks the sender instead of dropping when the receiver lags) and
// 1000 lines over TCP, then stops the program at once: every sample is in the
// final exposition.
func TestShutdownLosesNothing(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	a := newTestApp(t, "--statsd.listen-unixgram="+sock)
	conn, err := statsdtest.Dial("unix:" + sock)
	must(t, err)
	defer conn.Close()
	line := []byte("shop.web.gunicorn.requests:1|c|@1.0|#env:prod,team:web")
	for range 1000 {
		if _, err := conn.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	lines := make([][]byte, 1000)
	for i := range lines {
		lines[i] = line
	}
	tcpLines(t, a.addrs.TCP, lines)

	if err := a.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	st := a.bridge.Stats()
	if st.Datagrams != 2000 || st.Samples != 2000 || st.Recorded != 2000 || st.Rejected != 0 {
		t.Errorf("bridge stats after shutdown: %+v", st)
	}
	// The final exposition, from the registry: the web server is stopped.
	mfs, err := a.reg.Gather()
	must(t, err)
	var total float64
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "gunicorn_requests_total" {
			found = true
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	if !found || total != 2000 {
		t.Errorf("gunicorn_requests_total %v (found %v), want 2000", total, found)
	}
	if !strings.Contains(a.logs.String(), "datagrams=2000") {
		t.Errorf("logs:\n%s", a.logs)
	}
	if _, err := http.Get(a.url("/-/healthy")); err == nil {
		t.Error("the web server still answers after shutdown")
	}
}

func TestExponentialHistogram(t *testing.T) {
	a := newTestApp(t, "--otel.histogram=exponential")
	b := a.bridge
	for _, ms := range []string{"1.5", "20.0", "300.25", "7000.0"} {
		b.HandleDatagram([]byte("shop.web.gunicorn.request.duration:" + ms + "|ms"))
	}
	mfs, err := a.reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "gunicorn_request_duration_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.Schema == nil || h.GetSampleCount() != 4 || len(h.GetPositiveSpan()) == 0 {
			t.Errorf("not a native histogram of 4 observations: schema %v count %d spans %v",
				h.Schema, h.GetSampleCount(), h.GetPositiveSpan())
		}
		return
	}
	t.Error("no gunicorn_request_duration_seconds")
}

// TestIPv6Loopback serves StatsD and the web on ::1.
func TestIPv6Loopback(t *testing.T) {
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		l.Close()
	}
	r := startRun(t, "--statsd.listen-udp=[::1]:0", "--statsd.listen-tcp=[::1]:0", "--web.listen-address=[::1]:0")
	lines := dialEmitter(t, r.addrs.UDP, "shop.web").AppendRequest(nil, 200, 5*time.Millisecond)
	must(t, dialEmitter(t, r.addrs.UDP, "shop.web").Request(200, 5*time.Millisecond))
	tcpLines(t, r.addrs.TCP, lines)
	waitFor(t, 10*time.Second, "2 requests over ::1", func() error {
		got := scrape(t, r.url("/metrics")).values(t, "gunicorn_requests_total", dto.MetricType_COUNTER)
		if got["app=shop.web,env=prod,team=web"] != 2 {
			return errorf("gunicorn_requests_total %v", got)
		}
		return nil
	})
}

// TestMappingWarnings: a mapping file statsd_exporter loads with a doubtful
// part (here a reference to a capture its match lacks) loads, the warning
// logged with its file and line; --statsd.mapping-strict refuses it.
func TestMappingWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.yml")
	must(t, os.WriteFile(path, []byte("mappings:\n  - match: \"*.orders\"\n    name: \"orders_$2\"\n"), 0o644))
	a := newTestApp(t, "--statsd.mapping-config="+path)
	if logs := a.logs.String(); !strings.Contains(logs, "--statsd.mapping-strict refuses it") || !strings.Contains(logs, path+":3") {
		t.Errorf("no warning with the file and line in the logs:\n%s", logs)
	}
	cfg, err := parseFlags(loopback("--statsd.mapping-config="+path, "--statsd.mapping-strict"), io.Discard, io.Discard)
	must(t, err)
	if _, err := newApp(cfg, cfg.Log.Logger(io.Discard)); err == nil || !strings.Contains(err.Error(), path+":3") {
		t.Errorf("--statsd.mapping-strict: %v, want an error naming %s:3", err, path)
	}
}

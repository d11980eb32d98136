package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/gunicornotel/gunicornotel/internal/gunicorntest"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// startProcess starts cmd in its own process group, with its output in a
// buffer logged when the test fails, and kills the group at the end of the
// test unless the process has exited. The channel is closed when the process
// has exited (and been waited for).
func startProcess(t *testing.T, cmd *exec.Cmd) (*syncBuffer, <-chan struct{}) {
	t.Helper()
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited: // waited for: its pid may belong to another process now
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out)
		}
	})
	return out, exited
}

// startListening runs the program that newCmd(addr) makes to listen on addr,
// a loopback TCP port that was free when picked, and returns addr once
// ready(addr) returns nil, within timeout. Another process may bind the port
// between the pick and the program's bind (tests run in parallel): if the
// program exits saying so, it runs again on another port.
func startListening(t *testing.T, what string, timeout time.Duration, newCmd func(addr string) *exec.Cmd, ready func(addr string) error) string {
	t.Helper()
	const attempts = 5
	for range attempts {
		addr := freePort(t)
		out, exited := startProcess(t, newCmd(addr))
		deadline := time.Now().Add(timeout)
		delay := 10 * time.Millisecond
		for {
			err := ready(addr)
			if err == nil {
				return addr
			}
			select {
			case <-exited:
				if strings.Contains(out.String(), "address already in use") {
					t.Logf("%s: %s was taken before it bound it; another port", what, addr)
				} else {
					t.Fatalf("%s exited before it was ready (last: %v):\n%s", what, err, out)
				}
			default:
			}
			if isClosed(exited) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not ready within %v: %v", what, timeout, err)
			}
			time.Sleep(delay)
			delay = min(2*delay, 250*time.Millisecond)
		}
	}
	t.Fatalf("%s: every one of %d ports was taken before it bound it", what, attempts)
	return ""
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// gunicornTimeout is the --timeout of startGunicorn, in seconds.
const gunicornTimeout = 6

// startGunicorn runs the real Gunicorn with 2 sync workers and a 6 s
// timeout, sending StatsD to statsdHost with the prefix shop.web and the tags
// env:prod,team:web. The timeout is short for TestGunicornEndToEnd's slow
// request, not shorter: an idle sync worker touches its heartbeat every
// timeout/2 s and one busy on a request not at all, so a worker stalled that
// long on a loaded machine is killed too (at 2 s, a stall of 1 s was enough
// for a second WORKER TIMEOUT, or a request of makeRequests cut).
func startGunicorn(t *testing.T, statsdHost string) *gunicorntest.Server {
	t.Helper()
	return gunicorntest.Start(t, gunicorntest.Options{
		StatsdHost:    statsdHost,
		StatsdPrefix:  "shop.web",
		DogstatsdTags: "env:prod,team:web",
		Workers:       2,
		Timeout:       gunicornTimeout,
	})
}

// gunicornTraffic makes the requests of the end-to-end tests: by path, how
// many, and the status the app answers.
var gunicornTraffic = []struct {
	path   string
	n      int
	status int
}{
	{"/", 5, 200},
	{"/201", 2, 201},
	{"/404", 3, 404},
	{"/err", 2, 500},
}

const gunicornRequests = 12 // the sum of gunicornTraffic's n

func makeRequests(t *testing.T, g *gunicorntest.Server) {
	t.Helper()
	for _, tr := range gunicornTraffic {
		for range tr.n {
			if got := g.Status(tr.path); got != tr.status {
				t.Fatalf("GET %s: %d, want %d", tr.path, got, tr.status)
			}
		}
	}
}

// waitWorkers waits until our gunicorn_workers gauge says n.
func waitWorkers(t *testing.T, r *running, n float64) {
	t.Helper()
	waitFor(t, 15*time.Second, fmt.Sprintf("gunicorn_workers %v", n), func() error {
		got := scrape(t, r.url("/metrics")).values(t, "gunicorn_workers", dto.MetricType_GAUGE)
		if got["app=shop.web,env=prod,team=web"] != n {
			return errorf("gunicorn_workers %v", got)
		}
		return nil
	})
}

// TestGunicornEndToEnd runs the real Gunicorn against the program: requests
// of known statuses, a worker added with SIGTTIN, a request that outlives
// --timeout (its worker is killed), then exact totals from /metrics.
func TestGunicornEndToEnd(t *testing.T) {
	start := time.Now()
	r := startRun(t, loopback("--statsd.listen-tcp=")...)
	gunicorn := startGunicorn(t, r.addrs.UDP)
	// The arbiter sends gunicorn.workers:2 once its workers are spawned,
	// after binding: then it answers.
	waitWorkers(t, r, 2)
	makeRequests(t, gunicorn)

	// One more worker.
	gunicorn.Signal(syscall.SIGTTIN)
	waitWorkers(t, r, 3)

	// A request that outlives --timeout: the arbiter logs WORKER TIMEOUT
	// (critical) and kills the worker, which sends no request metrics.
	// It would be answered after 2*gunicornTimeout s, within the client's
	// timeout, if the worker were not killed.
	c := gunicorn.Client(4 * gunicornTimeout * time.Second)
	slow := fmt.Sprintf("/slow?s=%d", 2*gunicornTimeout)
	if resp, err := c.Get(gunicorn.URL(slow)); err == nil {
		resp.Body.Close()
		t.Fatalf("GET %s: %s, want the connection to be cut by the worker timeout", slow, resp.Status)
	}

	const tagged = "app=shop.web,env=prod,team=web"
	var fams families
	waitFor(t, 15*time.Second, "requests and the critical log", func() error {
		fams = scrape(t, r.url("/metrics"))
		req := sum(fams.values(t, "gunicorn_requests_total", dto.MetricType_COUNTER))
		logs := fams.values(t, "gunicorn_log_messages_total", dto.MetricType_COUNTER)
		if req != gunicornRequests || logs["app=shop.web,env=prod,level=critical,team=web"] < 1 {
			return errorf("requests %v, logs %v", req, logs)
		}
		return nil
	})
	equalSeries(t, "gunicorn_requests_total", fams.values(t, "gunicorn_requests_total", dto.MetricType_COUNTER),
		map[string]float64{tagged: gunicornRequests})
	wantResponses := map[string]float64{}
	for _, tr := range gunicornTraffic {
		wantResponses[fmt.Sprintf("app=shop.web,env=prod,http_response_status_code=%d,team=web", tr.status)] += float64(tr.n)
	}
	equalSeries(t, "gunicorn_responses_total", fams.values(t, "gunicorn_responses_total", dto.MetricType_COUNTER), wantResponses)
	equalSeries(t, "gunicorn_request_duration_seconds count",
		fams.values(t, "gunicorn_request_duration_seconds", dto.MetricType_HISTOGRAM),
		map[string]float64{tagged: gunicornRequests})
	// The killed worker is replaced at once: the arbiter counts 3 all along.
	equalSeries(t, "gunicorn_workers", fams.values(t, "gunicorn_workers", dto.MetricType_GAUGE), map[string]float64{tagged: 3})
	// One exception per /err, one critical for the timeout; Gunicorn 20.1
	// logs the killed worker's exit at info.
	equalSeries(t, "gunicorn_log_messages_total", fams.values(t, "gunicorn_log_messages_total", dto.MetricType_COUNTER),
		map[string]float64{
			"app=shop.web,env=prod,level=critical,team=web":  1,
			"app=shop.web,env=prod,level=exception,team=web": 2,
		})
	if got := fams.values(t, "gunicornotel_samples_rejected_total", dto.MetricType_COUNTER); sum(got) != 0 {
		t.Errorf("rejected samples: %v", got)
	}
	t.Logf("took %v", time.Since(start))
}

// promSample is one series of an instant vector from Prometheus's HTTP API:
// its labels and its value as Prometheus writes it ("NaN" and the like
// included).
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// value returns the sample's value as Prometheus wrote it.
func (s promSample) value() string {
	v, _ := s.Value[1].(string)
	return v
}

// promVector asks Prometheus's HTTP API for the instant vector of query at
// the time at (now when zero). A scalar or string result is an error.
func promVector(promURL, query string, at time.Time) ([]promSample, error) {
	params := url.Values{"query": {query}}
	if !at.IsZero() {
		params.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(promURL + "/api/v1/query?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var res struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("query %q: %w: %s", query, err, body)
	}
	if res.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", query, res.Status, res.Error)
	}
	if res.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: a %s, not a vector", query, res.Data.ResultType)
	}
	for _, s := range res.Data.Result {
		if _, ok := s.Value[1].(string); !ok {
			return nil, fmt.Errorf("query %q: value %v", query, s.Value)
		}
	}
	return res.Data.Result, nil
}

// promQuery asks Prometheus's HTTP API for an instant vector and returns its
// first sample's value ("NaN" and the like included), or an error when the
// result is empty.
func promQuery(promURL, query string) (string, error) {
	res, err := promVector(promURL, query, time.Time{})
	if err != nil {
		return "", err
	}
	if len(res) == 0 {
		return "", fmt.Errorf("query %q: empty result", query)
	}
	return res[0].value(), nil
}

// promJob is a scrape job of startPrometheusJobs: its job label and its
// target (host:port, serving /metrics).
type promJob struct {
	name, target string
}

// startPrometheus runs the real Prometheus scraping target (host:port) every
// second as the job gunicorn, and returns its URL once the target is up.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	return startPrometheusJobs(t, []promJob{{"gunicorn", target}})
}

// startPrometheusJobs runs the real Prometheus scraping each job's target
// every second, and returns its URL once every target is up. It skips the
// test when Prometheus is not installed.
func startPrometheusJobs(t *testing.T, jobs []promJob) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (Debian: apt-get install prometheus)")
	}
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n")
	for _, j := range jobs {
		fmt.Fprintf(&cfg, `  - job_name: %q
    scrape_interval: 1s
    scrape_timeout: 1s
    metrics_path: /metrics
    static_configs:
      - targets: [%q]
`, j.name, j.target)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	must(t, os.WriteFile(cfgPath, []byte(cfg.String()), 0o644))
	listen := startListening(t, "Prometheus scraping the program", 30*time.Second, func(listen string) *exec.Cmd {
		return exec.Command(bin,
			"--config.file="+cfgPath,
			// A fresh data directory for each start: a Prometheus that
			// lost its port may have locked the last one.
			"--storage.tsdb.path="+t.TempDir(),
			"--web.listen-address="+listen,
			"--log.level=warn",
		)
	}, func(listen string) error {
		v, err := promQuery("http://"+listen, `count(up == 1)`)
		if err != nil {
			return err
		}
		if v != strconv.Itoa(len(jobs)) {
			return errorf("%s of %d targets up", v, len(jobs))
		}
		return nil
	})
	return "http://" + listen
}

// waitPromValue waits until query answers want.
func waitPromValue(t *testing.T, promURL, query, want string) {
	t.Helper()
	waitFor(t, 20*time.Second, query+" == "+want, func() error {
		v, err := promQuery(promURL, query)
		if err != nil {
			return err
		}
		if v != want {
			return errorf("%s", v)
		}
		return nil
	})
}

// checkQuantile asks for the p95 request duration and checks it is a number
// in [lo, hi].
func checkQuantile(t *testing.T, promURL string, lo, hi float64) {
	t.Helper()
	const q = `histogram_quantile(0.95, sum by (le) (rate(gunicorn_request_duration_seconds_bucket[1m])))`
	waitFor(t, 20*time.Second, "p95", func() error {
		v, err := promQuery(promURL, q)
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || f < lo || f > hi {
			return errorf("p95 = %s, want a number in [%v, %v]", v, lo, hi)
		}
		t.Logf("p95 request duration: %s s", v)
		return nil
	})
}

// TestPrometheusEndToEnd has the real Prometheus scrape the program fed by
// the Gunicorn emitter, in two rounds so that rate() sees an increase.
func TestPrometheusEndToEnd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "statsd.sock")
	r := startRun(t, loopback("--statsd.listen-unixgram="+sock)...)
	promURL := startPrometheus(t, r.addrs.Web)
	em := dialEmitter(t, "unix:"+sock, "shop.web")
	send := func(n int) {
		for i := range n {
			must(t, em.Request(200, time.Duration(10+i%40)*time.Millisecond))
		}
	}
	send(20)
	waitPromValue(t, promURL, "sum(gunicorn_requests_total)", "20")
	send(30)
	waitPromValue(t, promURL, "sum(gunicorn_requests_total)", "50")
	checkQuantile(t, promURL, 0.01, 0.05)
	waitPromValue(t, promURL, `sum(gunicorn_responses_total{http_response_status_code="200",app="shop.web",env="prod",team="web"})`, "50")
}

// TestGunicornPrometheusEndToEnd chains all three: the real Gunicorn, the
// program, the real Prometheus.
func TestGunicornPrometheusEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Skip("prometheus is not installed")
	}
	r := startRun(t, loopback("--statsd.listen-tcp=")...)
	gunicorn := startGunicorn(t, r.addrs.UDP)
	promURL := startPrometheus(t, r.addrs.Web)
	waitWorkers(t, r, 2)
	makeRequests(t, gunicorn)
	waitPromValue(t, promURL, "sum(gunicorn_requests_total)", strconv.Itoa(gunicornRequests))
	makeRequests(t, gunicorn)
	waitPromValue(t, promURL, "sum(gunicorn_requests_total)", strconv.Itoa(2*gunicornRequests))
	waitPromValue(t, promURL, `sum(gunicorn_responses_total{http_response_status_code="404"})`, "6")
	checkQuantile(t, promURL, 0, 1)
}

// TestPromtoolCheckMetrics pipes the exposition, with every Gunicorn metric in
// it, into promtool check metrics: no lint problem.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus)")
	}
	for _, hist := range []string{histExplicit, histExponential} {
		t.Run(hist, func(t *testing.T) {
			r := startRun(t, loopback("--otel.histogram="+hist)...)
			em := dialEmitter(t, r.addrs.UDP, "shop.web")
			must(t, em.Workers(2))
			must(t, em.Request(200, 12*time.Millisecond))
			must(t, em.Request(599, 12*time.Millisecond))
			must(t, em.Request(1234, 12*time.Millisecond))
			for _, l := range []statsdtest.LogLevel{statsdtest.LogCritical, statsdtest.LogError, statsdtest.LogWarning, statsdtest.LogException} {
				must(t, em.Log(l))
			}
			conn, err := statsdtest.Dial(r.addrs.UDP)
			must(t, err)
			defer conn.Close()
			// gunicorn.backlog, sent from 24.1 on.
			e24 := statsdtest.NewEmitter(statsdtest.Config{Version: statsdtest.V(24, 1, 0), Prefix: "shop.web"},
				statsdtest.WriterSink(conn))
			must(t, e24.Backlog(3))
			var body []byte
			waitFor(t, 10*time.Second, "traffic", func() error {
				body = scrapeText(t, r.url("/metrics"))
				if !bytes.Contains(body, []byte("gunicorn_log_messages_total{")) ||
					!bytes.Contains(body, []byte(`http_response_status_code="599"`)) ||
					!bytes.Contains(body, []byte("gunicorn_backlog{")) {
					return errors.New("not there yet")
				}
				return nil
			})
			cmd := exec.CommandContext(context.Background(), promtool, "check", "metrics")
			cmd.Stdin = bytes.NewReader(body)
			out, err := cmd.CombinedOutput()
			if err != nil || len(out) != 0 {
				t.Errorf("promtool check metrics: %v\n%s", err, out)
			}
		})
	}
}

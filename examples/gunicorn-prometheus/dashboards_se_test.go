package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/examples/internal/promqueries"
	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/internal/gunicorntest"
)

// The dashboards of statsd_exporter's users as tests: the real Gunicorn's
// datagrams go, one by one and the same, to statsd_exporter v0.31.0 and to
// this program, one real Prometheus scrapes both (a job each), and every
// query of the dashboards and alert rules in testdata/dashboards is asked of
// both jobs. A query that returns data on statsd_exporter's job must return
// the same series (label sets, job and instance left out) with the same
// values on ours, but for the differences listed in dashDifferences.

// The jobs the test's Prometheus scrapes.
const (
	jobSEDemo      = "statsd_exporter-demo"  // statsd_exporter with the Gunicorn demo's mapping file
	jobOursDemo    = "ours-demo"             // this program with that file
	jobSEPlain     = "statsd_exporter-plain" // statsd_exporter without a mapping file
	jobOursPlain   = "ours-plain"            // this program without one, --no-gunicorn.profile
	jobOursProfile = "ours-profile"          // this program's defaults, watching the Gunicorn master
)

// dashPairs are the pairs of jobs compared: statsd_exporter's, then ours.
var dashPairs = map[string][2]string{
	"demo":    {jobSEDemo, jobOursDemo},
	"plain":   {jobSEPlain, jobOursPlain},
	"profile": {jobSEPlain, jobOursProfile},
}

// dashFiles are the dashboards and rule files of testdata/dashboards, and
// the pairs of jobs each is asked of.
var dashFiles = []struct {
	file  string
	pairs []string
}{
	{"gunicorn-demo-mapping.json", []string{"demo"}},
	{"gunicorn-no-mapping.json", []string{"plain", "profile"}},
	{"statsd_exporter-health.json", []string{"demo", "plain"}},
	{"statsd_exporter-alerts.yml", []string{"demo", "plain"}},
}

// dashDifferences are the queries that are answered otherwise on our job,
// deliberately: the file, the pair ("" for every pair), the panel's title or
// the alert's name ("" for every query of the file), why, and what a
// dashboard changes for them (the README's "Migrating from statsd_exporter"
// lists the same). Each must still differ somewhere.
var dashDifferences = []dashDiff{
	{file: "gunicorn-no-mapping.json", pair: "profile",
		reason: `without a mapping file the built-in Gunicorn profile names Gunicorn's metrics: gunicorn_requests_total{app="shop"}, gunicorn_responses_total{http_response_status_code}, the histogram gunicorn_request_duration_seconds, gunicorn_workers, gunicorn_log_messages_total{level}`,
		change: "start with --no-gunicorn.profile, or use examples/grafana/gunicorn.json"},
	{file: "statsd_exporter-health.json", title: "Events by type",
		reason:  "the bridge does not count recorded samples by type: a sample it rejects (here the second type of shop.client.conflict) counts in its type too",
		change:  "none; for the samples recorded, gunicornotel_samples_recorded_total",
		instead: `sum(rate(gunicornotel_samples_recorded_total{job=~"$job",instance=~"$instance"}[$__rate_interval]))`},
	{file: "statsd_exporter-health.json", pair: "demo", title: "Events by action",
		reason: `action="map" is not served: the bridge does not count samples by whether a rule matched (action="drop" is served)`,
		change: "none"},
	{file: "statsd_exporter-health.json", pair: "demo", title: "Unmapped events",
		reason: "with mapping rules, not served, for the same reason",
		change: "none"},
	{file: "statsd_exporter-health.json", title: "Event conflicts",
		reason:  "the bridge counts type conflicts without their type and metric name: one series, both labels empty (the log names the metric)",
		change:  "sum without the by (type, metric_name)",
		instead: `sum(rate(statsd_exporter_events_conflict_total{job=~"$job",instance=~"$instance"}[$__rate_interval]))`},
	{file: "statsd_exporter-health.json", title: "Metrics by type",
		reason:  "statsd_exporter_metrics_total is not served: the bridge counts its instruments, not by type",
		change:  "gunicornotel_instruments (metrics) and gunicornotel_series (series)",
		instead: `sum(gunicornotel_instruments{job=~"$job",instance=~"$instance"})`},
	{file: "statsd_exporter-health.json", title: "Mapper cache hit ratio",
		reason: "statsd_metric_mapper_cache_* count the series table, looked up once per sample, keyed by tags too and emptied by a reload",
		change: "none (another ratio)"},
	{file: "statsd_exporter-health.json", title: "Mapper cache length",
		reason: "the series tracked, not statsd_exporter's (name, type) entries",
		change: "none (another count)"},
	{file: "statsd_exporter-health.json", title: "Version",
		reason: "statsd_exporter_build_info names the build that serves it: here the version and commit of this program's module build information (devel outside a release), there the ldflags of its release (empty when built with go install, as here)",
		change: "none (another program, another version)"},
	{file: "statsd_exporter-health.json", title: "Event queue flushes",
		reason: "there is no event queue: the batches handed to the bridge (statsd_exporter flushes every 200 ms, traffic or not)",
		change: "none (another count)"},
}

// dashDiff is an entry of dashDifferences.
type dashDiff struct {
	file, pair, title string // pair "" for every pair, title "" for every query of file
	reason, change    string
	// instead is the query the change gives, if it is one; it must return
	// data on our jobs.
	instead string
}

// dashRateInterval is what $__rate_interval becomes: Grafana's is at least
// four scrape intervals (here 1 s); 10 s holds ten samples of each job.
const dashRateInterval = 10 * time.Second

// dashRateTolerance is how far, relatively, a value computed by a range
// function (rate, increase...) of our job may be from statsd_exporter's:
// each job is scraped at its own times, so their extrapolations may differ:
// over [$__rate_interval], whose window starts after round 1 was scraped,
// they do not (ten samples of each job, nine seconds apart); over a rule's
// [5m], the series are born inside the window, with their values of round 1
// but up to a second apart for each job, 10 to 20 seconds before the query
// (a few percent apart; a ratio of two rates of one job agrees). The same
// query with each range function replaced by its instant vector
// (promqueries.Instant) is compared exactly.
const dashRateTolerance = 0.15

// dashVars are the template variables of the dashboards, but job.
var dashVars = map[string]string{"instance": ".*", "__rate_interval": fmt.Sprintf("%ds", int(dashRateInterval.Seconds()))}

// TestStatsdExporterDashboards runs the real Gunicorn 20.1 (prefix shop,
// tags env:prod,team:web, 2 sync workers) sending its StatsD to the test,
// which sends every datagram, and a few bad lines of its own, to two
// statsd_exporters (the demo's mapping file, none) and to three of our
// daemons (the same two, and our defaults watching the master); the real
// Prometheus, started after round 1, scrapes all five. Traffic comes in two
// rounds, and the queries' [$__rate_interval] windows start between them,
// so that rates are not zero; a worker times out, and the demo's mapping
// file is reloaded once broken and once whole. Then every query of
// testdata/dashboards is compared pair by pair (dashPairs), and every query
// of examples/grafana/gunicorn.json and every rule of
// examples/prometheus/rules.yml must return data on ours-profile.
func TestStatsdExporterDashboards(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs statsd_exporter, Gunicorn and Prometheus")
	}
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Skip("prometheus is not installed (Debian: apt-get install prometheus)")
	}
	gunicorntest.LookPath(t)
	bin := statsdExporterBinary(t)
	start := time.Now()
	dir := t.TempDir()
	mapping := filepath.Join(dir, "gunicorn-monitoring.yml")
	demo, err := os.ReadFile(fixture.MappingPath(fixture.DemoMapping))
	must(t, err)
	must(t, os.WriteFile(mapping, demo, 0o644))
	demoArgs := []string{"--statsd.mapping-config=" + mapping, "--web.enable-lifecycle"}

	seDemo := startStatsdExporter(t, bin, filepath.Join(dir, "se-demo.sock"), demoArgs)
	sePlain := startStatsdExporter(t, bin, filepath.Join(dir, "se-plain.sock"), nil)
	ours := func(sock string, extra ...string) *running {
		return startRun(t, append([]string{"--statsd.listen-udp=", "--statsd.listen-tcp=", "--statsd.listen-unixgram=" + sock,
			"--web.listen-address=127.0.0.1:0", "--log.level=warn"}, extra...)...)
	}
	oursDemo := ours(filepath.Join(dir, "ours-demo.sock"), demoArgs...)
	oursPlain := ours(filepath.Join(dir, "ours-plain.sock"), "--no-gunicorn.profile")
	fan := startFanout(t)
	g := gunicorntest.Start(t, gunicorntest.Options{
		StatsdHost: fan.addr(), StatsdPrefix: "shop", DogstatsdTags: "env:prod,team:web",
		Workers: 2, Timeout: gunicornTimeout,
	})
	oursProfile := ours(filepath.Join(dir, "ours-profile.sock"), fmt.Sprintf("--gunicorn.pid=%d", g.Pid()))
	fan.forward(t, seDemo.sock, sePlain.sock, filepath.Join(dir, "ours-demo.sock"), filepath.Join(dir, "ours-plain.sock"),
		filepath.Join(dir, "ours-profile.sock"))
	webOf := func(p seProcess) string { return strings.TrimSuffix(strings.TrimPrefix(p.url, "http://"), "/metrics") }
	jobs := []promJob{
		{jobSEDemo, webOf(seDemo)}, {jobOursDemo, oursDemo.addrs.Web},
		{jobSEPlain, webOf(sePlain)}, {jobOursPlain, oursPlain.addrs.Web},
		{jobOursProfile, oursProfile.addrs.Web},
	}

	// Round 1: every status, errors, slow requests, and a request that
	// outlives --timeout (WORKER TIMEOUT, at level critical).
	timedOut := make(chan error, 1)
	go func() {
		slow := fmt.Sprintf("/slow?s=%d", 2*gunicornTimeout)
		resp, err := g.Client(4 * gunicornTimeout * time.Second).Get(g.URL(slow))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			err = fmt.Errorf("GET %s: %s, want the connection cut by the worker timeout", slow, resp.Status)
		} else {
			err = nil
		}
		timedOut <- err
	}()
	durations := dashRequests(t, g, 0, []dashRequest{{"/", 5, 200}, {"/201", 2, 201}, {"/404", 3, 404}, {"/err", 2, 500}, {"/slow?s=0.3", 2, 200}})
	select {
	case err := <-timedOut:
		must(t, err)
	case <-time.After(4*gunicornTimeout*time.Second + 5*time.Second):
		t.Fatal("the request that outlives --timeout was not cut")
	}
	waitFor(t, 15*time.Second, "Gunicorn's request durations and its critical log", func() error {
		if n, c := fan.count(".gunicorn.request.duration:"), fan.count(".gunicorn.log.critical:"); n != durations || c != 1 {
			return errorf("%d durations (want %d), %d critical logs (want 1)", n, durations, c)
		}
		return nil
	})
	// What a misconfigured client sends beside Gunicorn: a bare tag, a
	// line without a value, a bad value, one name with two types, a
	// negative counter.
	fan.send(t, "shop.client.events:1|c|#env:prod,canary", "shop.client.broken", "shop.client.value:abc|c",
		"shop.client.conflict:1|c", "shop.client.conflict:2|g", "shop.client.negative:-1|c")
	// A broken mapping file reloaded (the rules in use are kept), then the
	// file back.
	reload := func(wantOurs int) {
		for _, c := range []struct {
			url  string
			want int
		}{{"http://" + webOf(seDemo) + "/-/reload", 200}, {oursDemo.url("/-/reload"), wantOurs}} {
			resp, err := http.Post(c.url, "text/plain", nil)
			must(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			must(t, err)
			if resp.StatusCode != c.want {
				t.Fatalf("POST %s: %s %s, want %d", c.url, resp.Status, body, c.want)
			}
		}
	}
	must(t, os.WriteFile(mapping, []byte("mappings: [\n"), 0o644))
	reload(http.StatusInternalServerError)
	must(t, os.WriteFile(mapping, demo, 0o644))
	reload(http.StatusOK)
	fan.send(t, "diff.sentinel:1|c")
	for _, j := range jobs {
		waitSentinelValue(t, "http://"+j.target+"/metrics", 1)
	}
	// Prometheus starts once every program has handled round 1: each series
	// is born, on every job, with its value of round 1 (not with whatever
	// part of it a scrape in the middle of the round saw), so that rates
	// over windows that hold its birth, as a rule's [5m], agree.
	prom := startPrometheusJobs(t, jobs)
	waitPromValue(t, prom, "count(diff_sentinel == 1)", strconv.Itoa(len(jobs)))
	// Every job scraped round 1 whole by now, and scrapes it once more
	// before round 2: from round1 on, each job's first sample is of round 1.
	round1 := time.UnixMilli(time.Now().UnixMilli())
	waitPromValue(t, prom, scrapedSince(round1), strconv.Itoa(len(jobs)))

	// Round 2, with more of the same.
	durations = dashRequests(t, g, durations, []dashRequest{{"/", 6, 200}, {"/500", 1, 500}, {"/err", 1, 500}, {"/404", 1, 404}, {"/slow?s=0.3", 1, 200}})
	waitFor(t, 15*time.Second, "Gunicorn's request durations", func() error {
		if n := fan.count(".gunicorn.request.duration:"); n != durations {
			return errorf("%d durations, want %d", n, durations)
		}
		return nil
	})
	fan.send(t, "shop.client.events:1|c|#env:prod,canary", "shop.client.broken", "diff.sentinel:1|c")
	waitPromValue(t, prom, "count(diff_sentinel == 2)", strconv.Itoa(len(jobs)))

	// The time of the queries: each [$__rate_interval] window then starts
	// at round1 and ends after round 2 was scraped, for every job.
	at := time.UnixMilli(max(round1.Add(dashRateInterval).UnixMilli(), time.Now().Add(time.Second).UnixMilli()))
	waitPromValue(t, prom, scrapedSince(at), strconv.Itoa(len(jobs)))
	obs := fan.observations(t, "shop.gunicorn.request.duration")
	if len(obs) != durations {
		t.Fatalf("%d request durations sent, want %d", len(obs), durations)
	}

	used := make([]bool, len(dashDifferences))
	for _, f := range dashFiles {
		t.Run(f.file, func(t *testing.T) {
			queries := dashQueries(t, f.file)
			for _, q := range queries {
				answered := false
				for _, pair := range f.pairs {
					details, seData := compareQuery(t, prom, at, q, dashPairs[pair], obs)
					answered = answered || seData
					if len(details) == 0 {
						continue
					}
					if i := dashDifference(f.file, pair, q); i >= 0 {
						used[i] = true
						t.Logf("%s (%s, deliberate: %s): %s", q.Where, pair, dashDifferences[i].reason, strings.Join(details, "; "))
						continue
					}
					t.Errorf("%s (%s): %s", q.Where, pair, strings.Join(details, "; "))
				}
				if !answered {
					t.Errorf("%s: no data on statsd_exporter in any pair %v, whatever the form: the test shows nothing of it", q.Where, f.pairs)
				}
			}
			t.Logf("%d queries", len(queries))
		})
	}
	t.Run("instead", func(t *testing.T) {
		for _, d := range dashDifferences {
			if d.instead == "" {
				continue
			}
			for _, pair := range []string{"demo", "plain"} {
				job := dashPairs[pair][1]
				q := promqueries.Query{Where: d.file + " " + d.title + " instead", Title: d.title, Expr: d.instead}
				if res := dashVector(t, prom, forJob(t, q, d.instead, job), at); len(res) == 0 {
					t.Errorf("%s: no data on %s: %s", q.Where, job, d.instead)
				}
			}
		}
	})
	t.Run("own", func(t *testing.T) { checkOwnQueries(t, prom, at) })
	if !t.Failed() {
		for i, d := range dashDifferences {
			if !used[i] {
				t.Errorf("%s %q (%s, %s): no longer differs: delete the entry (and the README's line)", d.file, d.title, d.pair, d.reason)
			}
		}
	}
	t.Logf("took %v", time.Since(start))
}

// dashRequest is a request of TestStatsdExporterDashboards: the path, how
// many times, the status Gunicorn answers.
type dashRequest struct {
	path      string
	n, status int
}

// dashRequests makes the requests and returns how many request durations
// Gunicorn has then sent: had, and one a request.
func dashRequests(t *testing.T, g *gunicorntest.Server, had int, reqs []dashRequest) int {
	t.Helper()
	for _, r := range reqs {
		for range r.n {
			if got := g.Status(r.path); got != r.status {
				t.Fatalf("GET %s: %d, want %d", r.path, got, r.status)
			}
			had++
		}
	}
	return had
}

// scrapedSince is the query of how many jobs have a sample of diff_sentinel
// at or after the time at.
func scrapedSince(at time.Time) string {
	return fmt.Sprintf("count(timestamp(diff_sentinel) >= %.3f)", float64(at.UnixMilli())/1000)
}

// dashQueries returns the queries of the file in testdata/dashboards: a
// dashboard's targets or a rule file's expressions.
func dashQueries(t *testing.T, file string) []promqueries.Query {
	t.Helper()
	path := filepath.Join("testdata", "dashboards", file)
	if strings.HasSuffix(file, ".json") {
		d, err := promqueries.LoadDashboard(path)
		must(t, err)
		if len(d.Panels) == 0 {
			t.Fatalf("%s: no panels", file)
		}
		return d.Queries()
	}
	q, err := promqueries.LoadRules(path)
	must(t, err)
	return q
}

// dashDifference returns the index of the entry of dashDifferences for the
// query q of file asked of pair, or -1.
func dashDifference(file, pair string, q promqueries.Query) int {
	return slices.IndexFunc(dashDifferences, func(d dashDiff) bool {
		return d.file == file && (d.pair == "" || d.pair == pair) && (d.title == "" || d.title == q.Title)
	})
}

// ruleJob is the job the rules of testdata/dashboards select, which the test
// replaces with each of its jobs.
const ruleJob = `job="statsd_exporter"`

// leftVariable matches a template variable left in a query after
// substitution (label_replace's "$1" is not one).
var leftVariable = regexp.MustCompile(`\$\{?[A-Za-z_]`)

// dashForm is one form in which a query is asked: as written, with the range
// functions made instant, with its comparisons made bool.
type dashForm struct {
	name, expr string
	ranged     bool // it holds a range function: values compared within dashRateTolerance
	bool       bool // its comparisons are bool: values are 0 or 1
}

// dashForms returns the forms of q: as written and instant; for an alert,
// also both with bool comparisons, which show the series that do not fire.
func dashForms(t *testing.T, q promqueries.Query) []dashForm {
	t.Helper()
	instant, err := promqueries.Instant(q.Expr)
	must(t, err)
	forms := []dashForm{{name: "as written", expr: q.Expr, ranged: instant != q.Expr}}
	if instant != q.Expr {
		forms = append(forms, dashForm{name: "instant", expr: instant})
	}
	if q.Alert {
		b := promqueries.Bool(q.Expr)
		forms = append(forms, dashForm{name: "bool", expr: b, ranged: instant != q.Expr, bool: true})
		if bi := promqueries.Bool(instant); bi != b {
			forms = append(forms, dashForm{name: "instant bool", expr: bi, bool: true})
		}
	}
	return forms
}

// forJob returns expr for job: the template variables and the rules' job
// replaced.
func forJob(t *testing.T, q promqueries.Query, expr, job string) string {
	t.Helper()
	vars := map[string]string{"job": job}
	for k, v := range dashVars {
		vars[k] = v
	}
	out := promqueries.Substitute(expr, vars)
	if q.Alert {
		if !strings.Contains(out, ruleJob) {
			t.Fatalf("%s: no %s in %q: the test could not tell the jobs apart", q.Where, ruleJob, q.Expr)
		}
		out = strings.ReplaceAll(out, ruleJob, fmt.Sprintf("job=%q", job))
	} else if !strings.Contains(out, fmt.Sprintf(`job=~"%s"`, job)) {
		t.Fatalf("%s: not filtered by job=~\"$job\": %q", q.Where, q.Expr)
	}
	if m := leftVariable.FindString(out); m != "" {
		t.Fatalf("%s: variable %s… left in %q", q.Where, m, out)
	}
	return out
}

// singleQuantile finds the quantile a query selects, for results that do
// not carry the label.
var singleQuantile = regexp.MustCompile(`quantile="([0-9.]+)"`)

// compareQuery asks every form of q of both jobs of pair at the time at and
// returns what differs on ours, and whether statsd_exporter's job answered
// any form with data. Values are compared exactly, within dashRateTolerance
// for range functions, and a summary's quantiles by rank: each job's must
// be the value of an observation whose rank meets the quantile's objective
// (obs are the observations, sorted).
func compareQuery(t *testing.T, prom string, at time.Time, q promqueries.Query, pair [2]string, obs []float64) (details []string, seData bool) {
	t.Helper()
	quantiles := strings.Contains(q.Expr, "quantile=") && !strings.Contains(q.Expr, "histogram_quantile")
	for _, f := range dashForms(t, q) {
		se := dashVector(t, prom, forJob(t, q, f.expr, pair[0]), at)
		ours := dashVector(t, prom, forJob(t, q, f.expr, pair[1]), at)
		seData = seData || len(se) > 0
		switch {
		case len(se) == 0 && len(ours) == 0:
			continue
		case len(ours) == 0:
			details = append(details, fmt.Sprintf("%s: empty here, statsd_exporter %v", f.name, se))
			continue
		case !slices.Equal(slices.Sorted(mapsKeys(se)), slices.Sorted(mapsKeys(ours))):
			details = append(details, fmt.Sprintf("%s: series %v here, statsd_exporter %v", f.name, ours, se))
			continue
		}
		for _, k := range slices.Sorted(mapsKeys(se)) {
			a, b := se[k], ours[k]
			if quantiles && !f.bool {
				qv := dashQuantile(t, q, k)
				if err := quantileRank(obs, qv, a); err != nil {
					t.Errorf("%s (%s) %s: statsd_exporter's %v", q.Where, f.name, k, err)
				}
				if err := quantileRank(obs, qv, b); err != nil {
					details = append(details, fmt.Sprintf("%s %s: %v (statsd_exporter %v)", f.name, k, err, a))
				}
				continue
			}
			tol := 1e-9
			if f.ranged {
				tol = dashRateTolerance
			}
			if !(a == b || math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))) {
				details = append(details, fmt.Sprintf("%s %s: %v here, statsd_exporter %v", f.name, k, b, a))
			}
		}
	}
	return details, seData
}

// dashQuantile returns the quantile of the result series key of q: its
// quantile label, else the one quantile q selects.
func dashQuantile(t *testing.T, q promqueries.Query, key string) float64 {
	t.Helper()
	s := ""
	for _, kv := range strings.Split(key, ",") {
		if v, ok := strings.CutPrefix(kv, "quantile="); ok {
			s = v
		}
	}
	if m := singleQuantile.FindAllStringSubmatch(q.Expr, -1); s == "" && len(m) == 1 {
		s = m[0][1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s: which quantile is %s? %v", q.Where, key, err)
	}
	return v
}

// dashVector asks Prometheus for expr at the time at and returns the result
// by label set ("k=v,k=v", sorted, job and instance left out).
func dashVector(t *testing.T, prom, expr string, at time.Time) map[string]float64 {
	t.Helper()
	res, err := promVector(prom, expr, at)
	must(t, err)
	out := make(map[string]float64, len(res))
	for _, s := range res {
		var parts []string
		for k, v := range s.Metric {
			if k != "job" && k != "instance" {
				parts = append(parts, k+"="+v)
			}
		}
		slices.Sort(parts)
		key := strings.Join(parts, ",")
		if _, dup := out[key]; dup {
			t.Fatalf("%s: two series {%s} but for job and instance", expr, key)
		}
		v, err := strconv.ParseFloat(s.value(), 64)
		must(t, err)
		out[key] = v
	}
	return out
}

// ownEmpty are the queries of examples/grafana/gunicorn.json and
// examples/prometheus/rules.yml (a panel's title or an alert's name) that
// have no data on a sync Gunicorn 20.1, and why. They must stay empty: an
// entry that gets data is to be deleted.
var ownEmpty = map[string]string{
	"Listen backlog":                          "gunicorn.backlog is sent from Gunicorn 24.1 on",
	"Queued requests (gthread)":               "gthread workers only",
	"GunicornRequestsQueued":                  "gthread workers only",
	"Connections per worker (gthread, async)": "gthread and async workers only",
}

// absentRE matches a query that is absent(selector): it has data when the
// selector has none.
var absentRE = regexp.MustCompile(`^\s*absent\((.*)\)\s*$`)

// checkOwnQueries asks every query of examples/grafana/gunicorn.json
// ($app: every app) and every rule of examples/prometheus/rules.yml (its
// comparisons made bool, absent(x) as x) at the time at, and fails on one
// without data but for ownEmpty, and on an entry of ownEmpty with data.
func checkOwnQueries(t *testing.T, prom string, at time.Time) {
	d, err := promqueries.LoadDashboard(filepath.Join("..", "grafana", "gunicorn.json"))
	must(t, err)
	rules, err := promqueries.LoadRules(filepath.Join("..", "prometheus", "rules.yml"))
	must(t, err)
	type check struct{ where, title, expr string }
	var checks []check
	for _, q := range d.Queries() {
		checks = append(checks, check{"gunicorn.json " + q.Where, q.Title,
			promqueries.Substitute(q.Expr, map[string]string{"app": ".*"})})
	}
	for _, r := range rules {
		expr := promqueries.Bool(r.Expr)
		if m := absentRE.FindStringSubmatch(expr); m != nil {
			expr = m[1]
		}
		checks = append(checks, check{"rules.yml " + r.Where, r.Title, expr})
	}
	for _, c := range checks {
		res := dashVector(t, prom, c.expr, at)
		reason, exempt := ownEmpty[c.title]
		switch {
		case len(res) == 0 && !exempt:
			t.Errorf("%s: no data on %s: %s", c.where, jobOursProfile, c.expr)
		case len(res) > 0 && exempt:
			t.Errorf("%s: data (%v), though ownEmpty says %q: delete the entry", c.where, res, reason)
		case len(res) == 0:
			t.Logf("%s: no data (%s)", c.where, reason)
		}
	}
	t.Logf("%d queries of gunicorn.json and rules.yml", len(checks))
}

// dashFanout receives datagrams on a UDP socket (Gunicorn's --statsd-host,
// and the test's own lines) and sends each, in the order received, to every
// target's Unix datagram socket: the programs compared read the same
// datagrams in the same order.
type dashFanout struct {
	conn net.PacketConn
	in   chan []byte
	done chan struct{}

	mu   sync.Mutex
	sent [][]byte
	err  error
}

// startFanout listens on a loopback UDP port; forward starts the sending.
func startFanout(t *testing.T) *dashFanout {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	must(t, err)
	f := &dashFanout{conn: conn, in: make(chan []byte, 1<<14), done: make(chan struct{})}
	go func() {
		defer close(f.in)
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			f.in <- bytes.Clone(buf[:n])
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		select {
		case <-f.done:
		case <-time.After(10 * time.Second):
			t.Error("the fanout did not stop within 10s")
		}
		if f.err != nil {
			t.Errorf("fanout: %v", f.err)
		}
	})
	return f
}

// addr returns the fanout's UDP address.
func (f *dashFanout) addr() string { return f.conn.LocalAddr().String() }

// forward sends every datagram received, from the first, to each of the
// Unix datagram sockets targets.
func (f *dashFanout) forward(t *testing.T, targets ...string) {
	t.Helper()
	var conns []net.Conn
	for _, tg := range targets {
		c, err := net.Dial("unixgram", tg)
		must(t, err)
		conns = append(conns, c)
	}
	go func() {
		defer close(f.done)
		for d := range f.in {
			for i, c := range conns {
				if _, err := c.Write(d); err != nil {
					f.mu.Lock()
					f.err = fmt.Errorf("sending %q to %s: %w", d, targets[i], err)
					f.mu.Unlock()
				}
			}
			f.mu.Lock()
			f.sent = append(f.sent, d)
			f.mu.Unlock()
		}
		for _, c := range conns {
			c.Close()
		}
	}()
}

// send sends each line, a datagram each, through the fanout.
func (f *dashFanout) send(t *testing.T, lines ...string) {
	t.Helper()
	c, err := net.Dial("udp", f.addr())
	must(t, err)
	defer c.Close()
	for _, l := range lines {
		_, err := c.Write([]byte(l))
		must(t, err)
	}
}

// count returns how many lines sent so far contain s.
func (f *dashFanout) count(s string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, d := range f.sent {
		n += bytes.Count(d, []byte(s))
	}
	return n
}

// observations returns the values, in seconds and sorted, of the timer name
// (in milliseconds) in the datagrams sent so far.
func (f *dashFanout) observations(t *testing.T, name string) []float64 {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []float64
	for _, d := range f.sent {
		for _, line := range strings.Split(string(d), "\n") {
			v, ok := strings.CutPrefix(line, name+":")
			if !ok {
				continue
			}
			v, typ, _ := strings.Cut(v, "|")
			if !strings.HasPrefix(typ, "ms") {
				t.Fatalf("%q: not a timer", line)
			}
			ms, err := strconv.ParseFloat(v, 64)
			must(t, err)
			out = append(out, ms/1000)
		}
	}
	slices.Sort(out)
	return out
}

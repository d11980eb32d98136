package grafana_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/gunicornotel/gunicornotel/examples/internal/promqueries"
	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/procwatch"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

func load(t *testing.T) *promqueries.Dashboard {
	t.Helper()
	d, err := promqueries.LoadDashboard("gunicorn.json")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// usedMetrics are the metric names the dashboard's queries use: exactly
// these, so that adding one is a deliberate change checked against the
// exporter by TestNamesAreExported.
var usedMetrics = []string{
	"gunicorn_backlog",
	"gunicorn_listen_backlog",
	"gunicorn_listen_backlog_limit",
	"gunicorn_log_messages_total",
	"gunicorn_process_cpu_time_seconds_total",
	"gunicorn_process_memory_usage_bytes",
	"gunicorn_request_duration_seconds_bucket",
	"gunicorn_request_duration_seconds_count",
	"gunicorn_request_duration_seconds_sum",
	"gunicorn_requests_total",
	"gunicorn_responses_total",
	"gunicorn_up",
	"gunicorn_worker_busy",
	"gunicorn_worker_busy_time_seconds_total",
	"gunicorn_worker_capacity",
	"gunicorn_worker_connections",
	"gunicorn_worker_count",
	"gunicorn_worker_queued",
	"gunicorn_worker_request_age_max_seconds",
	"gunicorn_worker_restarts_total",
	"gunicorn_worker_timeout_seconds",
	"gunicorn_workers",
	"gunicornotel_samples_rejected_total",
}

// watcherMetrics are the names of procwatch's instruments, as the daemon
// serves them (the root README's table), with the labels the dashboard and
// the rules use. A worker's series carry its slot (gunicorn_worker_slot);
// the master's its pid (process_pid).
var watcherMetrics = map[string][]string{
	"gunicorn_worker_count":                   {"app", "gunicorn_worker_state"},
	"gunicorn_worker_capacity":                {"app"},
	"gunicorn_worker_busy":                    {"app"},
	"gunicorn_worker_queued":                  {"app"},
	"gunicorn_worker_busy_time_seconds_total": {"app"},
	"gunicorn_worker_request_age_max_seconds": {"app"},
	"gunicorn_worker_timeout_seconds":         {"app"},
	"gunicorn_worker_connections":             {"app", "gunicorn_process_role", "gunicorn_worker_slot"},
	"gunicorn_worker_restarts_total":          {"app"},
	"gunicorn_process_cpu_time_seconds_total": {"app", "gunicorn_process_role", "gunicorn_worker_slot", "process_pid", "cpu_mode"},
	"gunicorn_process_memory_usage_bytes":     {"app", "gunicorn_process_role", "gunicorn_worker_slot", "process_pid"},
	"gunicorn_process_uptime_seconds":         {"app", "gunicorn_process_role", "gunicorn_worker_slot", "process_pid"},
	"gunicorn_listen_backlog":                 {"app", "network_local_address", "network_local_port", "network_transport"},
	"gunicorn_listen_backlog_limit":           {"app", "network_local_address", "network_local_port", "network_transport"},
	"gunicorn_up":                             {"app"},
	"gunicorn_watch_errors_total":             {"app", "error_type"},
}

var metricName = regexp.MustCompile(`\bgunicorn(?:otel)?_[a-z_]+`)

// labelNames are the label names that look like metric names: the
// watcher's attributes gunicorn.worker.state, gunicorn.worker.slot and
// gunicorn.process.role.
var labelNames = []string{"gunicorn_worker_state", "gunicorn_worker_slot", "gunicorn_process_role"}

// metricNames returns the metric names in text: the words metricName finds,
// less labelNames.
func metricNames(text string) []string {
	return slices.DeleteFunc(metricName.FindAllString(text, -1), func(n string) bool {
		return slices.Contains(labelNames, n)
	})
}

// exprs returns every query of the dashboard, "panel title/refId" → expr.
func exprs(d *promqueries.Dashboard) map[string]string {
	out := make(map[string]string)
	for _, q := range d.Queries() {
		out[q.Where] = q.Expr
	}
	return out
}

func TestDashboard(t *testing.T) {
	d := load(t)
	if d.SchemaVersion < 36 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d, uid %q, title %q", d.SchemaVersion, d.UID, d.Title)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs %+v, want one Prometheus datasource DS_PROMETHEUS", d.Inputs)
	}
	ds := promqueries.Datasource{Type: "prometheus", UID: "${DS_PROMETHEUS}"}

	if len(d.Templating.List) != 1 {
		t.Fatalf("%d template variables, want 1 (app)", len(d.Templating.List))
	}
	v := d.Templating.List[0]
	if v.Name != "app" || v.Type != "query" || v.Definition != "label_values(gunicorn_requests_total, app)" ||
		!v.IncludeAll || !v.Multi || v.AllValue != ".*" || v.Datasource == nil || *v.Datasource != ds {
		t.Errorf("template variable %+v", v)
	}

	ids := make(map[int]bool)
	var queries int
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || *p.Datasource != ds {
			t.Errorf("panel %q: datasource %+v, want %+v", p.Title, p.Datasource, ds)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no targets", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			if tg.Datasource == nil || *tg.Datasource != ds {
				t.Errorf("panel %q/%s: datasource %+v", p.Title, tg.RefID, tg.Datasource)
			}
		}
	}

	var used []string
	for where, expr := range exprs(d) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", where, expr)
		}
		for _, n := range names {
			if !slices.Contains(usedMetrics, n) {
				t.Errorf("%s: %s is not a metric the exporter serves (%v)", where, n, usedMetrics)
			}
			// Every Gunicorn selector is filtered by the app variable.
			if strings.HasPrefix(n, "gunicorn_") && !regexp.MustCompile(regexp.QuoteMeta(n)+`\{[^}]*app=~"\$app"`).MatchString(expr) {
				t.Errorf("%s: %s not filtered by app=~\"$app\": %s", where, n, expr)
			}
			used = append(used, n)
		}
	}
	slices.Sort(used)
	if used = slices.Compact(used); !slices.Equal(used, usedMetrics) {
		t.Errorf("metrics used %v, want %v", used, usedMetrics)
	}
	t.Logf("%d panels, %d queries", len(d.Panels), queries)
}

// TestQueriesParse checks every query with promtool: they are written into a
// rule file as recording rules (Grafana's $app replaced) and checked, which
// parses the PromQL. Skipped only when promtool is not installed.
func TestQueriesParse(t *testing.T) {
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH (Debian: apt-get install prometheus)")
	}
	d := load(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	exprs := exprs(d)
	keys := make([]string, 0, len(exprs))
	for k := range exprs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		expr := strings.NewReplacer("$app", ".*").Replace(exprs[k])
		if strings.Contains(expr, "$") && !strings.Contains(expr, "${1}") {
			t.Errorf("%s: Grafana variable left in %q", k, expr)
		}
		q, _ := json.Marshal(expr) // a JSON string is a YAML string
		fmt.Fprintf(&b, "      # %s\n      - record: dashboard:query_%d\n        expr: %s\n", k, i, q)
	}
	file := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "check", "rules", file).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s\n%s", err, out, b.String())
	}
	if !strings.Contains(string(out), fmt.Sprintf("SUCCESS: %d rules found", len(keys))) {
		t.Errorf("promtool: %s", out)
	}
}

// TestNamesAreExported feeds Gunicorn traffic through a Bridge into the
// OpenTelemetry Prometheus exporter configured as examples/gunicorn-prometheus
// configures it, and checks that every metric name the dashboard and
// examples/prometheus/rules.yml use is served, with the labels they use.
func TestNamesAreExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(context.Background())
	b, err := otelbridge.New(mp)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	watched := watch(t, mp)

	e := statsdtest.NewEmitter(statsdtest.Config{Prefix: "shop.web"}, statsdtest.HandlerSink(b))
	e.Request(200, 12*time.Millisecond)
	e.Request(503, 1200*time.Millisecond)
	e.Workers(4)
	e.Log(statsdtest.LogCritical)
	e.Backlog(2)
	b.HandleDatagram([]byte("shop.web.gunicorn.requests:x|c")) // rejected: bad_value

	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// name → label names, with a histogram's _bucket, _sum and _count.
	served := make(map[string][]string)
	for _, f := range fams {
		var labels []string
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName())
			}
		}
		if f.GetType() == dto.MetricType_HISTOGRAM {
			served[f.GetName()+"_bucket"] = append(labels, "le")
			served[f.GetName()+"_sum"] = labels
			served[f.GetName()+"_count"] = labels
			continue
		}
		served[f.GetName()] = labels
	}

	// The labels each name must have, as the queries use them.
	wantLabels := map[string][]string{
		"gunicorn_requests_total":                  {"app"},
		"gunicorn_responses_total":                 {"app", "http_response_status_code"},
		"gunicorn_request_duration_seconds_bucket": {"app", "le"},
		"gunicorn_request_duration_seconds_sum":    {"app"},
		"gunicorn_request_duration_seconds_count":  {"app"},
		"gunicorn_workers":                         {"app"},
		"gunicorn_log_messages_total":              {"app", "level"},
		"gunicorn_backlog":                         {"app"},
		"gunicornotel_samples_rejected_total":      {"reason"},
	}
	maps.Copy(wantLabels, watcherMetrics)
	rules, err := os.ReadFile(filepath.Join("..", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Concat(usedMetrics, metricNames(string(rules)+string(rulesTests(t))),
		slices.Collect(maps.Keys(watcherMetrics)))
	for _, n := range names {
		if _, ok := watcherMetrics[n]; ok && !watched {
			continue // procwatch does not run here
		}
		labels, ok := served[n]
		if !ok {
			t.Errorf("%s is not served", n)
			continue
		}
		for _, l := range wantLabels[n] {
			if !slices.Contains(labels, l) {
				t.Errorf("%s has no label %s (has %v)", n, l, labels)
			}
		}
		if _, ok := wantLabels[n]; !ok {
			t.Errorf("%s: add its labels to wantLabels", n)
		}
	}
	if t.Failed() {
		var have []string
		for n, l := range served {
			have = append(have, fmt.Sprintf("%s %v", n, l))
		}
		slices.Sort(have)
		t.Logf("served:\n%s", strings.Join(have, "\n"))
	}
}

// procTrees is where procwatch keeps its recorded /proc trees.
var procTrees = filepath.Join("..", "..", "procwatch", "testdata", "proc")

// watch makes one pass of two procwatch watchers into mp, over procwatch's
// recorded /proc trees: shop.web runs 4 sync workers on TCP (busy/idle,
// request age, a TCP backlog), api 2 gthread workers on a unix socket
// (connections per worker), and the fds of admin cannot be read (an error
// counted by reason). It returns false, having logged why, where
// procwatch does not run (other systems than Linux).
func watch(t *testing.T, mp *sdkmetric.MeterProvider) bool {
	t.Helper()
	for _, w := range []struct {
		tree, app string
		pid       int
		wantErr   bool
	}{
		{"sync-tcp", "shop.web", 1000, false},
		{"gthread-unix", "api", 2000, false},
		{"no-fd", "admin", 1000, true},
	} {
		pw, err := procwatch.New(mp,
			procwatch.WithProcRoot(filepath.Join(procTrees, w.tree)),
			procwatch.WithPID(w.pid),
			procwatch.WithAttributes(attribute.String("app", w.app)))
		if errors.Is(err, errors.ErrUnsupported) {
			t.Logf("the watcher's names are not checked: %v", err)
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := pw.Sample(context.Background()); (err != nil) != w.wantErr {
			t.Fatalf("%s: Sample: %v", w.tree, err)
		}
		if st := pw.Stats(); !st.Up {
			t.Fatalf("%s: master %d not found: %+v", w.tree, w.pid, st)
		}
	}
	return true
}

// rulesTests returns examples/prometheus/tests.yml, whose input series must
// also be named as the exporter serves them.
func rulesTests(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "prometheus", "tests.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestQueriesEvaluate evaluates some of the dashboard's queries with promtool
// on series shaped as the exporter serves them, and checks the results: the
// status classes of label_replace, the 5xx ratio, the median from the
// buckets, and the saturation row's queries over a sync and a gthread
// Gunicorn.
func TestQueriesEvaluate(t *testing.T) {
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH (Debian: apt-get install prometheus)")
	}
	d := load(t)
	query := func(title, refID string) string {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if p.Type == "timeseries" && p.Title == title && tg.RefID == refID {
					q, _ := json.Marshal(strings.NewReplacer("$app", ".*").Replace(tg.Expr))
					return string(q)
				}
			}
		}
		t.Fatalf("no timeseries panel %q with query %s", title, refID)
		return ""
	}
	// Per second: 2 answers 200, 1 answers 201, 1 answers 503; every request
	// takes between 1s and 2.5s, so the median is 1 + 1.5*0.5 = 1.75s.
	// The watcher sees shop.web's 4 sync workers (capacity 4), 3 of them
	// busy all the time (180 request-seconds a minute: utilization 0.75),
	// the longest request 12s old under a --timeout of 45s, a backlog of 5
	// out of 64, and 3 restarts in the last 5 minutes; and api's 2 gthread
	// workers of 4 threads (capacity 8), 4 requests busy all the time (240
	// request-seconds a minute: 0.5) and 2 queued for a thread, the longest
	// 50s old under a timeout of 30s, which does not apply to gthread
	// requests (no timeout line: no busy/idle state, which only sync
	// workers have). Workers are by slot, the master by pid.
	test := `evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'gunicorn_responses_total{app="shop.web",http_response_status_code="200",env="prod"}'
        values: '0+120x10'
      - series: 'gunicorn_responses_total{app="shop.web",http_response_status_code="201",env="prod"}'
        values: '0+60x10'
      - series: 'gunicorn_responses_total{app="shop.web",http_response_status_code="503",env="prod"}'
        values: '0+60x10'
      - series: 'gunicorn_request_duration_seconds_bucket{app="shop.web",le="0.5"}'
        values: '0+0x10'
      - series: 'gunicorn_request_duration_seconds_bucket{app="shop.web",le="1"}'
        values: '0+0x10'
      - series: 'gunicorn_request_duration_seconds_bucket{app="shop.web",le="2.5"}'
        values: '0+240x10'
      - series: 'gunicorn_request_duration_seconds_bucket{app="shop.web",le="+Inf"}'
        values: '0+240x10'
      - series: 'gunicorn_worker_busy_time_seconds_total{app="shop.web",instance="web-1:9102"}'
        values: '0+180x10'
      - series: 'gunicorn_worker_capacity{app="shop.web",instance="web-1:9102"}'
        values: '4x10'
      - series: 'gunicorn_worker_busy{app="shop.web",instance="web-1:9102"}'
        values: '3x10'
      - series: 'gunicorn_worker_count{app="shop.web",instance="web-1:9102",gunicorn_worker_state="busy"}'
        values: '3x10'
      - series: 'gunicorn_worker_count{app="shop.web",instance="web-1:9102",gunicorn_worker_state="idle"}'
        values: '1x10'
      - series: 'gunicorn_worker_request_age_max_seconds{app="shop.web",instance="web-1:9102"}'
        values: '12x10'
      - series: 'gunicorn_worker_timeout_seconds{app="shop.web",instance="web-1:9102"}'
        values: '45x10'
      - series: 'gunicorn_listen_backlog{app="shop.web",instance="web-1:9102",network_local_address="0.0.0.0",network_local_port="8000",network_transport="tcp"}'
        values: '5x10'
      - series: 'gunicorn_listen_backlog_limit{app="shop.web",instance="web-1:9102",network_local_address="0.0.0.0",network_local_port="8000",network_transport="tcp"}'
        values: '64x10'
      - series: 'gunicorn_worker_restarts_total{app="shop.web",instance="web-1:9102"}'
        values: '0x5 1 2 3 3 3'
      - series: 'gunicorn_process_cpu_time_seconds_total{app="shop.web",instance="web-1:9102",gunicorn_process_role="worker",gunicorn_worker_slot="0",cpu_mode="user"}'
        values: '0+24x10'
      - series: 'gunicorn_process_cpu_time_seconds_total{app="shop.web",instance="web-1:9102",gunicorn_process_role="worker",gunicorn_worker_slot="0",cpu_mode="system"}'
        values: '0+6x10'
      - series: 'gunicorn_process_cpu_time_seconds_total{app="shop.web",instance="web-1:9102",gunicorn_process_role="master",process_pid="40",cpu_mode="user"}'
        values: '0+3x10'
      - series: 'gunicorn_process_cpu_time_seconds_total{app="shop.web",instance="web-1:9102",gunicorn_process_role="master",process_pid="40",cpu_mode="system"}'
        values: '0+3x10'
      - series: 'gunicorn_process_memory_usage_bytes{app="shop.web",instance="web-1:9102",gunicorn_process_role="worker",gunicorn_worker_slot="0"}'
        values: '50000000x10'
      - series: 'gunicorn_process_memory_usage_bytes{app="shop.web",instance="web-1:9102",gunicorn_process_role="master",process_pid="40"}'
        values: '30000000x10'
      - series: 'gunicorn_worker_busy_time_seconds_total{app="api",instance="api-1:9102"}'
        values: '0+240x10'
      - series: 'gunicorn_worker_capacity{app="api",instance="api-1:9102"}'
        values: '8x10'
      - series: 'gunicorn_worker_busy{app="api",instance="api-1:9102"}'
        values: '4x10'
      - series: 'gunicorn_worker_queued{app="api",instance="api-1:9102"}'
        values: '2x10'
      - series: 'gunicorn_worker_count{app="api",instance="api-1:9102"}'
        values: '2x10'
      - series: 'gunicorn_worker_request_age_max_seconds{app="api",instance="api-1:9102"}'
        values: '50x10'
      - series: 'gunicorn_worker_timeout_seconds{app="api",instance="api-1:9102"}'
        values: '30x10'
      - series: 'gunicorn_worker_connections{app="api",instance="api-1:9102",gunicorn_process_role="worker",gunicorn_worker_slot="0"}'
        values: '5x10'
      - series: 'gunicorn_worker_connections{app="api",instance="api-1:9102",gunicorn_process_role="worker",gunicorn_worker_slot="1"}'
        values: '3x10'
    promql_expr_test:
      - expr: ` + query("Responses by status class", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web",class="2xx"}'
            value: 3
          - labels: '{app="shop.web",class="5xx"}'
            value: 1
      - expr: ` + query("5xx ratio", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web"}'
            value: 0.25
      - expr: ` + query("Latency percentiles", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web"}'
            value: 1.75
      - expr: ` + query("Utilization", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web"}'
            value: 0.75
          - labels: '{app="api"}'
            value: 0.5
      - expr: ` + query("Busy requests vs capacity", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web"}'
            value: 3
          - labels: '{app="api"}'
            value: 4
      - expr: ` + query("Busy requests vs capacity", "B") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web"}'
            value: 4
          - labels: '{app="api"}'
            value: 8
      - expr: ` + query("Queued requests (gthread)", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="api"}'
            value: 2
      - expr: ` + query("Listen backlog vs limit", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web",network_local_address="0.0.0.0",network_local_port="8000"}'
            value: 5
      - expr: ` + query("Listen backlog vs limit", "B") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web",network_local_address="0.0.0.0",network_local_port="8000"}'
            value: 64
      - expr: ` + query("Longest request in flight vs timeout", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web"}'
            value: 12
          - labels: '{app="api"}'
            value: 50
      - expr: ` + query("Longest request in flight vs timeout", "B") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web"}'
            value: 45
      - expr: ` + query("Worker restarts", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web"}'
            value: 3
      - expr: ` + query("CPU per process", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web",instance="web-1:9102",gunicorn_process_role="worker",gunicorn_worker_slot="0"}'
            value: 0.5
          - labels: '{app="shop.web",instance="web-1:9102",gunicorn_process_role="master"}'
            value: 0.1
      - expr: ` + query("Memory per process", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="shop.web",instance="web-1:9102",gunicorn_process_role="worker",gunicorn_worker_slot="0"}'
            value: 50000000
          - labels: '{app="shop.web",instance="web-1:9102",gunicorn_process_role="master"}'
            value: 30000000
      - expr: ` + query("Connections per worker (gthread, async)", "A") + `
        eval_time: 10m
        exp_samples:
          - labels: '{app="api",instance="api-1:9102",gunicorn_worker_slot="0"}'
            value: 5
          - labels: '{app="api",instance="api-1:9102",gunicorn_worker_slot="1"}'
            value: 3
`
	file := filepath.Join(t.TempDir(), "dashboard-tests.yml")
	if err := os.WriteFile(file, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "test", "rules", file).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n%s", err, out, test)
	}
}

package prometheus_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"testing"
	"time"
)

// promtool runs promtool with args in this directory and fails the test on a
// non-zero exit. It skips the test only when promtool is not installed (CI
// installs it, so there it always runs).
func promtool(t *testing.T, args ...string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH (Debian: apt-get install prometheus)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	t.Logf("promtool %v:\n%s", args, out)
	if err != nil {
		t.Fatalf("promtool %v: %v", args, err)
	}
}

func TestCheckRules(t *testing.T) {
	promtool(t, "check", "rules", "rules.yml")
}

func TestRulesUnitTests(t *testing.T) {
	promtool(t, "test", "rules", "tests.yml")
}

// knownMetrics are the names examples/gunicorn-prometheus serves for
// Gunicorn's metrics (the OpenTelemetry Prometheus exporter's default names):
// those of the StatsD profile, then those of the Gunicorn watcher (procwatch,
// the root README's table). examples/grafana's TestNamesAreExported checks them
// against the exporter itself.
var knownMetrics = []string{
	"gunicorn_requests_total",
	"gunicorn_responses_total",
	"gunicorn_request_duration_seconds_bucket",
	"gunicorn_request_duration_seconds_sum",
	"gunicorn_request_duration_seconds_count",
	"gunicorn_workers",
	"gunicorn_log_messages_total",
	"gunicorn_backlog",

	"gunicorn_worker_count",
	"gunicorn_worker_capacity",
	"gunicorn_worker_busy",
	"gunicorn_worker_queued",
	"gunicorn_worker_busy_time_seconds_total",
	"gunicorn_worker_request_age_max_seconds",
	"gunicorn_worker_timeout_seconds",
	"gunicorn_worker_connections",
	"gunicorn_worker_restarts_total",
	"gunicorn_process_cpu_time_seconds_total",
	"gunicorn_process_memory_usage_bytes",
	"gunicorn_process_uptime_seconds",
	"gunicorn_listen_backlog",
	"gunicorn_listen_backlog_limit",
	"gunicorn_up",
}

// knownLabels are the label names that look like metric names: the
// watcher's gunicorn.worker.state, gunicorn.worker.slot and
// gunicorn.process.role.
var knownLabels = []string{"gunicorn_worker_state", "gunicorn_worker_slot", "gunicorn_process_role"}

// usedMetrics returns the gunicorn_ metric names in file, less knownLabels.
func usedMetrics(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`\bgunicorn_[a-z_]+`).FindAllString(string(data), -1)
	used = slices.DeleteFunc(used, func(n string) bool { return slices.Contains(knownLabels, n) })
	if len(used) == 0 {
		t.Fatalf("no gunicorn_ metric in %s", file)
	}
	slices.Sort(used)
	return slices.Compact(used)
}

// TestRuleMetricNames checks that the rules, and the series their tests
// feed them, use only names the exporter serves, so that a renamed metric
// cannot leave an alert (or its test) silently empty.
func TestRuleMetricNames(t *testing.T) {
	for _, file := range []string{"rules.yml", "tests.yml"} {
		for _, name := range usedMetrics(t, file) {
			if !slices.Contains(knownMetrics, name) {
				t.Errorf("%s uses %s, which the exporter does not serve", file, name)
			}
		}
	}
	// Each alert on the watcher's metrics uses them.
	used := usedMetrics(t, "rules.yml")
	for _, name := range []string{
		"gunicorn_worker_busy_time_seconds_total", "gunicorn_worker_capacity",
		"gunicorn_worker_queued", "gunicorn_worker_count",
		"gunicorn_listen_backlog", "gunicorn_listen_backlog_limit",
		"gunicorn_worker_request_age_max_seconds", "gunicorn_worker_timeout_seconds",
		"gunicorn_worker_restarts_total", "gunicorn_up",
	} {
		if !slices.Contains(used, name) {
			t.Errorf("rules.yml does not use %s", name)
		}
	}
}

// TestEveryAlertTested checks that tests.yml has, for every alert of
// rules.yml, a case where it fires and one where it does not.
func TestEveryAlertTested(t *testing.T) {
	rules, err := os.ReadFile("rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("tests.yml")
	if err != nil {
		t.Fatal(err)
	}
	alerts := regexp.MustCompile(`(?m)^\s*- alert: (\w+)$`).FindAllStringSubmatch(string(rules), -1)
	if len(alerts) < 13 {
		t.Fatalf("%d alerts in rules.yml, want at least 13", len(alerts))
	}
	// A case is "alertname: X" followed by "exp_alerts: []" (not firing)
	// or "exp_alerts:" and a list (firing).
	cases := regexp.MustCompile(`(?m)^\s*alertname: (\w+)\n\s*exp_alerts:( \[\])?$`).FindAllStringSubmatch(string(tests), -1)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, c := range cases {
		if c[2] == "" {
			fires[c[1]] = true
		} else {
			quiet[c[1]] = true
		}
	}
	for _, a := range alerts {
		if !fires[a[1]] || !quiet[a[1]] {
			t.Errorf("%s: tested firing %v, not firing %v; want both", a[1], fires[a[1]], quiet[a[1]])
		}
	}
}

// TestSaturationExprs pins what the saturation alerts are over: the
// utilization on the capacity model (for every worker class), and the
// near-timeout alert kept to sync workers (those with a busy/idle state).
func TestSaturationExprs(t *testing.T) {
	rules, err := os.ReadFile("rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	expr := func(alert string) string {
		m := regexp.MustCompile(`(?ms)^\s*- alert: ` + alert + `\n.*?^\s*expr: (\|\n.*?|[^\n]*)\n\s*(?:for|labels):`).FindSubmatch(rules)
		if m == nil {
			t.Fatalf("no alert %s in rules.yml", alert)
		}
		return string(m[1])
	}
	space := regexp.MustCompile(`\s+`)
	for alert, want := range map[string]string{
		"GunicornWorkersSaturated":   `rate(gunicorn_worker_busy_time_seconds_total[5m]) / gunicorn_worker_capacity > 0.85`,
		"GunicornRequestsQueued":     `gunicorn_worker_queued > 0`,
		"GunicornRequestNearTimeout": `and ignoring (gunicorn_worker_state) gunicorn_worker_count{gunicorn_worker_state="busy"}`,
	} {
		if got := space.ReplaceAllString(expr(alert), " "); !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(got) {
			t.Errorf("%s: expr %q does not have %q", alert, got, want)
		}
	}
}

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
// Gunicorn's metrics (the OpenTelemetry Prometheus exporter's default names).
var knownMetrics = []string{
	"gunicorn_requests_total",
	"gunicorn_responses_total",
	"gunicorn_request_duration_seconds_bucket",
	"gunicorn_request_duration_seconds_sum",
	"gunicorn_request_duration_seconds_count",
	"gunicorn_workers",
	"gunicorn_log_messages_total",
	"gunicorn_backlog",
}

// TestRuleMetricNames checks that the rules use only names the exporter
// serves, so that a renamed metric cannot leave an alert silently empty.
func TestRuleMetricNames(t *testing.T) {
	data, err := os.ReadFile("rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`\bgunicorn_[a-z_]+`).FindAllString(string(data), -1)
	if len(used) == 0 {
		t.Fatal("no gunicorn_ metric in rules.yml")
	}
	for _, name := range used {
		if !slices.Contains(knownMetrics, name) {
			t.Errorf("rules.yml uses %s, which the exporter does not serve", name)
		}
	}
}

package kubernetes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// docs returns the YAML documents of file, decoded into generic values.
func docs(t *testing.T, file string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var out []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no YAML document", file)
	}
	return out
}

// get walks v by keys (strings for maps, ints for lists) and fails the test
// when one is missing.
func get(t *testing.T, v any, keys ...any) any {
	t.Helper()
	for i, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok || m[k] == nil {
				t.Fatalf("no %v", keys[:i+1])
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("no %v", keys[:i+1])
			}
			v = l[k]
		}
	}
	return v
}

func str(t *testing.T, v any, keys ...any) string {
	t.Helper()
	s, ok := get(t, v, keys...).(string)
	if !ok {
		t.Fatalf("%v is not a string", keys)
	}
	return s
}

// object returns the one document of file of that kind.
func object(t *testing.T, file, kind string) map[string]any {
	t.Helper()
	for _, d := range docs(t, file) {
		if d["kind"] == kind {
			return d
		}
	}
	t.Fatalf("%s: no %s", file, kind)
	return nil
}

// manifests are the files of Kubernetes objects, with the kinds each holds.
var manifests = map[string][]string{
	"deployment.yaml":        {"Deployment", "PodMonitor"},
	"keda-scaledobject.yaml": {"ScaledObject"},
	"hpa.yaml":               {"HorizontalPodAutoscaler"},
}

func TestManifests(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		ds := docs(t, f) // every file parses
		kinds, ok := manifests[f]
		if !ok {
			if f != "prometheus-adapter-values.yaml" {
				t.Errorf("%s: a file the test does not know", f)
			}
			continue
		}
		var got []string
		for _, d := range ds {
			if str(t, d, "apiVersion") == "" || str(t, d, "metadata", "name") != "shop-web" ||
				str(t, d, "metadata", "namespace") != "shop" {
				t.Errorf("%s: %v %v", f, d["kind"], d["metadata"])
			}
			got = append(got, str(t, d, "kind"))
		}
		if !slices.Equal(got, kinds) {
			t.Errorf("%s: kinds %v, want %v", f, got, kinds)
		}
	}

	// The pod: Gunicorn and the sidecar share the pid file and the prefix.
	dep := object(t, "deployment.yaml", "Deployment")
	spec := get(t, dep, "spec", "template", "spec")
	if get(t, spec, "shareProcessNamespace") != true {
		t.Error("shareProcessNamespace is not true: the sidecar cannot see Gunicorn")
	}
	args := func(i int) string {
		var s []string
		for _, a := range get(t, spec, "containers", i, "args").([]any) {
			s = append(s, a.(string))
		}
		return strings.Join(s, " ")
	}
	web, metrics := args(0), args(1)
	for _, want := range []string{"--pid=/run/gunicorn/gunicorn.pid", "--statsd-prefix=shop.web", "--statsd-host=localhost:9125"} {
		if !strings.Contains(web, want) {
			t.Errorf("gunicorn's args %q lack %s", web, want)
		}
	}
	for _, want := range []string{"--gunicorn.pid-file=/run/gunicorn/gunicorn.pid", "--gunicorn.app=shop.web"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("the sidecar's args %q lack %s", metrics, want)
		}
	}
	port := get(t, spec, "containers", 1, "ports", 0)
	pm := object(t, "deployment.yaml", "PodMonitor")
	if get(t, port, "name") != str(t, pm, "spec", "podMetricsEndpoints", 0, "port") || get(t, port, "containerPort") != 9102 {
		t.Errorf("the PodMonitor scrapes port %v, the sidecar serves %v", get(t, pm, "spec", "podMetricsEndpoints"), port)
	}

	// The autoscalers scale the Deployment.
	so := object(t, "keda-scaledobject.yaml", "ScaledObject")
	if str(t, so, "spec", "scaleTargetRef", "name") != "shop-web" {
		t.Errorf("ScaledObject scales %v", get(t, so, "spec", "scaleTargetRef"))
	}
	if str(t, so, "spec", "triggers", 0, "type") != "prometheus" || str(t, so, "spec", "triggers", 0, "metricType") != "Value" {
		t.Errorf("ScaledObject trigger %v, want prometheus with metricType Value", get(t, so, "spec", "triggers", 0))
	}
	hpa := object(t, "hpa.yaml", "HorizontalPodAutoscaler")
	if str(t, hpa, "spec", "scaleTargetRef", "kind") != "Deployment" || str(t, hpa, "spec", "scaleTargetRef", "name") != "shop-web" {
		t.Errorf("HPA scales %v", get(t, hpa, "spec", "scaleTargetRef"))
	}
	if str(t, hpa, "spec", "metrics", 0, "pods", "metric", "name") != str(t, adapterRule(t), "name", "as") {
		t.Errorf("the HPA's metric %v is not the adapter's %v", get(t, hpa, "spec", "metrics", 0), get(t, adapterRule(t), "name"))
	}
}

func adapterRule(t *testing.T) any {
	t.Helper()
	return get(t, docs(t, "prometheus-adapter-values.yaml")[0], "rules", "custom", 0)
}

// kedaQuery is the ScaledObject's query.
func kedaQuery(t *testing.T) string {
	t.Helper()
	return str(t, object(t, "keda-scaledobject.yaml", "ScaledObject"), "spec", "triggers", 0, "metadata", "query")
}

// adapterQuery is the adapter's metricsQuery as the adapter runs it for the
// Deployment's pods.
func adapterQuery(t *testing.T) string {
	t.Helper()
	return strings.NewReplacer("<<.GroupBy>>", "namespace, pod",
		"<<.LabelMatchers>>", `namespace="shop",pod=~"shop-web-.*"`).Replace(str(t, adapterRule(t), "metricsQuery"))
}

var metricName = regexp.MustCompile(`\bgunicorn_[a-z_]+`)

// names returns the sorted metric names in s.
func names(s string) []string {
	n := metricName.FindAllString(s, -1)
	slices.Sort(n)
	return slices.Compact(n)
}

// TestSameMetricsAsRules checks that the autoscalers' queries are over the
// metrics of the utilization alert (../prometheus/rules.yml) and of the
// dashboard's Utilization panel (../grafana/gunicorn.json), whose tests
// check those names against the exporter.
func TestSameMetricsAsRules(t *testing.T) {
	var alert string
	for _, g := range get(t, docs(t, filepath.Join("..", "prometheus", "rules.yml"))[0], "groups").([]any) {
		for _, r := range get(t, g, "rules").([]any) {
			if r.(map[string]any)["alert"] == "GunicornWorkersSaturated" {
				alert = str(t, r, "expr")
			}
		}
	}
	if alert == "" {
		t.Fatal("no GunicornWorkersSaturated in ../prometheus/rules.yml")
	}
	data, err := os.ReadFile(filepath.Join("..", "grafana", "gunicorn.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	var panel string
	for _, p := range dash.Panels {
		if p.Title == "Utilization" && len(p.Targets) == 1 {
			panel = p.Targets[0].Expr
		}
	}
	if panel == "" {
		t.Fatal("no Utilization panel with one query in ../grafana/gunicorn.json")
	}
	want := []string{"gunicorn_worker_busy_time_seconds_total", "gunicorn_worker_capacity"}
	for what, q := range map[string]string{"the ScaledObject's query": kedaQuery(t), "the adapter's query": adapterQuery(t),
		"GunicornWorkersSaturated": alert, "the Utilization panel": panel} {
		if got := names(q); !slices.Equal(got, want) {
			t.Errorf("%s uses %v, want %v: %s", what, got, want, q)
		}
	}
	if got := str(t, adapterRule(t), "seriesQuery"); names(got)[0] != "gunicorn_worker_capacity" {
		t.Errorf("the adapter discovers %s", got)
	}
}

// promtool runs promtool with args, skipping the test when it is not
// installed.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH (Debian: apt-get install prometheus)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestQueries checks the two queries with promtool: they parse (as
// recording rules of a generated rule file), and on series shaped as
// the daemon serves them, scraped by the PodMonitor (namespace and pod
// labels), they give the pools' utilization. Pod a has 4 sync workers,
// busy 3 request-seconds a second (0.75); pod b 2 gthread workers of 2
// threads, busy 2 (0.5): the Deployment's utilization is 5/8. A pod of
// another Deployment in the namespace with the same app label, and the same
// app in another namespace, do not count.
func TestQueries(t *testing.T) {
	keda, adapter := kedaQuery(t), adapterQuery(t)
	dir := t.TempDir()
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	rules := fmt.Sprintf("groups:\n  - name: autoscaling\n    rules:\n      - record: keda:gunicorn_utilization\n        expr: %s\n      - record: adapter:gunicorn_worker_utilization\n        expr: %s\n", q(keda), q(adapter))
	file := filepath.Join(dir, "autoscaling.yml")
	if err := os.WriteFile(file, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := promtool(t, "check", "rules", file); !strings.Contains(out, "SUCCESS: 2 rules found") {
		t.Errorf("promtool check rules: %s", out)
	}

	series := func(name, ns, pod, values string) string {
		return fmt.Sprintf("      - series: '%s{app=\"shop.web\",namespace=\"%s\",pod=\"%s\",container=\"metrics\"}'\n        values: '%s'\n", name, ns, pod, values)
	}
	var in strings.Builder
	for _, s := range []struct{ ns, pod, busy, capacity string }{
		{"shop", "shop-web-7d9f-a", "0+180x10", "4x10"},
		{"shop", "shop-web-7d9f-b", "0+120x10", "4x10"},
		{"shop", "shop-admin-55c4-a", "0+240x10", "4x10"}, // another Deployment: not in the adapter's pods
		{"staging", "shop-web-6b8e-a", "0+240x10", "4x10"},
	} {
		in.WriteString(series("gunicorn_worker_busy_time_seconds_total", s.ns, s.pod, s.busy))
		in.WriteString(series("gunicorn_worker_capacity", s.ns, s.pod, s.capacity))
	}
	test := fmt.Sprintf(`evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
%s    promql_expr_test:
      - expr: %s
        eval_time: 10m
        exp_samples:
          - labels: '{}'
            value: 0.625
      - expr: %s
        eval_time: 10m
        exp_samples:
          - labels: '{namespace="shop",pod="shop-web-7d9f-a"}'
            value: 0.75
          - labels: '{namespace="shop",pod="shop-web-7d9f-b"}'
            value: 0.5
`, in.String(), q(keda), q(adapter))
	file = filepath.Join(dir, "autoscaling-tests.yml")
	if err := os.WriteFile(file, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, "test", "rules", file)
}

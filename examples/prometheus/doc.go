// Package prometheus holds Prometheus alerting rules for Gunicorn (rules.yml)
// over the metric names examples/gunicorn-prometheus serves (StatsD's, and
// the Gunicorn watcher's: saturation, accept queue, request age, restarts,
// master down), and their unit tests (tests.yml). Its Go test runs promtool on both; see README.md.
package prometheus

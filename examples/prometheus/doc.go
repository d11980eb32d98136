// Package prometheus holds Prometheus alerting rules for Gunicorn (rules.yml)
// over the metric names examples/gunicorn-prometheus serves, and their unit
// tests (tests.yml). Its Go test runs promtool on both; see README.md.
package prometheus

// Package grafana holds a Grafana dashboard for Gunicorn (gunicorn.json) over
// the metric names examples/gunicorn-prometheus serves: the StatsD ones, and
// those of the procwatch watcher (utilization over capacity, busy and
// queued requests, accept queue, request age, restarts, memory and CPU per
// worker slot). Its tests check the
// dashboard's structure, that its queries parse (with promtool, when
// installed), and that every metric name it and examples/prometheus/rules.yml
// use is one the OpenTelemetry Prometheus exporter really serves.
package grafana

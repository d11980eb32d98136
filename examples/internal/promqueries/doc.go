// Package promqueries reads the PromQL queries of Grafana dashboards (their
// JSON model) and of Prometheus rule files, for the tests that check those
// queries against what the exporters serve. It is for tests only.
package promqueries

// Package kubernetes holds Kubernetes manifests that autoscale Gunicorn on
// the watcher's utilization (request-seconds served per second over
// gunicorn_worker_capacity): a Deployment with the gunicorn-prometheus
// sidecar and a PodMonitor, a KEDA ScaledObject with a Prometheus trigger,
// and an HPA over a prometheus-adapter rule. Its test parses them, checks
// that they name one another, and checks their queries with promtool
// against the metric names of examples/prometheus and examples/grafana. See
// README.md.
package kubernetes

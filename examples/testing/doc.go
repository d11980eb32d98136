// Package testingexample shows how a Go service that receives Gunicorn's
// StatsD traffic tests its metrics without sockets: statsdtest plays the
// datagrams a given Gunicorn sends straight into an otelbridge.Bridge, and an
// OpenTelemetry ManualReader collects what was recorded. See the _test.go
// files and README.md.
package testingexample

// Package benchcmp benchmarks gunicornotel's hot paths side by side with
// prometheus/statsd_exporter's: parsing a datagram, mapping a name, and the
// whole path from datagram to recorded metric. It holds no code to import:
// run its benchmarks with
//
//	go test -run XXX -bench . -benchmem -count 5
//
// It is its own module so that the library never depends on statsd_exporter.
// See README.md for what each benchmark compares and the latest figures.
package benchcmp

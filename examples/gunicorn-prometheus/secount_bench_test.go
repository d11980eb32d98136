package main

import (
	"testing"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// BenchmarkSECountsHandle measures what counting for statsd_exporter's
// names adds to a server reader's work: one op is one read batch of 64
// Gunicorn datagrams (with prefix and tags), handed on to a handler that
// does nothing.
func BenchmarkSECountsHandle(b *testing.B) {
	datagrams := gunicornDatagrams(64)
	batch := batchOf(datagrams...)
	c := &seCounts{next: statsd.HandlerFunc(func(*statsd.Batch) {})}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Handle(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(datagrams)), "ns/line")
}

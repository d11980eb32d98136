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
	lines := []string{
		"shop.web.gunicorn.request.duration:12.5|ms|#env:prod,team:web",
		"shop.web.gunicorn.requests:1|c|@1.0|#env:prod,team:web",
		"shop.web.gunicorn.request.status.200:1|c|@1.0|#env:prod,team:web",
		"shop.web.gunicorn.workers:4|g|#env:prod,team:web",
	}
	var datagrams []string
	for i := range 64 {
		datagrams = append(datagrams, lines[i%len(lines)])
	}
	batch := batchOf(datagrams...)
	c := &seCounts{next: statsd.HandlerFunc(func(*statsd.Batch) {})}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Handle(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(datagrams)), "ns/line")
}

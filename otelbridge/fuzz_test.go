package otelbridge

import (
	"strings"
	"testing"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// FuzzHandleDatagram feeds arbitrary datagrams to a bridge with the real
// mapper and small limits: it must never panic, and every sample must be
// accounted for exactly once.
func FuzzHandleDatagram(f *testing.F) {
	for _, name := range []string{"gunicorn-20.1-prefix-tags.statsd", "gunicorn-20.1-plain.statsd"} {
		for _, d := range readCapture(f, name) {
			f.Add(d)
		}
	}
	for _, s := range []string{
		"a:1|c|@0.001", "g:-1e308|g\ng:-1e308|g", "t:1e308|ms|@0.5", "s:x|s", "x:1|c\nx:1|g", "a.b:1:2:3|h|@0.3|#k:v,k2",
		"app.gunicorn.backlog:3|h", "app.gunicorn.request.status.abc:1|c", "é:1|c", "a:1|c|#:v", "\n\n\r\n",
		"x:1|ms|@0.001\nx:1|ms|@0.001\nx:1|ms|@0.001", "x:1|c|@1e-308", "gunicorn.requests:1|g",
		"w:1|g|#a:" + strings.Repeat("v", 300) + ",b:c",
	} {
		f.Add([]byte(s))
	}
	b, _ := newTestBridge(f, WithMaxSeries(64), WithMaxSeriesPerInstrument(4), WithMaxInstruments(16),
		WithMaxMemory(1<<20), WithMaxAttributeBytes(256), WithMaxHistogramSeries(8), WithMaxDatagramWeight(50))
	f.Fuzz(func(t *testing.T, d []byte) {
		before := b.Stats()
		var batch statsd.Batch
		new(statsd.Parser).Parse(&batch, d)
		b.HandleDatagram(d)
		after := b.Stats()
		samples := after.Samples - before.Samples
		if samples != uint64(len(batch.Samples)) || after.Datagrams-before.Datagrams != 1 {
			t.Fatalf("samples %d, parsed %d", samples, len(batch.Samples))
		}
		accounted := (after.Recorded - before.Recorded) + (after.Dropped - before.Dropped) +
			(after.Rejected - before.Rejected) - uint64(len(batch.Errors))
		if accounted != samples {
			t.Fatalf("%d samples, %d accounted for: %+v", samples, accounted, after)
		}
		for _, p := range []*pool{&b.generic, &b.reserved} {
			if p.bytes.Load() > p.maxBytes || p.series.Load() > p.maxSeries {
				t.Fatalf("pool over its bounds: %d bytes of %d, %d series of %d", p.bytes.Load(), p.maxBytes, p.series.Load(), p.maxSeries)
			}
		}
		if tb := b.table.Stats().Bytes; tb > b.table.MaxBytes() {
			t.Fatalf("series table %d bytes, over %d", tb, b.table.MaxBytes())
		}
	})
}

package statsd_test

import (
	"testing"

	"github.com/gunicornotel/gunicornotel/statsd"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// mix is the datagram mix of every benchmark of the project: see
// statsdtest.GunicornMix. tags is the --dogstatsd-tags value, or "".
func mix(tags string) [][]byte {
	return statsdtest.GunicornMix(statsdtest.Config{Version: statsdtest.V(20, 1, 0), Prefix: "myapp", Tags: tags})
}

// benchParse parses one datagram per op, rotating over the mix, and reads
// every field of every sample and every tag, as a handler would.
func benchParse(b *testing.B, datagrams [][]byte) {
	var p statsd.Parser
	batch := &statsd.Batch{Samples: make([]statsd.Sample, 0, 8), Errors: make([]statsd.ParseError, 0, 8)}
	var sink float64
	var n int
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		batch.Reset()
		p.Parse(batch, datagrams[i])
		if i++; i == len(datagrams) {
			i = 0
		}
		for j := range batch.Samples {
			s := &batch.Samples[j]
			sink += s.Value / s.Rate
			n += len(s.Name) + int(s.Type)
			it := s.TagIter()
			for it.Next() {
				n += len(it.Key()) + len(it.Value())
			}
		}
		if len(batch.Errors) != 0 {
			b.Fatalf("rejected: %v", batch.Errors)
		}
	}
	if sink == 0 || n == 0 {
		b.Fatal("nothing parsed")
	}
}

// BenchmarkParseGunicorn: one op is one Gunicorn datagram, fully parsed.
func BenchmarkParseGunicorn(b *testing.B) { benchParse(b, mix("")) }

// BenchmarkParseGunicornTags: the same with DogStatsD tags, iterated.
func BenchmarkParseGunicornTags(b *testing.B) { benchParse(b, mix("env:prod,service:web")) }

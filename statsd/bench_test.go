package statsd

import (
	"testing"
)

// gunicornMix is one real-shaped datagram of each kind Gunicorn sends, with
// the prefix "myapp.": a request's three datagrams for three statuses, the
// worker count and a critical log line (a worker timeout).
var gunicornMix = []string{
	"myapp.gunicorn.request.duration:1016.0360000000001|ms",
	"myapp.gunicorn.requests:1|c|@1.0",
	"myapp.gunicorn.request.status.200:1|c|@1.0",
	"myapp.gunicorn.request.duration:0.493|ms",
	"myapp.gunicorn.requests:1|c|@1.0",
	"myapp.gunicorn.request.status.404:1|c|@1.0",
	"myapp.gunicorn.request.duration:12.73|ms",
	"myapp.gunicorn.requests:1|c|@1.0",
	"myapp.gunicorn.request.status.500:1|c|@1.0",
	"myapp.gunicorn.workers:4|g",
	"myapp.gunicorn.log.critical:1|c|@1.0",
}

func mix(tags string) [][]byte {
	out := make([][]byte, len(gunicornMix))
	for i, d := range gunicornMix {
		out[i] = []byte(d + tags)
	}
	return out
}

// benchParse parses one datagram per op, rotating over the mix, and reads
// every field of every sample and every tag, as a handler would.
func benchParse(b *testing.B, datagrams [][]byte) {
	var p Parser
	batch := &Batch{Samples: make([]Sample, 0, 8), Errors: make([]ParseError, 0, 8)}
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
			for it := s.TagIter(); it.Next(); {
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
func BenchmarkParseGunicornTags(b *testing.B) { benchParse(b, mix("|#env:prod,service:web")) }

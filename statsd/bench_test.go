package statsd_test

import (
	"bytes"
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
func benchParse(b *testing.B, datagrams [][]byte) { benchParseWith(b, statsd.Parser{}, datagrams) }

func benchParseWith(b *testing.B, p statsd.Parser, datagrams [][]byte) {
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

// BenchmarkParseGunicornTagsStatsdExporter: the same in the dialect the
// drop-in daemon parses in by default.
func BenchmarkParseGunicornTagsStatsdExporter(b *testing.B) {
	benchParseWith(b, statsd.Parser{Dialect: statsd.DialectStatsdExporter}, mix("env:prod,service:web"))
}

// nameTagged is the tagged mix with its tags moved into the name, in the
// given format: "influxdb" (myapp.gunicorn.requests,env=prod,service=web:1|c),
// "librato" (...requests#env=prod,service=web:1|c) or "signalfx", in the
// middle of the name as its collectd plugin writes it
// (myapp.[env=prod,service=web]gunicorn.requests:1|c), which makes the parser
// join the name around it.
func nameTagged(format string) [][]byte {
	var out [][]byte
	for _, d := range mix("env:prod,service:web") {
		i := bytes.Index(d, []byte("|#"))
		tags := bytes.ReplaceAll(d[i+2:], []byte(":"), []byte("="))
		d = d[:i]
		c := bytes.IndexByte(d, ':')
		name, rest := d[:c], d[c:]
		var b []byte
		switch format {
		case "influxdb":
			b = append(append(append(append(b, name...), ','), tags...), rest...)
		case "librato":
			b = append(append(append(append(b, name...), '#'), tags...), rest...)
		case "signalfx":
			dot := bytes.IndexByte(name, '.') + 1
			b = append(b, name[:dot]...)
			b = append(append(append(b, '['), tags...), ']')
			b = append(append(b, name[dot:]...), rest...)
		}
		out = append(out, b)
	}
	return out
}

// BenchmarkParseGunicornInfluxDB: the tagged mix with InfluxDB tags.
func BenchmarkParseGunicornInfluxDB(b *testing.B) { benchParse(b, nameTagged("influxdb")) }

// BenchmarkParseGunicornLibrato: the tagged mix with Librato tags.
func BenchmarkParseGunicornLibrato(b *testing.B) { benchParse(b, nameTagged("librato")) }

// BenchmarkParseGunicornSignalFX: the tagged mix with SignalFX tags in the
// middle of the name.
func BenchmarkParseGunicornSignalFX(b *testing.B) { benchParse(b, nameTagged("signalfx")) }

// TestNameTaggedMix checks the benchmarks' inputs: every datagram parses to
// the mix's names and its two tags.
func TestNameTaggedMix(t *testing.T) {
	for _, f := range []string{"influxdb", "librato", "signalfx"} {
		var p statsd.Parser
		var b statsd.Batch
		for _, d := range nameTagged(f) {
			p.Parse(&b, d)
		}
		if len(b.Errors) != 0 || len(b.TagErrors) != 0 || len(b.Samples) != len(mix("")) {
			t.Fatalf("%s: %d samples, errors %v %v", f, len(b.Samples), b.Errors, b.TagErrors)
		}
		for i, s := range b.Samples {
			want := string(bytes.SplitN(mix("")[i], []byte(":"), 2)[0])
			it := s.TagIter()
			var tags string
			for it.Next() {
				tags += string(it.Key()) + "=" + string(it.Value()) + ";"
			}
			if string(s.Name) != want || tags != "env=prod;service=web;" {
				t.Errorf("%s: %q gives %s {%s}", f, nameTagged(f)[i], s.Name, tags)
			}
		}
	}
}

package statsd_test

import (
	"fmt"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// Parse reads a whole datagram: its samples, and the lines it rejects.
func ExampleParser_Parse() {
	var p statsd.Parser
	var b statsd.Batch
	p.Parse(&b, []byte("shop.web.gunicorn.request.duration:12.5|ms\nshop.web.gunicorn.requests:1|c|@1.0\nbroken line"))
	for _, s := range b.Samples {
		fmt.Printf("%s %v %s rate=%v\n", s.Name, s.Value, s.Type, s.Rate)
	}
	for _, e := range b.Errors {
		fmt.Printf("rejected %q: %s\n", e.Line, e.Reason)
	}
	// Output:
	// shop.web.gunicorn.request.duration 12.5 timer rate=1
	// shop.web.gunicorn.requests 1 counter rate=1
	// rejected "broken line": malformed_line
}

// ParseLine reads one line; packed values give one sample each, and an error
// names its reason and the line.
func ExampleParser_ParseLine() {
	var p statsd.Parser
	samples, err := p.ParseLine(nil, []byte("queue.wait:3:5|ms|@0.5"))
	fmt.Println(len(samples), samples[0].Value, samples[1].Value, samples[1].Rate, err)

	_, err = p.ParseLine(nil, []byte("queue.wait:NaN|ms"))
	fmt.Println(err)
	// Output:
	// 2 3 5 0.5 <nil>
	// statsd: bad_value: line "queue.wait:NaN|ms"
}

// Every tag format statsd_exporter reads is read by default; a malformed tag
// is dropped and counted in the Batch, and the sample kept.
func ExampleParser_tagFormats() {
	var p statsd.Parser
	var b statsd.Batch
	p.Parse(&b, []byte("orders,region=eu:1|c\n"+ // InfluxDB
		"orders#region=us:1|c\n"+ // Librato
		"shop.[region=ap]orders:1|c\n"+ // SignalFX, in the middle of the name
		"orders:1|c|#region:eu,:oops\n")) // DogStatsD, one malformed tag
	for _, s := range b.Samples {
		it := s.TagIter()
		for it.Next() {
			fmt.Printf("%s %s=%s\n", s.Name, it.Key(), it.Value())
		}
	}
	for _, e := range b.TagErrors {
		fmt.Printf("dropped a tag (%s) in %q\n", e.Reason, e.Line)
	}
	// Output:
	// orders region=eu
	// orders region=us
	// shop.orders region=ap
	// orders region=eu
	// dropped a tag (bad_tag) in "orders:1|c|#region:eu,:oops"
}

// Switching formats off, as statsd_exporter's --no-statsd.parse-*-tags flags
// do: the characters are then part of the name.
func ExampleParser_noInfluxDBTags() {
	p := statsd.Parser{NoInfluxDBTags: true}
	samples, _ := p.ParseLine(nil, []byte("orders,region=eu:1|c"))
	fmt.Printf("%s %q\n", samples[0].Name, samples[0].Tags)
	// Output:
	// orders,region=eu ""
}

// Reading lines as statsd_exporter does: a rate it cannot read is 1 (the
// line is kept, and listed as forgiven), a multi-metric line gives a sample
// per piece, and the container id is a tag.
func ExampleDialect() {
	p := statsd.Parser{Dialect: statsd.DialectStatsdExporter}
	var b statsd.Batch
	p.Parse(&b, []byte("jobs:2|c|@fast\nq:1|c:250|ms|@0.5\nhits:1|c|#env:prod|c:3a88c2"))
	for _, s := range b.Samples {
		fmt.Printf("%s %v|%s @%v [%s]\n", s.Name, s.Value, s.Type.Symbol(), s.Rate, s.Tags)
	}
	for _, e := range b.Forgiven {
		fmt.Printf("forgiven (%s): %q\n", e.Reason, e.Line)
	}
	// Output:
	// jobs 2|c @1 []
	// q 1|c @1 []
	// q 250|ms @0.5 []
	// hits 1|c @1 [env:prod,container_id:3a88c2]
	// forgiven (bad_sample_rate): "jobs:2|c|@fast"
}

func ExampleTagIter() {
	var p statsd.Parser
	samples, _ := p.ParseLine(nil, []byte("gunicorn.requests:1|c|#env:prod,team,k:v:w"))
	it := samples[0].TagIter()
	for it.Next() {
		fmt.Printf("%s=%q\n", it.Key(), it.Value())
	}
	// Output:
	// env="prod"
	// team=""
	// k="v:w"
}

// Bare tells a bare DogStatsD tag ("canary") from one with an empty value
// ("k:"). statsd_exporter drops both; a caller that follows it skips them.
func ExampleTagIter_Bare() {
	var p statsd.Parser
	samples, _ := p.ParseLine(nil, []byte("deploys:1|c|#env:prod,canary,k:"))
	it := samples[0].TagIter()
	for it.Next() {
		fmt.Printf("%s=%q bare=%v\n", it.Key(), it.Value(), it.Bare())
	}
	// Output:
	// env="prod" bare=false
	// canary="" bare=true
	// k="" bare=false
}

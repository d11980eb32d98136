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

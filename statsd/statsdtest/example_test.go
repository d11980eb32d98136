package statsdtest_test

import (
	"fmt"
	"time"

	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// An Emitter imitating Gunicorn 20.1 feeds a Recorder through a
// HandlerSink: no sockets. The Recorder keeps copies of the parsed samples.
func ExampleEmitter_recorder() {
	var rec statsdtest.Recorder
	gunicorn := statsdtest.NewEmitter(statsdtest.Config{
		Version: statsdtest.Gunicorn20_1,
		Prefix:  "shop.web", // as passed to --statsd-prefix
		Tags:    "env:prod", // as passed to --dogstatsd-tags
	}, statsdtest.HandlerSink(&rec))

	gunicorn.Workers(2)
	gunicorn.Request(200, 1200623*time.Microsecond)
	gunicorn.Log(statsdtest.LogCritical)

	for _, s := range rec.Samples() {
		fmt.Printf("%s %s %v %s\n", s.Type, s.Name, s.Value, s.Tags)
	}
	fmt.Println(rec.Datagrams(), "datagrams,", len(rec.Errors()), "rejected")
	// Output:
	// gauge shop.web.gunicorn.workers 2 env:prod
	// timer shop.web.gunicorn.request.duration 1200.623 env:prod
	// counter shop.web.gunicorn.requests 1 env:prod
	// counter shop.web.gunicorn.request.status.200 1 env:prod
	// counter shop.web.gunicorn.log.critical 1 env:prod
	// 5 datagrams, 0 rejected
}

// The Append methods produce the datagrams as bytes, for benchmarks and load
// tools: passing the slice back truncated reuses its buffers.
func ExampleEmitter_AppendRequest() {
	e := statsdtest.NewEmitter(statsdtest.Config{Version: statsdtest.Gunicorn26_1, Prefix: "app"}, nil)

	var dgrams [][]byte
	dgrams = e.AppendRequest(dgrams[:0], 404, time.Second+16036*time.Microsecond)
	dgrams = e.AppendBacklog(dgrams, 0) // sent from 26.1; dropped before
	dgrams = e.AppendMetric(dgrams, "cache.hits", statsdtest.MetricHistogram, statsdtest.Float(2.5))
	for _, d := range dgrams {
		fmt.Println(string(d))
	}
	// Output:
	// app.gunicorn.request.duration:1016.0360000000001|ms
	// app.gunicorn.requests:1|c|@1.0
	// app.gunicorn.request.status.404:1|c|@1.0
	// app.gunicorn.backlog:0|h
	// app.cache.hits:2.5|h
}

// Versions differ: before 26.1 a zero value logged through Gunicorn's
// logger is dropped, and histograms are "|ms" before 24.1.
func ExampleVersion() {
	for _, v := range []statsdtest.Version{statsdtest.Gunicorn20_1, statsdtest.Gunicorn24_1, statsdtest.Gunicorn26_1} {
		e := statsdtest.NewEmitter(statsdtest.Config{Version: v}, nil)
		d := e.AppendWorkers(nil, 0)
		d = e.AppendMetric(d, "queue", statsdtest.MetricHistogram, statsdtest.Int(3))
		fmt.Printf("%s: %q\n", v, d)
	}
	// Output:
	// 20.1.0: ["queue:3|ms"]
	// 24.1.0: ["queue:3|h"]
	// 26.1.0: ["gunicorn.workers:0|g" "queue:3|h"]
}

func ExampleNormalizePrefix() {
	for _, p := range []string{"app", "app...", "a", "a.."} {
		fmt.Printf("%q -> %q\n", p, statsdtest.NormalizePrefix(p))
	}
	// Output:
	// "app" -> "app."
	// "app..." -> "app."
	// "a" -> "a"
	// "a.." -> "a.."
}

func ExampleFormatDuration() {
	fmt.Println(statsdtest.FormatDuration(7 * time.Second))
	fmt.Println(statsdtest.FormatDuration(423 * time.Microsecond))
	fmt.Println(statsdtest.FormatDuration(-500 * time.Millisecond)) // clock stepped back
	fmt.Println(statsdtest.FormatPythonFloat(0.00001))
	// Output:
	// 7000.0
	// 0.423
	// 86399500.0
	// 1e-05
}

// Replay a capture into any Sink; here a Recorder.
func ExampleReadCapture() {
	dgrams, err := statsdtest.ReadCapture("../../testdata/gunicorn/gunicorn-20.1-plain.statsd")
	if err != nil {
		fmt.Println(err)
		return
	}
	var rec statsdtest.Recorder
	statsdtest.Replay(statsdtest.HandlerSink(&rec), dgrams)
	fmt.Println(len(dgrams), "datagrams;", rec.Lines()[1])
	// Output:
	// 10 datagrams; gunicorn.request.duration:0.55|ms
}

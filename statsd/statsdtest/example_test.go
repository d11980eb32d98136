package statsdtest_test

import (
	"fmt"
	"time"

	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// An Emitter imitating Gunicorn 20.1 feeds a Recorder through a
// HandlerSink: no sockets. In a real test the HandlerSink wraps the Handler
// under test (an otelbridge.Bridge, say) and the test reads its metrics.
func ExampleEmitter() {
	var rec statsdtest.Recorder
	gunicorn := statsdtest.NewEmitter(statsdtest.Config{
		Version: statsdtest.V(20, 1, 0),
		Prefix:  "shop.web", // as passed to --statsd-prefix
		Tags:    "env:prod", // as passed to --dogstatsd-tags
	}, statsdtest.HandlerSink(&rec))

	gunicorn.Workers(2)
	gunicorn.Request(200, 1200623*time.Microsecond)
	gunicorn.Log(statsdtest.LogCritical) // a worker timeout

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

// AppendRequest produces a request's datagrams as bytes, for benchmarks and
// load tools: passing the slice back truncated reuses its buffers.
func ExampleEmitter_AppendRequest() {
	e := statsdtest.NewEmitter(statsdtest.Config{Prefix: "app"}, nil)

	var dgrams [][]byte
	for _, status := range []int{404, 200} {
		dgrams = e.AppendRequest(dgrams[:0], status, time.Second+16036*time.Microsecond)
		for _, d := range dgrams {
			fmt.Println(string(d))
		}
	}
	// Output:
	// app.gunicorn.request.duration:1016.0360000000001|ms
	// app.gunicorn.requests:1|c|@1.0
	// app.gunicorn.request.status.404:1|c|@1.0
	// app.gunicorn.request.duration:1016.0360000000001|ms
	// app.gunicorn.requests:1|c|@1.0
	// app.gunicorn.request.status.200:1|c|@1.0
}

// Versions differ in what they send for the same calls: histograms are
// "|ms" before 24.1, and before 26.1 a zero value logged through Gunicorn's
// logger (the arbiter's worker count included) is dropped.
func ExampleEmitter_Metric() {
	for _, v := range []statsdtest.Version{statsdtest.V(20, 1, 0), statsdtest.V(24, 1, 0), statsdtest.V(26, 1, 0)} {
		var sent []string
		e := statsdtest.NewEmitter(statsdtest.Config{Version: v}, statsdtest.SinkFunc(func(p []byte) error {
			sent = append(sent, string(p))
			return nil
		}))
		e.Workers(0)
		e.Metric("queue", "histogram", 3)
		e.Metric("ratio", "gauge", 0.25)
		fmt.Printf("%s: %q\n", v, sent)
	}
	// Output:
	// 20.1.0: ["queue:3|ms" "ratio:0.25|g"]
	// 24.1.0: ["queue:3|h" "ratio:0.25|g"]
	// 26.1.0: ["gunicorn.workers:0|g" "queue:3|h" "ratio:0.25|g"]
}

// A Recorder keeps the lines the parser rejected, with the reason.
func ExampleRecorder() {
	var rec statsdtest.Recorder
	sink := statsdtest.HandlerSink(&rec)
	sink.WriteDatagram([]byte("gunicorn.requests:1|c|@1.0\ngunicorn.workers:x|g"))

	fmt.Println(rec.Lines())
	fmt.Println(rec.Errors())
	// Output:
	// [gunicorn.requests:1|c]
	// [bad_value: gunicorn.workers:x|g]
}

// Replay a capture of real Gunicorn traffic into any Sink; here a
// HandlerSink in front of a Recorder.
func ExampleReadCapture() {
	dgrams, err := statsdtest.ReadCapture("../../testdata/gunicorn/gunicorn-20.1-plain.statsd")
	if err != nil {
		fmt.Println(err)
		return
	}
	var rec statsdtest.Recorder
	sink := statsdtest.HandlerSink(&rec)
	for _, d := range dgrams {
		sink.WriteDatagram(d)
	}
	fmt.Println(len(dgrams), "datagrams;", rec.Lines()[1])
	// Output:
	// 10 datagrams; gunicorn.request.duration:0.55|ms
}

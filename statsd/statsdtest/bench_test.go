package statsdtest

import (
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// BenchmarkAppendRequest measures producing one request's three datagrams
// with a prefix and tags, reusing the slice: the path load tools take.
func BenchmarkAppendRequest(b *testing.B) {
	e := NewEmitter(Config{Version: gunicorn20_1, Prefix: "shop.web", Tags: "env:prod,team:web"}, nil)
	var dst [][]byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		dst = e.AppendRequest(dst[:0], 200, time.Duration(i%5000)*time.Microsecond)
	}
}

// BenchmarkRequestIntoRecorder measures Emitter -> HandlerSink -> Parser ->
// Recorder, which copies every sample.
func BenchmarkRequestIntoRecorder(b *testing.B) {
	var r Recorder
	e := NewEmitter(Config{Prefix: "shop.web", Tags: "env:prod"}, HandlerSink(&r))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%10000 == 0 {
			r.Reset()
		}
		_ = e.Request(200, 550*time.Microsecond)
	}
}

// BenchmarkRequestIntoHandler measures Emitter -> HandlerSink -> Parser ->
// a Handler that keeps nothing: what a bridge benchmark pays for its input.
func BenchmarkRequestIntoHandler(b *testing.B) {
	var n int
	e := NewEmitter(Config{Prefix: "shop.web", Tags: "env:prod"}, HandlerSink(statsd.HandlerFunc(func(b *statsd.Batch) { n += len(b.Samples) })))
	b.ReportAllocs()
	for b.Loop() {
		_ = e.Request(200, 550*time.Microsecond)
	}
}

// Sending through a HandlerSink allocates nothing in steady state, so
// benchmarks of Handlers fed by an Emitter measure only the Handler.
func TestRequestIntoHandlerNoAllocs(t *testing.T) {
	e := NewEmitter(Config{Prefix: "shop.web", Tags: "env:prod"}, HandlerSink(statsd.HandlerFunc(func(*statsd.Batch) {})))
	_ = e.Request(200, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { _ = e.Request(404, 1016036*time.Microsecond) }); n != 0 {
		t.Errorf("allocs = %v, want 0", n)
	}
}

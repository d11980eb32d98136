package otelbridge

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/gunicornotel/gunicornotel/statsd"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// gunicornMix is the datagram mix of every benchmark of the project (see
// statsdtest.GunicornMix); tags is a tag section such as
// "|#env:prod,service:web", or "".
func gunicornMix(tags string) [][]byte {
	return statsdtest.GunicornMix(statsdtest.Config{Version: statsdtest.V(20, 1, 0), Prefix: "myapp", Tags: strings.TrimPrefix(tags, "|#")})
}

func newBenchBridge(b *testing.B) *Bridge {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	br, err := New(mp)
	if err != nil {
		b.Fatal(err)
	}
	return br
}

func benchBridge(b *testing.B, tags string) {
	br := newBenchBridge(b)
	mix := gunicornMix(tags)
	for _, d := range mix {
		br.HandleDatagram(d)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		br.HandleDatagram(mix[i%len(mix)])
	}
	b.StopTimer()
	if st := br.Stats(); st.Rejected != 0 || st.Dropped != 0 {
		b.Fatalf("stats %+v", st)
	}
}

// BenchmarkBridgeGunicorn: one op is one Gunicorn datagram (prefix "myapp.",
// no tags) parsed, mapped and recorded in a real SDK MeterProvider.
func BenchmarkBridgeGunicorn(b *testing.B) { benchBridge(b, "") }

// BenchmarkBridgeGunicornTags is BenchmarkBridgeGunicorn with DogStatsD tags
// on every datagram.
func BenchmarkBridgeGunicornTags(b *testing.B) { benchBridge(b, "|#env:prod,service:web") }

// BenchmarkBridgeGunicornParallel runs the tagged mix from GOMAXPROCS
// goroutines at once, as several server readers would.
func BenchmarkBridgeGunicornParallel(b *testing.B) {
	br := newBenchBridge(b)
	mix := gunicornMix("|#env:prod,service:web")
	for _, d := range mix {
		br.HandleDatagram(d)
	}
	var start atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(start.Add(5))
		for pb.Next() {
			br.HandleDatagram(mix[i%len(mix)])
			i++
		}
	})
}

// BenchmarkSDKFloor records the same rotating mix straight into synchronous
// SDK instruments with precomputed attribute sets (the ones the mapper
// gives): no parsing, no mapping. It is what recording every sample through
// the SDK costs; the bridge records only histograms that way (counters and
// gauges are observed from its own state).
func BenchmarkSDKFloor(b *testing.B) {
	step := sdkFloor(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		step(i)
	}
}

// BenchmarkSDKFloorTags is BenchmarkSDKFloor with the tags of
// BenchmarkBridgeGunicornTags.
func BenchmarkSDKFloorTags(b *testing.B) {
	step := sdkFloor(b, attribute.String("env", "prod"), attribute.String("service", "web"))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		step(i)
	}
}

// BenchmarkSDKFloorParallel is BenchmarkSDKFloorTags from GOMAXPROCS
// goroutines: how the SDK alone scales when several goroutines record into
// the same series.
func BenchmarkSDKFloorParallel(b *testing.B) {
	step := sdkFloor(b, attribute.String("env", "prod"), attribute.String("service", "web"))
	var start atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(start.Add(5))
		for pb.Next() {
			step(i)
			i++
		}
	})
}

// sdkFloor returns a function recording step i of the rotation.
func sdkFloor(b *testing.B, tags ...attribute.KeyValue) func(i int) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m := mp.Meter("floor")
	ctr, _ := m.Float64Counter("gunicorn.requests")
	resp, _ := m.Float64Counter("gunicorn.responses")
	logs, _ := m.Float64Counter("gunicorn.log.messages")
	hist, _ := m.Float64Histogram("gunicorn.request.duration")
	gauge, _ := m.Float64Gauge("gunicorn.workers")
	set := func(kvs ...attribute.KeyValue) attribute.Set {
		return attribute.NewSet(append(append([]attribute.KeyValue{attribute.String("app", "myapp")}, tags...), kvs...)...)
	}
	// Prebuilt option slices, as the bridge keeps them: a variadic argument
	// built at the call would escape (the instruments are interfaces).
	add := func(s attribute.Set) []metric.AddOption { return []metric.AddOption{metric.WithAttributeSet(s)} }
	rec := func(s attribute.Set) []metric.RecordOption { return []metric.RecordOption{metric.WithAttributeSet(s)} }
	appAdd, appRec := add(set()), rec(set())
	status := [][]metric.AddOption{
		add(set(attribute.Int("http.response.status_code", 200))),
		add(set(attribute.Int("http.response.status_code", 404))),
		add(set(attribute.Int("http.response.status_code", 500))),
	}
	crit := add(set(attribute.String("level", "critical")))
	ctx := context.Background()
	// The same 16-step rotation as gunicornMix.
	return func(i int) {
		switch i % 16 {
		case 0, 3, 6, 11, 15:
			hist.Record(ctx, 0.012, appRec...)
		case 1, 4, 7, 12:
			ctr.Add(ctx, 1, appAdd...)
		case 2, 13:
			resp.Add(ctx, 1, status[0]...)
		case 5:
			resp.Add(ctx, 1, status[1]...)
		case 8:
			resp.Add(ctx, 1, status[2]...)
		case 9:
			logs.Add(ctx, 1, crit...)
		case 10, 14:
			gauge.Record(ctx, 4, appRec...)
		}
	}
}

// BenchmarkBridgeGunicornTagsNoExemplars is BenchmarkBridgeGunicornTags with
// exemplars turned off in the provider, as the package documentation
// suggests for a provider that only the bridge feeds.
func BenchmarkBridgeGunicornTagsNoExemplars(b *testing.B) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	br, err := New(mp)
	if err != nil {
		b.Fatal(err)
	}
	mix := gunicornMix("|#env:prod,service:web")
	for _, d := range mix {
		br.HandleDatagram(d)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		br.HandleDatagram(mix[i%len(mix)])
	}
}

// BenchmarkBridgeGunicornBatch64 hands the bridge batches of 64 tagged
// datagrams, as a server reader does with recvmmsg; one op is one batch, and
// ns/datagram is reported.
func BenchmarkBridgeGunicornBatch64(b *testing.B) {
	br := newBenchBridge(b)
	mix := gunicornMix("|#env:prod,service:web")
	var p statsd.Parser
	var batch statsd.Batch
	run := func() {
		for i := 0; i < 64; i++ {
			p.Parse(&batch, mix[i%len(mix)])
		}
		br.Handle(&batch)
		batch.Reset()
	}
	run()
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/datagram")
}

// sampledTimerFlood is the hostile datagram of issue 12.5: as many lines of a
// timer sampled at 0.001 as fit in 60 KB.
func sampledTimerFlood() []byte {
	var d []byte
	for len(d) < 60_000 {
		d = append(d, "x:1|ms|@0.001\n"...)
	}
	return d
}

// BenchmarkBridgeSampledFlood: one op is one 60 KB datagram of
// "x:1|ms|@0.001" lines (4,286 lines, each weighing 1000 observations).
//
//	go test -run '^$' -bench BenchmarkBridgeSampledFlood -count 5 ./otelbridge
func BenchmarkBridgeSampledFlood(b *testing.B) {
	br := newBenchBridge(b)
	d := sampledTimerFlood()
	br.HandleDatagram(d)
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		br.HandleDatagram(d)
	}
}

// BenchmarkBridgeDistinctTags: one op is one datagram of a counter with a
// tag value never seen before, on one name, as a cardinality flood sends:
// the slow path (mapping, series table insertion, overflow past the series
// limit per instrument).
func BenchmarkBridgeDistinctTags(b *testing.B) {
	br := newBenchBridge(b)
	d := []byte("flood.tagged:1|c|#id:0000000000")
	digits := d[len(d)-10:]
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j, n := len(digits)-1, i; j >= 0; j-- {
			digits[j] = byte('0' + n%10)
			n /= 10
		}
		br.HandleDatagram(d)
	}
}

// BenchmarkBridgeWideTags: one op is one line of issue 12's wide-tag flood,
// as statsdload -wide-tags 500 -wide-names 900 sends it: a counter of one of
// 900 names with 500 tags whose values are the line's number, every line a
// series never seen before (the slow path with the tag limits: 468 tags
// counted out, then the series and memory limits). The line's number is
// written in place, 8 digits in each tag, so that making the line costs
// little beside handling it.
func BenchmarkBridgeWideTags(b *testing.B) {
	const tags, names, digits = 500, 900, 8
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	br, err := New(mp, WithLogger(slog.New(slog.DiscardHandler))) // the memory limit's warning
	if err != nil {
		b.Fatal(err)
	}
	lines := make([][]byte, names)
	var at []int // where each tag's value starts, the same in every line after the name
	for n := range lines {
		l := fmt.Appendf(nil, "statsdload.wide.%03d:1|c|#", n)
		for t := range tags {
			if t > 0 {
				l = append(l, ',')
			}
			l = fmt.Appendf(l, "w%d:", t)
			if n == 0 {
				at = append(at, len(l))
			}
			l = append(l, strings.Repeat("0", digits)...)
		}
		lines[n] = l
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		line := lines[i%names]
		for _, p := range at {
			for j, v := p+digits-1, i; j >= p; j-- {
				line[j] = byte('0' + v%10)
				v /= 10
			}
		}
		br.HandleDatagram(line)
	}
}

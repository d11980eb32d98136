package benchcmp

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	semapper "github.com/prometheus/statsd_exporter/pkg/mapper"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// sink keeps results alive so that the compiler cannot drop the work.
var sink struct {
	f float64
	n int
}

// --- Parse ---------------------------------------------------------------

// benchParseOurs parses one datagram per op into a reused Batch and reads
// every field of every sample and every tag, as statsd/bench_test.go does.
func benchParseOurs(b *testing.B, datagrams [][]byte) {
	var p statsd.Parser
	batch := &statsd.Batch{Samples: make([]statsd.Sample, 0, 8), Errors: make([]statsd.ParseError, 0, 8)}
	var f float64
	var n int
	b.ReportAllocs()
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		batch.Reset()
		p.Parse(batch, datagrams[i])
		if i++; i == len(datagrams) {
			i = 0
		}
		for j := range batch.Samples {
			s := &batch.Samples[j]
			f += s.Value / s.Rate
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
	reportCPU(b, cpu)
	sink.f, sink.n = f, n
}

// benchParseSE parses one line per op with statsd_exporter's line parser
// (DogStatsD tags on) and reads every event's name, type, value and labels.
// The lines are strings made before timing: the string(packet) conversion
// and line split of its listener are not counted here.
func benchParseSE(b *testing.B, lines []string) {
	sp := newSEParser(prometheus.NewRegistry())
	var f float64
	var n int
	b.ReportAllocs()
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		evs := sp.events(lines[i])
		if i++; i == len(lines) {
			i = 0
		}
		if len(evs) == 0 {
			b.Fatal("rejected")
		}
		for _, ev := range evs {
			f += ev.Value()
			n += len(ev.MetricName()) + len(ev.MetricType())
			for k, v := range ev.Labels() {
				n += len(k) + len(v)
			}
		}
	}
	reportCPU(b, cpu)
	sink.f, sink.n = f, n
}

// BenchmarkParse: one op is one Gunicorn datagram, fully parsed and read.
func BenchmarkParse(b *testing.B) {
	b.Run("ours", func(b *testing.B) { benchParseOurs(b, mixBytes("")) })
	b.Run("statsd_exporter", func(b *testing.B) { benchParseSE(b, mixStrings("")) })
}

// BenchmarkParseTags is BenchmarkParse with DogStatsD tags on every datagram.
func BenchmarkParseTags(b *testing.B) {
	b.Run("ours", func(b *testing.B) { benchParseOurs(b, mixBytes(dogTags)) })
	b.Run("statsd_exporter", func(b *testing.B) { benchParseSE(b, mixStrings(dogTags)) })
}

// BenchmarkParseInfluxDB is BenchmarkParseTags with the two tags as InfluxDB
// tags (name,env=prod,service=web:...).
func BenchmarkParseInfluxDB(b *testing.B) { benchParseFormat(b, "influxdb") }

// BenchmarkParseLibrato is BenchmarkParseTags with the two tags as Librato
// tags (name#env=prod,service=web:...).
func BenchmarkParseLibrato(b *testing.B) { benchParseFormat(b, "librato") }

// BenchmarkParseSignalFX is BenchmarkParseTags with the two tags as a
// SignalFX section in the middle of the name (myapp.[env=prod,service=web]gunicorn...),
// which both parsers must cut out and join the name around.
func BenchmarkParseSignalFX(b *testing.B) { benchParseFormat(b, "signalfx") }

func benchParseFormat(b *testing.B, format string) {
	lines := nameTagged(format)
	b.Run("ours", func(b *testing.B) { benchParseOurs(b, toBytes(lines)) })
	b.Run("statsd_exporter", func(b *testing.B) { benchParseSE(b, lines) })
}

// --- Map -----------------------------------------------------------------

// parseSamples parses lines with our parser, one sample each.
func parseSamples(tb testing.TB, lines []string) []statsd.Sample {
	var p statsd.Parser
	var ss []statsd.Sample
	for _, l := range lines {
		var err error
		if ss, err = p.ParseLine(ss, []byte(l)); err != nil {
			tb.Fatal(err)
		}
	}
	if len(ss) != len(lines) {
		tb.Fatalf("%d samples from %d lines", len(ss), len(lines))
	}
	return ss
}

// seName is a name and type as statsd_exporter's mapper takes them: from a
// parsed event.
type seName struct {
	name string
	typ  semapper.MetricType
}

func parseSENames(tb testing.TB, lines []string) []seName {
	sp := newSEParser(prometheus.NewRegistry())
	var out []seName
	for _, l := range lines {
		for _, ev := range sp.events(l) {
			out = append(out, seName{ev.MetricName(), ev.MetricType()})
		}
	}
	if len(out) != len(lines) {
		tb.Fatalf("%d events from %d lines", len(out), len(lines))
	}
	return out
}

// benchMapOurs maps one parsed sample per op, warm (every series cached, as
// in steady state), and reads the result.
func benchMapOurs(b *testing.B, m *mapper.Mapper, lines []string, wantSuffix string) {
	ss := parseSamples(b, lines)
	for i := range ss {
		if mp := m.Map(&ss[i]); mp.Drop || !strings.HasSuffix(mp.Name, wantSuffix) {
			b.Fatalf("%s mapped to %+v", ss[i].Name, mp)
		}
	}
	var n int
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		mp := m.Map(&ss[i])
		n += len(mp.Name) + mp.Attributes.Len()
		if i++; i == len(ss) {
			i = 0
		}
	}
	sink.n = n
}

// benchMapSE maps one event name per op with statsd_exporter's mapper, warm
// (with a cache, every name is cached), and reads the result.
func benchMapSE(b *testing.B, yml string, cacheSize int, lines []string, wantSuffix string) {
	reg := prometheus.NewRegistry()
	m := newSEMapper(b, reg, yml, cacheSize)
	names := parseSENames(b, lines)
	for _, nm := range names {
		if mp, _, ok := m.GetMapping(nm.name, nm.typ); !ok || !strings.HasSuffix(mp.Name, wantSuffix) {
			b.Fatalf("%s mapped to %+v", nm.name, mp)
		}
	}
	var n int
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		mp, labels, _ := m.GetMapping(names[i].name, names[i].typ)
		n += len(mp.Name) + len(labels)
		if i++; i == len(names) {
			i = 0
		}
	}
	sink.n = n
}

// BenchmarkMap: one op maps one name of the mix. Ours is mapper.New() (the
// built-in Gunicorn profile, its bounded cache); statsd_exporter's is its
// MetricMapper loaded with gunicornMappingYAML, without a cache (glob FSM
// alone) and with its LRU cache of 1,000 (the binary's default).
func BenchmarkMap(b *testing.B) {
	lines := mixStrings("")
	b.Run("ours", func(b *testing.B) {
		m, err := mapper.New()
		if err != nil {
			b.Fatal(err)
		}
		benchMapOurs(b, m, lines, "")
	})
	b.Run("statsd_exporter", func(b *testing.B) { benchMapSE(b, gunicornMappingYAML, 0, lines, "") })
	b.Run("statsd_exporter_cache", func(b *testing.B) { benchMapSE(b, gunicornMappingYAML, 1000, lines, "") })
}

// BenchmarkMapRules1000: one op maps one name matched by a 1,000-rule glob
// file, loaded by both mappers (ours without the Gunicorn profile, so both
// have the rules alone).
func BenchmarkMapRules1000(b *testing.B) {
	yml, lines := globRules(1000)
	b.Run("ours", func(b *testing.B) {
		rs, err := mapper.ParseRules("rules1000.yml", []byte(yml))
		if err != nil {
			b.Fatal(err)
		}
		m, err := mapper.New(mapper.WithRules(rs), mapper.WithoutGunicornProfile())
		if err != nil {
			b.Fatal(err)
		}
		benchMapOurs(b, m, lines, "_requests")
	})
	b.Run("statsd_exporter", func(b *testing.B) { benchMapSE(b, yml, 0, lines, "_requests") })
	b.Run("statsd_exporter_cache", func(b *testing.B) { benchMapSE(b, yml, 1000, lines, "_requests") })
}

// --- Whole path ----------------------------------------------------------

// benchWholeOurs: one op is Bridge.HandleDatagram: parse, map, record in the
// SDK's instruments.
func benchWholeOurs(b *testing.B, datagrams [][]byte) {
	br := newOurBridge(b)
	for _, d := range datagrams {
		br.HandleDatagram(d)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		br.HandleDatagram(datagrams[i])
		if i++; i == len(datagrams) {
			i = 0
		}
	}
	reportCPU(b, cpu)
	if st := br.Stats(); st.Rejected != 0 || st.Dropped != 0 {
		b.Fatalf("stats %+v", st)
	}
}

// benchWholeOursParallel is benchWholeOurs from GOMAXPROCS goroutines.
func benchWholeOursParallel(b *testing.B, datagrams [][]byte) {
	br := newOurBridge(b)
	for _, d := range datagrams {
		br.HandleDatagram(d)
	}
	var start atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		i := int(start.Add(5))
		for pb.Next() {
			br.HandleDatagram(datagrams[i%len(datagrams)])
			i++
		}
	})
	reportCPU(b, cpu)
}

// benchWholeSE: one op is statsd_exporter's listener HandlePacket (string
// conversion, line split, LineToEvents) with the events handled by the
// Exporter. Async is its real wiring: EventQueue, channel, Exporter.Listen on
// a second goroutine; the timer stops only when Listen has handled every
// event. Sync handles each event on the benchmark goroutine.
func benchWholeSE(b *testing.B, datagrams [][]byte, async bool) {
	p := newSEPath(b)
	p.startSync()
	for _, d := range datagrams {
		p.listener.HandlePacket(d)
	}
	var stop func()
	if async {
		stop = p.startAsync()
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		p.listener.HandlePacket(datagrams[i%len(datagrams)])
	}
	if stop != nil {
		stop()
	}
	b.StopTimer()
	reportCPU(b, cpu)
}

func benchWhole(b *testing.B, tags string) {
	datagrams := mixBytes(tags)
	b.Run("ours", func(b *testing.B) { benchWholeOurs(b, datagrams) })
	b.Run("ours_parallel", func(b *testing.B) { benchWholeOursParallel(b, datagrams) })
	b.Run("statsd_exporter", func(b *testing.B) { benchWholeSE(b, datagrams, true) })
	b.Run("statsd_exporter_sync", func(b *testing.B) { benchWholeSE(b, datagrams, false) })
}

// BenchmarkWhole: one op is one Gunicorn datagram from bytes to a recorded
// metric. Ours records into an OpenTelemetry SDK MeterProvider (ManualReader);
// statsd_exporter into its Prometheus registry, through the equivalent
// mapping. Both are warm: every series exists and every cache holds it.
func BenchmarkWhole(b *testing.B) { benchWhole(b, "") }

// BenchmarkWholeTags is BenchmarkWhole with DogStatsD tags on every datagram.
func BenchmarkWholeTags(b *testing.B) { benchWhole(b, dogTags) }

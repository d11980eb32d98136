package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// relayLines parses datagram and returns the relay's line for each of its
// lines.
func relayLines(datagram string) []string {
	var p statsd.Parser
	var b statsd.Batch
	p.Parse(&b, []byte(datagram))
	var out []string
	for i := 0; i < len(b.Samples); {
		j := i + 1
		for j < len(b.Samples) && sameLine(&b.Samples[i], &b.Samples[j]) {
			j++
		}
		out = append(out, string(appendLine(nil, b.Samples[i:j])))
		i = j
	}
	return out
}

func TestAppendLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"orders.sold:1|c", []string{"orders.sold:1|c"}},
		{"a:1.50|c|@0.5|#env:prod,team", []string{"a:1.5|c|@0.5|#env:prod,team"}},
		{"g:+3|g\ng:-2.5|g\ng:7|g", []string{"g:+3|g", "g:-2.5|g", "g:7|g"}},
		{"t:1:2:3|ms|#a:b", []string{"t:1:2:3|ms|#a:b"}},
		{"h:1e3|h\nd:0.000001|d\nx:1e-9|d\ny:2e21|h", []string{"h:1000|h", "d:0.000001|d", "x:1e-09|d", "y:2e+21|h"}},
		{"s:user1|s", []string{"s:user1|s"}},
		{"c:1|c|#a:b|c:abc|T1656581400", []string{"c:1|c|#a:b|c:abc|T1656581400"}},
		{"a:1|c\nnot statsd\nb:2|c\r\n", []string{"a:1|c", "b:2|c"}},
	} {
		if got := relayLines(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzRelayLine: a line the relay writes parses into the samples it was
// written from.
func FuzzRelayLine(f *testing.F) {
	for _, s := range []string{
		"orders.sold:1|c", "a:1.50|c|@0.5|#env:prod,team", "g:+3|g\ng:-2.5|g", "t:1:2:3|ms|#a:b",
		"h:1e3|h\nd:0.000001|d", "s:user1|s", "c:1|c|#a:b|c:abc|T1656581400", "x:-0|g", "y:+0|g",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, datagram string) {
		var p statsd.Parser
		var b statsd.Batch
		p.Parse(&b, []byte(datagram))
		for i := 0; i < len(b.Samples); {
			j := i + 1
			for j < len(b.Samples) && sameLine(&b.Samples[i], &b.Samples[j]) {
				j++
			}
			line := appendLine(nil, b.Samples[i:j])
			got, err := p.ParseLine(nil, line)
			if err != nil {
				t.Fatalf("%q: the relayed line %q does not parse: %v", datagram, line, err)
			}
			if len(got) != j-i {
				t.Fatalf("%q: the relayed line %q gives %d samples, want %d", datagram, line, len(got), j-i)
			}
			for k := range got {
				if !sameSample(&got[k], &b.Samples[i+k]) {
					t.Fatalf("%q: the relayed line %q gives %+v, want %+v", datagram, line, got[k], b.Samples[i+k])
				}
			}
			i = j
		}
	})
}

func sameSample(a, b *statsd.Sample) bool {
	return bytes.Equal(a.Name, b.Name) && bytes.Equal(a.Tags, b.Tags) && bytes.Equal(a.ContainerID, b.ContainerID) &&
		bytes.Equal(a.Member, b.Member) && a.Value == b.Value && a.Rate == b.Rate && a.Timestamp == b.Timestamp &&
		a.Type == b.Type && a.Delta == b.Delta
}

// batchOf parses datagrams into one batch, as a server read would.
func batchOf(datagrams ...string) *statsd.Batch {
	var p statsd.Parser
	b := new(statsd.Batch)
	for _, d := range datagrams {
		p.Parse(b, []byte(d))
	}
	return b
}

// udpSink is a UDP socket on loopback collecting what it receives.
type udpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []string
}

func newUDPSink(t *testing.T) *udpSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	s := &udpSink{conn: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.got = append(s.got, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

func (s *udpSink) addr() string { return s.conn.LocalAddr().String() }

func (s *udpSink) packets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// TestRelayPackets: lines are batched into datagrams of at most
// packet-length bytes, one line a '\n'; a line too long for any is dropped
// and counted.
func TestRelayPackets(t *testing.T) {
	sink := newUDPSink(t)
	r, err := newRelay(sink.addr(), 40, 8, slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, err)
	// 15 bytes with its newline: two fit in 40 bytes, not three.
	r.Handle(batchOf("aaaaaaaaa.x:1|c", "bbbbbbbbb.x:2|c\nccccccccc.x:3|c",
		"this.line.is.far.too.long.for.forty.bytes:1|c", "not statsd", "d:4:5|ms"))
	r.Handle(batchOf("e:6|g"))
	must(t, r.close())
	want := []string{
		"aaaaaaaaa.x:1|c\nbbbbbbbbb.x:2|c\n",
		"ccccccccc.x:3|c\nd:4:5|ms\n",
		"e:6|g\n",
	}
	waitFor(t, 5*time.Second, "3 packets", func() error {
		if got := sink.packets(); !reflect.DeepEqual(got, want) {
			return errorf("packets %q, want %q", got, want)
		}
		return nil
	})
	if st := r.stats(); st != (relayStats{Relayed: 5, TooLong: 1, Packets: 3}) {
		t.Errorf("stats %+v", st)
	}
}

// blockingConn is a net.Conn whose Write waits until release is closed.
type blockingConn struct {
	net.Conn
	release chan struct{}
	mu      sync.Mutex
	written []string
}

func (c *blockingConn) Write(p []byte) (int, error) {
	<-c.release
	c.mu.Lock()
	c.written = append(c.written, string(p))
	c.mu.Unlock()
	return len(p), nil
}

func (c *blockingConn) Close() error { return nil }

// TestRelayNeverBlocks: with the target stuck, Handle drops lines and
// counts them instead of waiting; what was queued is sent once the target
// takes it, and every line is either sent or counted as dropped.
func TestRelayNeverBlocks(t *testing.T) {
	conn := &blockingConn{release: make(chan struct{})}
	r := newRelayConn(conn, "stuck", 20, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const batches = 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range batches {
			r.Handle(batchOf("abcdefgh.ij:1|c")) // 16 bytes: one a packet
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Handle blocked behind a stuck relay target")
	}
	st := r.stats()
	// At most queue+2 packets were taken: one being written, two queued,
	// one being filled (handed over at the batch's end).
	if st.Relayed > 4 || st.Relayed+st.Dropped != batches {
		t.Errorf("relayed %d, dropped %d, want at most 4 relayed and %d in all", st.Relayed, st.Dropped, batches)
	}
	close(conn.release)
	must(t, r.close())
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if uint64(len(conn.written)) != st.Relayed || r.stats().Packets != st.Relayed {
		t.Errorf("%d packets written, stats %+v; want %d", len(conn.written), r.stats(), st.Relayed)
	}
}

// TestRelayEndToEnd runs the program with --statsd.relay.address: every valid
// line that reaches it over UDP, TCP and a Unix datagram socket is forwarded;
// the rejected ones are not; the counters say so.
func TestRelayEndToEnd(t *testing.T) {
	sink := newUDPSink(t)
	a := newTestApp(t, "--statsd.relay.address="+sink.addr(), "--statsd.relay.packet-length=1400")
	udp, err := net.Dial("udp", a.addrs.UDP)
	must(t, err)
	defer udp.Close()
	_, err = udp.Write([]byte("orders.sold:1|c|#env:prod\nnot statsd\napi.latency:12:13|ms"))
	must(t, err)
	tcpLines(t, a.addrs.TCP, [][]byte{[]byte("shop.web.gunicorn.requests:1|c|@1.0"), []byte("temp:+5|g")})
	want := []string{"orders.sold:1|c|#env:prod", "api.latency:12:13|ms", "shop.web.gunicorn.requests:1|c", "temp:+5|g"}
	var got []string
	waitFor(t, 10*time.Second, "4 relayed lines", func() error {
		got = nil
		for _, p := range sink.packets() {
			got = append(got, strings.Split(strings.TrimSuffix(p, "\n"), "\n")...)
		}
		if len(got) < len(want) {
			return errorf("relayed %q", got)
		}
		return nil
	})
	slices.Sort(got)
	slices.Sort(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("relayed %q, want %q", got, want)
	}
	fams := scrape(t, a.url("/metrics"))
	equalSeries(t, "relay lines", fams.values(t, "gunicornotel_exporter_relay_lines_total", dto.MetricType_COUNTER),
		map[string]float64{"outcome=relayed": 4, "outcome=dropped": 0, "outcome=too_long": 0})
	if got := fams.values(t, "gunicornotel_exporter_relay_packets_total", dto.MetricType_COUNTER)[""]; got < 2 {
		t.Errorf("relay packets %v, want at least 2 (one per read)", got)
	}
	// The bridge recorded them too.
	equalSeries(t, "orders_sold", fams.values(t, "orders_sold", dto.MetricType_COUNTER), map[string]float64{"env=prod": 1})
}

// discardConn is a net.Conn whose writes succeed at once.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
func (discardConn) Close() error                { return nil }

// gunicornDatagrams returns n Gunicorn datagrams with a prefix and two tags,
// the four kinds in turn: a read batch's worth for the benchmarks.
func gunicornDatagrams(n int) []string {
	lines := []string{
		"shop.web.gunicorn.request.duration:12.5|ms|#env:prod,team:web",
		"shop.web.gunicorn.requests:1|c|@1.0|#env:prod,team:web",
		"shop.web.gunicorn.request.status.200:1|c|@1.0|#env:prod,team:web",
		"shop.web.gunicorn.workers:4|g|#env:prod,team:web",
	}
	var datagrams []string
	for i := range n {
		datagrams = append(datagrams, lines[i%len(lines)])
	}
	return datagrams
}

// BenchmarkRelayHandle measures what the relay adds to a server reader's
// work: one op is one read batch of 64 Gunicorn datagrams (with prefix and
// tags) written into packets and handed to the sender (whose writes cost
// nothing here: they are the sender goroutine's, not the reader's).
func BenchmarkRelayHandle(b *testing.B) {
	r := newRelayConn(discardConn{}, "discard", 1400, defaultRelayQueue, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer r.close()
	datagrams := gunicornDatagrams(64)
	batch := batchOf(datagrams...)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r.Handle(batch)
	}
	b.StopTimer()
	st := r.stats()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(datagrams)), "ns/line")
	b.ReportMetric(float64(st.Dropped)/float64(st.Relayed+st.Dropped), "dropped/line")
}

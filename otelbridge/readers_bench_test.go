package otelbridge_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"golang.org/x/net/ipv4"

	"github.com/gunicornotel/gunicornotel/otelbridge"
	"github.com/gunicornotel/gunicornotel/statsd"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// BenchmarkServerReaders measures the whole receive path over loopback UDP
// (kernel, statsd.Server with 1, 2 and 4 readers, each its own SO_REUSEPORT
// socket on Linux, and a Bridge recording into an SDK MeterProvider) with 16
// senders, each its own source port so that the kernel spreads them over the
// readers' sockets, sending Gunicorn requests with sendmmsg (x/net's
// WriteBatch). Senders keep at most a window of datagrams in flight, well
// under what the receive buffers hold, so nothing is lost and the figure is
// what the receivers sustain. ns/op is per datagram; datagrams/s is the
// throughput. On a small machine senders and readers share the cores: the
// scaling shown is the receive side's on top of that.
//
//	go test -run '^$' -bench BenchmarkServerReaders -benchtime 2000000x ./otelbridge
func BenchmarkServerReaders(b *testing.B) {
	for _, readers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) { benchReaders(b, readers) })
	}
}

func benchReaders(b *testing.B, readers int) {
	const (
		senders     = 4
		flowsPerSnd = 4
		batch       = 32
		window      = 4096 // in flight over all sockets: under 8 MiB of receive buffer
	)
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewManualReader()),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter),
	)
	defer mp.Shutdown(b.Context())
	br, err := otelbridge.New(mp)
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	var handled atomic.Int64
	srv := &statsd.Server{
		Readers:  readers,
		ErrorLog: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler: statsd.HandlerFunc(func(bt *statsd.Batch) {
			br.Handle(bt)
			handled.Add(int64(bt.Datagrams))
		}),
	}
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()

	// The datagrams: Gunicorn requests, prefix "myapp", a few status codes.
	e := statsdtest.NewEmitter(statsdtest.Config{Prefix: "myapp"}, nil)
	var msgs []ipv4.Message
	var dst [][]byte
	for i := range batch / 3 { // whole requests: 30 datagrams
		dst = e.AppendRequest(dst[:0], []int{200, 200, 200, 404, 500}[i%5], time.Duration(300+i*977)*time.Microsecond)
		for _, d := range dst {
			msgs = append(msgs, ipv4.Message{Buffers: [][]byte{append([]byte(nil), d...)}})
		}
	}
	conns := make([]*ipv4.PacketConn, senders*flowsPerSnd)
	for i := range conns {
		c, err := net.Dial("udp", addr.String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = ipv4.NewPacketConn(c.(*net.UDPConn))
	}

	var sent atomic.Int64
	total := int64(b.N)
	b.SetBytes(0)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var sendErr atomic.Value
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]ipv4.Message, len(msgs))
			copy(mine, msgs)
			for k := 0; ; k++ {
				n := int64(len(mine))
				at := sent.Add(n) - n
				if at >= total {
					return
				}
				n = min(n, total-at)
				for at-handled.Load() > window {
					runtime.Gosched()
				}
				c := conns[s*flowsPerSnd+k%flowsPerSnd]
				for m := mine[:n]; len(m) > 0; {
					w, err := c.WriteBatch(m, 0)
					if err != nil {
						sendErr.Store(err)
						return
					}
					m = m[w:]
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := sendErr.Load().(error); ok {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for handled.Load() < total {
		if time.Now().After(deadline) {
			b.Fatalf("handled %d of %d datagrams: lost (a receive buffer smaller than %d datagrams?)", handled.Load(), total, window)
		}
		time.Sleep(50 * time.Microsecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	st := srv.Stats()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "datagrams/s")
	b.ReportMetric(float64(st.Datagrams)/float64(st.Reads), "datagrams/read")
}

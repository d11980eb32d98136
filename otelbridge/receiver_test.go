package otelbridge

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

func newReceiver(t *testing.T, addr string, opts ...ListenOption) (*Receiver, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	r, err := Listen(addr, mp, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, reader
}

// sendAll writes n Gunicorn request triples (duration, requests, status) to
// the receiver and shuts it down at once: Shutdown must drain what the socket
// holds.
func sendAndShutdown(t *testing.T, r *Receiver, network, addr string, n int) {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		for _, d := range []string{
			fmt.Sprintf("app.gunicorn.request.duration:%d|ms", i%20),
			"app.gunicorn.requests:1|c|@1.0",
			"app.gunicorn.request.status.200:1|c|@1.0",
		} {
			if _, err := conn.Write([]byte(d)); err != nil {
				t.Fatal(err)
			}
		}
		if i%30 == 29 {
			// UDP drops what overflows the receive buffer: every 90
			// datagrams, let the server read what was sent so far (a
			// small buffer, without the privilege SO_RCVBUFFORCE needs,
			// holds a few hundred). The last ones are still queued at
			// Shutdown.
			if err := caughtUp(r, uint64(3*(i+1))); err != nil {
				t.Fatal(err)
			}
		}
	}
	conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// caughtUp waits, 10 s at most, until r's server has read sent datagrams,
// or the kernel says it dropped some (checkReceived then says how many).
func caughtUp(r *Receiver, sent uint64) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := r.Server().Stats()
		if st.Datagrams >= sent || st.KernelDrops > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server read %d of %d datagrams sent within 10 s", st.Datagrams, sent)
		}
		time.Sleep(time.Millisecond)
	}
}

func checkReceived(t *testing.T, r *Receiver, reader *sdkmetric.ManualReader, n int) {
	t.Helper()
	ms := metricsOf(collect(t, reader), ScopeName)
	equalMaps(t, "requests", sumValues(t, mustMetric(t, ms, mapper.NameRequests, "{request}"), true),
		map[string]float64{"app=app": float64(n)})
	equalMaps(t, "responses", sumValues(t, ms[mapper.NameResponses], true),
		map[string]float64{"app=app,http.response.status_code=int64:200": float64(n)})
	if dp := histPoints(t, ms[mapper.NameRequestDuration])["app=app"]; dp.Count != uint64(n) {
		t.Errorf("durations: %d, want %d", dp.Count, n)
	}
	if got := intSumValues(t, ms[MetricDatagrams])[""]; got != int64(3*n) {
		t.Errorf("%s = %d, want %d", MetricDatagrams, got, 3*n)
	}
	if got := intSumValues(t, ms[MetricServerBytes])[""]; got != int64(r.Server().Stats().Bytes) || got == 0 {
		t.Errorf("%s = %d, server says %d", MetricServerBytes, got, r.Server().Stats().Bytes)
	}
	if got, ok := intSumValues(t, ms[MetricServerKernelDrops])[""]; !ok || got != int64(r.Server().Stats().KernelDrops) {
		t.Errorf("%s = %d (reported: %v), server says %d", MetricServerKernelDrops, got, ok, r.Server().Stats().KernelDrops)
	}
	if st := r.Bridge().Stats(); st.Datagrams != uint64(3*n) || st.Recorded != uint64(3*n) || st.Rejected != 0 {
		t.Errorf("bridge stats %+v", st)
	}
}

func TestReceiverUDP(t *testing.T) {
	const n = 1000
	r, reader := newReceiver(t, "127.0.0.1:0")
	sendAndShutdown(t, r, "udp", r.Addr().String(), n)
	checkReceived(t, r, reader, n)
}

// TestReceiverUDPReaders: several server readers (one SO_REUSEPORT socket
// each on Linux) and several senders at once, then Shutdown.
func TestReceiverUDPReaders(t *testing.T) {
	const senders, n = 4, 300
	r, reader := newReceiver(t, "127.0.0.1:0", WithServer(&statsd.Server{Readers: 3}))
	var sent atomic.Uint64 // by all senders, counted after their writes
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := 0; i < senders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("udp", r.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			for j := 0; j < n; j++ {
				for _, d := range []string{
					fmt.Sprintf("app.gunicorn.request.duration:%d|ms", j%20),
					"app.gunicorn.requests:1|c|@1.0",
					"app.gunicorn.request.status.200:1|c|@1.0",
				} {
					if _, err := conn.Write([]byte(d)); err != nil {
						errs <- err
						return
					}
				}
				if j%30 == 29 {
					// As in sendAndShutdown, for all the senders.
					if err := caughtUp(r, sent.Add(90)); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkReceived(t, r, reader, senders*n)
}

func TestReceiverUnixgram(t *testing.T) {
	const n = 1000
	path := filepath.Join(t.TempDir(), "statsd.sock")
	r, reader := newReceiver(t, "unix:"+path)
	sendAndShutdown(t, r, "unixgram", path, n)
	checkReceived(t, r, reader, n)
}

func TestReceiverTCP(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	srv := &statsd.Server{Readers: 2}
	r, err := Listen("tcp://127.0.0.1:0", mp, WithServer(srv), WithMapper(&stubMapper{}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Server() != srv || srv.Handler != r.Bridge() {
		t.Fatal("WithServer not used")
	}
	conn, err := net.Dial("tcp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		fmt.Fprintf(conn, "lines:1|c\nlines:2|c|@0.5\n")
	}
	conn.Close()
	// The connection is closed by the client: wait until the server read it,
	// as Shutdown does not wait for a client's unsent data.
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().Datagrams < 200 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ms := metricsOf(collect(t, reader), ScopeName)
	equalMaps(t, "lines", sumValues(t, ms["lines"], true), map[string]float64{"": 500})
	if got := intSumValues(t, ms[MetricServerConnections])[""]; got != 1 {
		t.Errorf("connections %d", got)
	}
}

func TestListenErrors(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	if _, err := Listen("bogus://x", mp); err == nil {
		t.Error("bad address accepted")
	}
	if _, err := Listen("127.0.0.1:0", nil); err == nil {
		t.Error("nil provider accepted")
	}
	// The failed Listen left no callbacks behind.
	ms := metricsOf(collect(t, reader), ScopeName)
	if len(ms) != 0 {
		t.Errorf("metrics after failed Listen: %v", names(ms))
	}
}

// TestListenParser: the Server that Listen makes parses as WithParser says.
func TestListenParser(t *testing.T) {
	r, _ := newReceiver(t, "127.0.0.1:0", WithParser(statsd.Parser{NoInfluxDBTags: true}))
	if got := r.Server().Parser; !got.NoInfluxDBTags {
		t.Fatalf("the Server's Parser %+v, want NoInfluxDBTags", got)
	}
}

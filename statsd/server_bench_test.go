package statsd

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkServerUDP sends Gunicorn-like datagrams over loopback to a
// running Server and waits until each chunk is handled: the whole receive
// path, the sender's writes included. allocs/op counts every goroutine's.
func BenchmarkServerUDP(b *testing.B) {
	var handled atomic.Int64
	srv := &Server{ErrorLog: quietLog, Handler: HandlerFunc(func(bt *Batch) { handled.Add(int64(bt.Datagrams)) })}
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := []byte("shop.web.gunicorn.request.duration:1016.0360000000001|ms|#env:prod,team:web")
	const chunk = 512 // well under what the receive buffer holds
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		n := min(chunk, b.N-sent)
		for range n {
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
		sent += n
		deadline := time.Now().Add(5 * time.Second)
		for handled.Load() < int64(sent) {
			if time.Now().After(deadline) {
				b.Fatalf("handled %d of %d", handled.Load(), sent)
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	b.StopTimer()
	st := srv.Stats()
	b.ReportMetric(float64(st.Datagrams)/float64(st.Reads), "datagrams/read")
}

// BenchmarkServerTCP sends Gunicorn-like lines over one loopback TCP
// connection to a running Server, in writes of 64 lines, and waits until
// each chunk is handled. One op is one line.
func BenchmarkServerTCP(b *testing.B) {
	var handled atomic.Int64
	srv := &Server{ErrorLog: quietLog, Handler: HandlerFunc(func(bt *Batch) { handled.Add(int64(bt.Datagrams)) })}
	addr, err := srv.Start("tcp://127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	line := "shop.web.gunicorn.request.duration:1016.0360000000001|ms|#env:prod,team:web\n"
	const perWrite = 64
	var buf []byte
	for range perWrite {
		buf = append(buf, line...)
	}
	const chunk = 8 * perWrite
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		n := min(chunk, b.N-sent)
		for n > 0 {
			k := min(n, perWrite)
			if _, err := c.Write(buf[:k*len(line)]); err != nil {
				b.Fatal(err)
			}
			n -= k
			sent += k
		}
		deadline := time.Now().Add(5 * time.Second)
		for handled.Load() < int64(sent) {
			if time.Now().After(deadline) {
				b.Fatalf("handled %d of %d", handled.Load(), sent)
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	b.StopTimer()
	st := srv.Stats()
	b.ReportMetric(float64(st.Datagrams)/float64(st.Reads), "lines/read")
}

package statsdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/statsd"
)

func TestRecorderCopies(t *testing.T) {
	var r Recorder
	buf := []byte("a.b:1.5|ms|@0.5|#env:prod|c:cid|T1700000000\nset.x:member|s\nbad:1|q\ng:+3|g")
	var b statsd.Batch
	var p statsd.Parser
	p.Parse(&b, buf)
	r.Handle(&b)
	// Overwrite the source and the batch after Handle.
	for i := range buf {
		buf[i] = 'X'
	}
	b.Reset()

	want := []Sample{
		{Name: "a.b", Tags: "env:prod", ContainerID: "cid", Value: 1.5, Rate: 0.5, Timestamp: 1700000000, Type: statsd.Timer},
		{Name: "set.x", Member: "member", Rate: 1, Type: statsd.Set},
		{Name: "g", Value: 3, Rate: 1, Type: statsd.Gauge, Delta: true},
	}
	got := r.Samples()
	if len(got) != len(want) {
		t.Fatalf("samples = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sample %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	errs := r.Errors()
	if len(errs) != 1 || errs[0] != (Rejection{Reason: statsd.ReasonBadType, Line: "bad:1|q"}) {
		t.Errorf("errors = %+v", errs)
	}
	if s := errs[0].String(); s != "bad_type: bad:1|q" {
		t.Errorf("Rejection.String = %q", s)
	}
	if r.Datagrams() != 1 {
		t.Errorf("datagrams %d, want 1", r.Datagrams())
	}
	lines := r.Lines()
	wantLines := []string{"a.b:1.5|ms|@0.5|#env:prod|c:cid|T1700000000", "set.x:member|s", "g:+3|g"}
	if fmt.Sprint(lines) != fmt.Sprint(wantLines) {
		t.Errorf("Lines = %q, want %q", lines, wantLines)
	}

	// Accessors return copies.
	got[0].Name = "changed"
	if r.Samples()[0].Name != "a.b" {
		t.Error("Samples shares its slice with the Recorder")
	}

	r.Reset()
	if len(r.Samples()) != 0 || len(r.Errors()) != 0 || r.Datagrams() != 0 {
		t.Error("Reset left something")
	}
}

func TestHandlerSinkIntoRecorder(t *testing.T) {
	var r Recorder
	calls := 0 // one Handle call, one Batch, per datagram
	h := statsd.HandlerFunc(func(b *statsd.Batch) { calls++; r.Handle(b) })
	e := NewEmitter(Config{Version: gunicorn20_1, Prefix: "shop.web", Tags: "env:prod,team:web"}, HandlerSink(h))
	must(t, e.Request(404, 908*us))
	must(t, e.Workers(2))
	if r.Datagrams() != 4 || calls != 4 {
		t.Errorf("datagrams %d Handle calls %d, want 4 4", r.Datagrams(), calls)
	}
	want := []string{
		"shop.web.gunicorn.request.duration:0.908|ms|#env:prod,team:web",
		"shop.web.gunicorn.requests:1|c|#env:prod,team:web",
		"shop.web.gunicorn.request.status.404:1|c|#env:prod,team:web",
		"shop.web.gunicorn.workers:2|g|#env:prod,team:web",
	}
	if got := r.Lines(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Lines = %q\nwant %q", got, want)
	}
	if n := len(r.Errors()); n != 0 {
		t.Errorf("%d errors", n)
	}
}

// Every captured datagram parses without error, one sample each.
func TestReplayCapturesIntoRecorder(t *testing.T) {
	for _, name := range []string{"gunicorn-20.1-plain.statsd", "gunicorn-20.1-prefix-tags.statsd"} {
		var r Recorder
		d := readCapture(t, name)
		sink := HandlerSink(&r)
		for _, dg := range d {
			must(t, sink.WriteDatagram(dg))
		}
		if r.Datagrams() != len(d) || len(r.Samples()) != len(d) || len(r.Errors()) != 0 {
			t.Errorf("%s: %d datagrams, %d samples, %d errors; want %d, %d, 0",
				name, r.Datagrams(), len(r.Samples()), len(r.Errors()), len(d), len(d))
		}
	}
}

// A Handler that keeps views past Handle sees them poisoned.
func TestHandlerSinkPoisonsBuffer(t *testing.T) {
	var kept []byte
	s := HandlerSink(statsd.HandlerFunc(func(b *statsd.Batch) { kept = b.Samples[0].Name }))
	must(t, s.WriteDatagram([]byte("abc:1|c")))
	if string(kept) == "abc" {
		t.Error("buffer not overwritten after Handle")
	}
}

func TestRecorderConcurrent(t *testing.T) {
	var r Recorder
	const goroutines, requests = 8, 200
	sink := HandlerSink(&r)
	e := NewEmitter(Config{Prefix: "app"}, sink)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range requests {
				if err := e.Request(200+g, time.Duration(i)*us); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() { // a second emitter onto the same Recorder, its own sink
			defer wg.Done()
			e2 := NewEmitter(Config{}, HandlerSink(&r))
			for i := range requests {
				_ = e2.Log(LogError)
				_ = r.Datagrams()
				if i%20 == 0 { // reads race with writes, without copying O(n²) samples
					_ = r.Samples()
				}
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := goroutines * requests * 4
	got, err := r.WaitFor(ctx, want)
	if err != nil || len(got) < want {
		t.Fatalf("WaitFor: %d samples, %v", len(got), err)
	}
	wg.Wait()
	if n := len(r.Samples()); n != want {
		t.Errorf("%d samples, want %d", n, want)
	}
	if r.Datagrams() != want {
		t.Errorf("%d datagrams, want %d", r.Datagrams(), want)
	}
	// Each request's three datagrams arrive together and in order (the
	// other emitter's may come between them: it has its own Sink).
	var s []Sample
	for _, x := range r.Samples() {
		if x.Name != "gunicorn.log.error" {
			s = append(s, x)
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i].Name == "app.gunicorn.request.duration" {
			if i+2 >= len(s) || s[i+1].Name != "app.gunicorn.requests" || s[i+2].Name[:len("app.gunicorn.request.status.")] != "app.gunicorn.request.status." {
				t.Fatalf("request datagrams interleaved at %d", i)
			}
		}
	}
}

func TestRecorderWaitForTimeout(t *testing.T) {
	var r Recorder
	NewEmitter(Config{}, HandlerSink(&r)).Log(LogWarning)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	got, err := r.WaitFor(ctx, 2)
	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 1 {
		t.Errorf("WaitFor = %d samples, %v", len(got), err)
	}
	got, err = r.WaitFor(context.Background(), 1)
	if err != nil || len(got) != 1 {
		t.Errorf("WaitFor(1) = %d samples, %v", len(got), err)
	}
}

type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	w.Buffer.Write(p)
	return len(p), nil
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) - 1, nil }

func TestWriterSink(t *testing.T) {
	var w countingWriter
	e := NewEmitter(Config{}, WriterSink(&w))
	must(t, e.Request(200, 550*us))
	if w.writes != 3 {
		t.Errorf("%d writes, want 3", w.writes)
	}
	want := "gunicorn.request.duration:0.55|ms" + "gunicorn.requests:1|c|@1.0" + "gunicorn.request.status.200:1|c|@1.0"
	if w.String() != want {
		t.Errorf("wrote %q", w.String())
	}
	if err := WriterSink(shortWriter{}).WriteDatagram([]byte("x:1|c")); err != io.ErrShortWrite {
		t.Errorf("short write: %v", err)
	}
}

func readDatagrams(t *testing.T, c net.PacketConn, n int) []string {
	t.Helper()
	must(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	var out []string
	buf := make([]byte, 65536)
	for range n {
		k, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("ReadFrom: %v", err)
		}
		out = append(out, string(buf[:k]))
	}
	return out
}

func TestDialUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no UDP:", err)
	}
	defer pc.Close()
	for _, addr := range []string{pc.LocalAddr().String(), "udp://" + pc.LocalAddr().String()} {
		conn, err := Dial(addr)
		if err != nil {
			t.Fatalf("Dial(%q): %v", addr, err)
		}
		e := NewEmitter(Config{Version: gunicorn20_1, Prefix: "shop.web", Tags: "env:prod"}, WriterSink(conn))
		must(t, e.Request(201, 241*us))
		conn.Close()
		got := readDatagrams(t, pc, 3)
		want := []string{
			"shop.web.gunicorn.request.duration:0.241|ms|#env:prod",
			"shop.web.gunicorn.requests:1|c|@1.0|#env:prod",
			"shop.web.gunicorn.request.status.201:1|c|@1.0|#env:prod",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %q", addr, got)
		}
	}
}

func TestDialUnixgram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Skip("no unixgram:", err)
	}
	defer pc.Close()
	for _, addr := range []string{"unixgram://" + path, "unix:" + path, "unix://" + path} {
		conn, err := Dial(addr)
		if err != nil {
			t.Fatalf("Dial(%q): %v", addr, err)
		}
		must(t, NewEmitter(Config{}, WriterSink(conn)).Workers(4))
		conn.Close()
		if got := readDatagrams(t, pc, 1); got[0] != "gunicorn.workers:4|g" {
			t.Errorf("%s: got %q", addr, got)
		}
	}
}

func TestSplitAddr(t *testing.T) {
	for _, tt := range []struct{ in, network, address string }{
		{"localhost:8125", "udp", "localhost:8125"},
		{"udp://10.0.0.1:9125", "udp", "10.0.0.1:9125"},
		{"statsd", "udp", "statsd:8125"},
		{"udp://[::1]:8125", "udp", "[::1]:8125"},
		{"unix:/run/s", "unixgram", "/run/s"},
		{"unix:///run/s", "unixgram", "/run/s"},
		{"unixgram:///run/s", "unixgram", "/run/s"},
		{"unix:rel/s", "unixgram", "rel/s"},
	} {
		n, a, err := splitAddr(tt.in)
		if err != nil || n != tt.network || a != tt.address {
			t.Errorf("splitAddr(%q) = %q %q %v", tt.in, n, a, err)
		}
	}
	for _, bad := range []string{"tcp://x:1", "unix:", "udp://"} {
		if _, err := Dial(bad); err == nil {
			t.Errorf("Dial(%q): no error", bad)
		}
	}
}

package statsd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recording is a Handler that copies what it is given, as text.
type recording struct {
	mu        sync.Mutex
	samples   []string // "name:value|type" and "|#tags" when present
	errs      []string // "reason: line"
	datagrams int
	calls     int
}

func (r *recording) Handle(b *Batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.datagrams += b.Datagrams
	for i := range b.Samples {
		smp := &b.Samples[i]
		line := fmt.Sprintf("%s:%v|%s", smp.Name, smp.Value, smp.Type.Symbol())
		if len(smp.Tags) > 0 {
			line += "|#" + string(smp.Tags)
		}
		r.samples = append(r.samples, line)
	}
	for _, e := range b.Errors {
		r.errs = append(r.errs, e.Reason.String()+": "+string(e.Line))
	}
}

func (r *recording) snapshot() (samples, errs []string, datagrams int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.samples), slices.Clone(r.errs), r.datagrams
}

// quietLog discards the server's log in tests.
var quietLog = slog.New(slog.DiscardHandler)

// logRecords is an slog.Handler that keeps the records it is given, as
// their message and attributes.
type logRecords struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	msg   string
	attrs map[string]string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return nil
}

// matching returns the records whose message holds substr.
func (l *logRecords) matching(substr string) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRecord
	for _, r := range l.recs {
		if strings.Contains(r.msg, substr) {
			out = append(out, r)
		}
	}
	return out
}

func shutdown(t testing.TB, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func hasIPv6Loopback() bool {
	c, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// The datagrams every packet transport is sent, and what must arrive.
var (
	packetDatagrams = []string{
		"gunicorn.requests:1|c|@1.0",
		"a:1|c\nb:2|g\nbad\nc:3.5|ms",
		"x:1|zz",
		"shop.web.gunicorn.workers:2|g|#env:prod,team",
		"",
		"p:1:2|h\n",
	}
	packetSamples = []string{
		"gunicorn.requests:1|c",
		"a:1|c", "b:2|g", "c:3.5|ms",
		"shop.web.gunicorn.workers:2|g|#env:prod,team",
		"p:1|h", "p:2|h",
	}
	packetErrors = []string{"malformed_line: bad", "bad_type: x:1|zz"}
)

func TestServerPacketTransports(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, addr string
		dial       func(a net.Addr) (net.Conn, error)
	}{
		{"udp4", "127.0.0.1:0", nil},
		{"udp-scheme", "udp://127.0.0.1:0", nil},
		{"udp6", "udp://[::1]:0", nil},
		{"unixgram", "unixgram://" + filepath.Join(dir, "a.sock"), nil},
		{"unix-gunicorn", "unix:" + filepath.Join(dir, "b.sock"), nil},
		{"unix-gunicorn-slashes", "unix://" + filepath.Join(dir, "c.sock"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "udp6" && !hasIPv6Loopback() {
				t.Skip("no IPv6 loopback")
			}
			rec := &recording{}
			srv := &Server{Handler: rec, ErrorLog: quietLog}
			addr, err := srv.Start(tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial(addr.Network(), addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			nbytes := 0
			for _, d := range packetDatagrams {
				if _, err := c.Write([]byte(d)); err != nil {
					t.Fatal(err)
				}
				nbytes += len(d)
			}
			shutdown(t, srv)

			samples, errs, datagrams := rec.snapshot()
			if !slices.Equal(samples, packetSamples) {
				t.Errorf("samples:\n got %q\nwant %q", samples, packetSamples)
			}
			if !slices.Equal(errs, packetErrors) {
				t.Errorf("errors: got %q, want %q", errs, packetErrors)
			}
			if datagrams != len(packetDatagrams) {
				t.Errorf("datagrams: got %d, want %d", datagrams, len(packetDatagrams))
			}
			st := srv.Stats()
			if st.Datagrams != uint64(len(packetDatagrams)) || st.Samples != uint64(len(packetSamples)) ||
				st.Bytes != uint64(nbytes) ||
				st.Errors != [NumReasons]uint64{ReasonMalformedLine: 1, ReasonBadType: 1} ||
				st.Reads == 0 || st.Reads > uint64(len(packetDatagrams)) || st.ReadErrors != 0 {
				t.Errorf("stats: %+v", st)
			}
			if u, ok := addr.(*net.UnixAddr); ok {
				if _, err := os.Lstat(u.Name); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("socket file %s left after Shutdown: %v", u.Name, err)
				}
			}
		})
	}
}

func TestServerTCP(t *testing.T) {
	rec := &recording{}
	srv := &Server{Handler: rec, ErrorLog: quietLog, Parser: Parser{MaxLineLength: 32}}
	addr, err := srv.Start("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	long := "long.name:" + strings.Repeat("9", 100) + "|c"
	exact := "e." + strings.Repeat("x", 26) + ":1|c" // 32 bytes: accepted
	input := "gunicorn.requests:1|c|@1.0\r\n" +
		"\n" + // blank: not counted
		"bad\n" +
		long + "\n" +
		exact + "\n" +
		"after.long:2|g|#env:prod\n" +
		"last:3|ms" // no newline: parsed when the connection ends

	// Once in one write, once byte by byte (lines split across reads).
	for _, byteWise := range []bool{false, true} {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		if byteWise {
			for i := 0; i < len(input); i++ {
				if _, err := c.Write([]byte{input[i]}); err != nil {
					t.Fatal(err)
				}
			}
		} else if _, err := io.WriteString(c, input); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite() // half-close: the server reads to EOF and ends it
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("read after half-close: %v, want EOF (server closed its side)", err)
		}
		c.Close()
	}
	// A third connection left open: Shutdown drains it.
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "open:1|c\nopen:2|c\n"); err != nil {
		t.Fatal(err)
	}
	// Connections still in the listen queue at Shutdown are not served.
	waitFor(t, func() bool { return srv.Stats().TCPConnections == 3 })
	shutdown(t, srv)

	one := []string{"gunicorn.requests:1|c", exact, "after.long:2|g|#env:prod", "last:3|ms"}
	wantSamples := slices.Concat(one, one, []string{"open:1|c", "open:2|c"})
	oneErr := []string{"malformed_line: bad", "too_long: " + long[:32]}
	wantErrs := slices.Concat(oneErr, oneErr)
	samples, errs, datagrams := rec.snapshot()
	if !slices.Equal(samples, wantSamples) {
		t.Errorf("samples:\n got %q\nwant %q", samples, wantSamples)
	}
	if !slices.Equal(errs, wantErrs) {
		t.Errorf("errors:\n got %q\nwant %q", errs, wantErrs)
	}
	if want := 2*6 + 2; datagrams != want {
		t.Errorf("lines: got %d, want %d", datagrams, want)
	}
	st := srv.Stats()
	if st.Datagrams != 14 || st.Samples != 10 || st.Bytes != uint64(2*len(input)+18) ||
		st.Errors[ReasonTooLong] != 2 || st.Errors[ReasonMalformedLine] != 2 ||
		st.TCPConnections != 3 || st.TCPConnectionsOpen != 0 || st.TCPConnectionsEvicted != 0 || st.TCPConnectionsIdleClosed != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestServerTCPBatchesBufferedLines(t *testing.T) {
	rec := &recording{}
	srv := &Server{Handler: rec, ErrorLog: quietLog}
	addr, err := srv.Start("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for i := range 200 {
		fmt.Fprintf(&sb, "m%d:1|c\n", i)
	}
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, sb.String())
	c.Close()
	waitFor(t, func() bool { return srv.Stats().TCPConnections == 1 })
	shutdown(t, srv)
	samples, _, _ := rec.snapshot()
	if len(samples) != 200 {
		t.Fatalf("got %d samples, want 200", len(samples))
	}
	if rec.calls >= 200 {
		t.Errorf("%d Handler calls for 200 lines sent at once: not batched", rec.calls)
	}
}

// sendAndShutdown sends n datagrams, then calls Shutdown at once, and checks
// that all n were handled.
func sendAndShutdown(t *testing.T, srv *Server, listen string, n int) {
	var got atomic.Int64
	srv.Handler = HandlerFunc(func(b *Batch) { got.Add(int64(len(b.Samples))) })
	srv.ErrorLog = quietLog
	addr, err := srv.Start(listen)
	if err != nil {
		t.Fatal(err)
	}
	if addr.Network() == "udp" {
		// A UDP sender never waits: send no more than the receive buffer
		// surely holds (a small datagram takes under 2 KiB of it), in case
		// the reader is slow to run. With SO_RCVBUFFORCE or a large
		// net.core.rmem_max that is all n.
		if most := receiveBuffer(t, srv) / 2048; most < n {
			t.Logf("receive buffer %d bytes: sending %d datagrams, not %d", receiveBuffer(t, srv), most, n)
			n = most
		}
	}
	c, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte("gunicorn.request.duration:1016.0360000000001|ms|#env:prod")
	for i := 0; i < n; i++ {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	shutdown(t, srv)
	if got.Load() != int64(n) {
		t.Fatalf("handled %d of %d datagrams (stats %+v)", got.Load(), n, srv.Stats())
	}
	if st := srv.Stats(); st.Datagrams != uint64(n) {
		t.Errorf("Stats.Datagrams = %d, want %d", st.Datagrams, n)
	}
}

func TestShutdownDrainsUDP(t *testing.T) {
	sendAndShutdown(t, &Server{}, "127.0.0.1:0", 5000)
}

func TestShutdownDrainsUnixgram(t *testing.T) {
	sendAndShutdown(t, &Server{}, "unix:"+filepath.Join(t.TempDir(), "s.sock"), 5000)
}

func TestShutdownDrainsUDPReusePort(t *testing.T) {
	srv := &Server{Readers: 3}
	sendAndShutdown(t, srv, "127.0.0.1:0", 3000)
}

func TestReadersReusePort(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_REUSEPORT sockets per reader on Linux only")
	}
	var got atomic.Int64
	srv := &Server{Readers: 4, ErrorLog: quietLog,
		Handler: HandlerFunc(func(b *Batch) { got.Add(int64(len(b.Samples))) })}
	addr, err := srv.Start("udp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	nsock := len(srv.packets)
	srv.mu.Unlock()
	if nsock != 4 {
		t.Fatalf("%d sockets for 4 readers, want 4", nsock)
	}
	// Many source ports, so the kernel spreads them over the sockets.
	const senders, each = 32, 10
	for range senders {
		c, err := net.Dial("udp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		for range each {
			c.Write([]byte("r:1|c"))
		}
		c.Close()
	}
	shutdown(t, srv)
	if got.Load() != senders*each {
		t.Fatalf("handled %d, want %d", got.Load(), senders*each)
	}
}

func TestUnixgramReadersShareSocket(t *testing.T) {
	srv := &Server{Readers: 3}
	sendAndShutdown(t, srv, "unixgram://"+filepath.Join(t.TempDir(), "s.sock"), 2000)
}

func TestUnixgramSocketFile(t *testing.T) {
	dir := t.TempDir()

	t.Run("stale socket replaced", func(t *testing.T) {
		path := filepath.Join(dir, "stale.sock")
		old, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		old.Close() // a unixgram socket leaves its file behind, as after a crash
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("no stale file to test with: %v", err)
		}
		srv := &Server{ErrorLog: quietLog, SocketMode: 0o640}
		if _, err := srv.Start("unix://" + path); err != nil {
			t.Fatalf("Start over a stale socket: %v", err)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o640 {
			t.Errorf("socket file mode %v, want socket 0640", fi.Mode())
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket file left after Close: %v", err)
		}
	})

	t.Run("default mode", func(t *testing.T) {
		path := filepath.Join(dir, "mode.sock")
		srv := &Server{ErrorLog: quietLog}
		if _, err := srv.Start("unixgram://" + path); err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != DefaultSocketMode {
			t.Errorf("mode %v, want %v", fi.Mode().Perm(), DefaultSocketMode)
		}
	})

	t.Run("regular file refused", func(t *testing.T) {
		path := filepath.Join(dir, "regular")
		if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		srv := &Server{ErrorLog: quietLog}
		_, err := srv.Start("unix:" + path)
		if err == nil || !strings.Contains(err.Error(), "not a socket") || !strings.Contains(err.Error(), path) {
			t.Fatalf("Start over a regular file: %v, want a 'not a socket' error naming it", err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
			t.Fatalf("regular file changed: %q, %v", b, err)
		}
	})

	t.Run("socket in use refused", func(t *testing.T) {
		path := filepath.Join(dir, "busy.sock")
		first := &Server{ErrorLog: quietLog}
		if _, err := first.Start("unix:" + path); err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		second := &Server{ErrorLog: quietLog}
		if _, err := second.Start("unix:" + path); err == nil || !strings.Contains(err.Error(), "in use") {
			t.Fatalf("second Start: %v, want 'in use'", err)
		}
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("first server's socket removed: %v", err)
		}
	})
}

// startUDP starts srv on a loopback UDP port and returns a connection to it,
// closed when the test ends.
func startUDP(t *testing.T, srv *Server) net.Conn {
	t.Helper()
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 5 s")
}

func TestConcurrentListenAndServe(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	rec := &recording{}
	srv := &Server{Handler: rec, ErrorLog: quietLog}
	errs := make(chan error, 2)
	for _, p := range []string{a, b} {
		go func() { errs <- srv.ListenAndServe("unix:" + p) }()
	}
	for _, p := range []string{a, b} {
		var c net.Conn
		waitFor(t, func() bool {
			var err error
			c, err = net.Dial("unixgram", p)
			return err == nil
		})
		c.Write([]byte(filepath.Base(p) + ":1|c"))
		c.Close()
	}
	shutdown(t, srv)
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("ListenAndServe returned %v, want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("ListenAndServe did not return after Shutdown")
		}
	}
	samples, _, _ := rec.snapshot()
	slices.Sort(samples)
	if want := []string{"a.sock:1|c", "b.sock:1|c"}; !slices.Equal(samples, want) {
		t.Errorf("samples %q, want %q", samples, want)
	}
	if st := srv.Stats(); st.Datagrams != 2 {
		t.Errorf("shared stats: %+v", st)
	}
}

func TestShutdownCloseIdempotent(t *testing.T) {
	srv := &Server{ErrorLog: quietLog}
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				srv.Close()
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := srv.Shutdown(ctx); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
	shutdown(t, srv)
	if err := srv.ListenAndServe("127.0.0.1:0"); !errors.Is(err, ErrServerClosed) {
		t.Errorf("ListenAndServe after Close: %v", err)
	}
	if _, err := srv.Start("127.0.0.1:0"); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Start after Close: %v", err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(pc); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
}

func TestServeAndServeListener(t *testing.T) {
	rec := &recording{}
	srv := &Server{Handler: rec, ErrorLog: quietLog}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- srv.Serve(pc) }()
	go func() { errs <- srv.ServeListener(l) }()
	u, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	tc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	u.Write([]byte("u:1|c"))
	io.WriteString(tc, "t:1|c\n")
	waitFor(t, func() bool { return srv.Stats().Datagrams == 2 })
	shutdown(t, srv)
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrServerClosed) {
			t.Errorf("got %v, want ErrServerClosed", err)
		}
	}
	samples, _, _ := rec.snapshot()
	slices.Sort(samples)
	if want := []string{"t:1|c", "u:1|c"}; !slices.Equal(samples, want) {
		t.Errorf("samples %q, want %q", samples, want)
	}
}

func TestShutdownContextDone(t *testing.T) {
	release := make(chan struct{})
	srv := &Server{ErrorLog: quietLog, Handler: HandlerFunc(func(*Batch) { <-release })}
	defer close(release)
	c := startUDP(t, srv)
	c.Write([]byte("a:1|c"))
	waitFor(t, func() bool { return srv.Stats().Datagrams == 1 }) // the handler is blocked
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a stuck handler: %v, want DeadlineExceeded", err)
	}
}

func TestAddressErrors(t *testing.T) {
	srv := &Server{ErrorLog: quietLog}
	defer srv.Close()
	for _, addr := range []string{"http://127.0.0.1:1", "udp://", "unix:", "some/path", "127.0.0.1"} {
		_, err := srv.Start(addr)
		if err == nil {
			t.Errorf("Start(%q): no error", addr)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", addr)) {
			t.Errorf("Start(%q): error %q does not name the address", addr, err)
		}
	}
	// A listen error wraps the net error.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = srv.Start("tcp://" + l.Addr().String())
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("Start on a busy port: %v, want a wrapped *net.OpError", err)
	}
}

func TestSplitAddr(t *testing.T) {
	for _, tc := range []struct{ in, network, rest string }{
		{"", "udp", ":8125"},
		{"localhost:8125", "udp", "localhost:8125"},
		{"udp://[::1]:8125", "udp", "[::1]:8125"},
		{"udp6://[::1]:8125", "udp6", "[::1]:8125"},
		{"unixgram:///run/s.sock", "unixgram", "/run/s.sock"},
		{"unix:/run/s.sock", "unixgram", "/run/s.sock"},
		{"unix:///run/s.sock", "unixgram", "/run/s.sock"},
		{"unix://rel/s.sock", "unixgram", "rel/s.sock"},
		{"tcp://127.0.0.1:8125", "tcp", "127.0.0.1:8125"},
	} {
		n, r, err := splitAddr(tc.in)
		if err != nil || n != tc.network || r != tc.rest {
			t.Errorf("splitAddr(%q) = %q, %q, %v; want %q, %q", tc.in, n, r, err, tc.network, tc.rest)
		}
	}
}

// A datagram over MaxDatagramSize is rejected, counted, and logged: once,
// however many come.
func TestTruncatedDatagram(t *testing.T) {
	rec := &recording{}
	logs := &logRecords{}
	srv := &Server{Handler: rec, ErrorLog: slog.New(logs), MaxDatagramSize: 16}
	c := startUDP(t, srv)
	c.Write([]byte("a.very.long.name:1|c"))
	waitFor(t, func() bool { return srv.Stats().Datagrams == 1 })
	c.Write([]byte("ok:1|c"))
	c.Write([]byte("another.long.one:1|c"))
	shutdown(t, srv)
	samples, errs, datagrams := rec.snapshot()
	if want := []string{"too_long: a.very.long.name", "too_long: another.long.one"}; !slices.Equal(errs, want) {
		t.Errorf("errors %q, want %q", errs, want)
	}
	if want := []string{"ok:1|c"}; !slices.Equal(samples, want) || datagrams != 3 {
		t.Errorf("samples %q (%d datagrams), want %q", samples, datagrams, want)
	}
	if st := srv.Stats(); st.Errors[ReasonTooLong] != 2 {
		t.Errorf("too_long count %d, want 2", st.Errors[ReasonTooLong])
	}
	recs := logs.matching("too_long")
	if len(recs) != 1 || recs[0].attrs["max_datagram_size"] != "16" || recs[0].attrs["too_long_total"] != "1" ||
		recs[0].attrs["line_start"] != "a.very.long.name" {
		t.Errorf("log records: %+v, want one", recs)
	}
}

package statsd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// closedByServer reports whether the server closed c: a read finds EOF (or
// a reset) within 5 s, rather than timing out.
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET)
}

// stillOpen reports whether c is still open at the server: a read waits
// (the server never writes) rather than finding EOF.
func stillOpen(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// At the connection limit a new connection is admitted, and the one idle
// longest closed: one that has sent nothing goes first, then the one whose
// last line is oldest. What it had sent is kept.
func TestMaxConnsEvictsIdlest(t *testing.T) {
	rec := &recording{}
	logs := &logRecords{}
	srv := &Server{MaxConns: 2, Handler: rec, ErrorLog: slog.New(logs)}
	addr, err := srv.Start("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	sent := 0
	send := func(c net.Conn, line string) {
		t.Helper()
		if _, err := io.WriteString(c, line); err != nil {
			t.Fatal(err)
		}
		sent++
		waitFor(t, func() bool { return srv.Stats().Datagrams == uint64(sent) })
	}

	a := dial()
	send(a, "a:1|c\n")
	b := dial() // sends nothing
	waitFor(t, func() bool { return srv.Stats().TCPConnectionsOpen == 2 })

	// c is admitted, b (silent) goes although a is older.
	c := dial()
	if !closedByServer(t, b) {
		t.Fatal("the silent connection was not closed to admit a new one")
	}
	if !stillOpen(a) {
		t.Fatal("the older connection that had sent a line was closed, not the silent one")
	}
	send(c, "c:1|c\n")
	// An unfinished line from a, then a line from c: a's last data is now
	// older than c's, and d's arrival closes a.
	if _, err := io.WriteString(a, "a:2|c"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.Stats().Bytes == uint64(len("a:1|c\nc:1|c\na:2|c")) })
	send(c, "c:2|c\n")
	d := dial()
	if !closedByServer(t, a) {
		t.Fatal("the connection idle longest was not closed")
	}
	if !stillOpen(c) {
		t.Fatal("the connection active last was closed")
	}
	sent++ // a's unfinished "a:2|c", parsed as it was closed
	send(d, "d:1|c\n")

	waitFor(t, func() bool { return srv.Stats().TCPConnectionsOpen == 2 })
	st := srv.Stats()
	if st.TCPConnections != 4 || st.TCPConnectionsEvicted != 2 || st.TCPConnectionsIdleClosed != 0 || st.Datagrams != uint64(sent) {
		t.Errorf("stats: %+v", st)
	}
	samples, _, _ := rec.snapshot()
	slices.Sort(samples)
	if want := []string{"a:1|c", "a:2|c", "c:1|c", "c:2|c", "d:1|c"}; !slices.Equal(samples, want) {
		t.Errorf("samples %q, want %q", samples, want)
	}
	// Two evictions, one log record (at most one a minute).
	recs := logs.matching("connection limit reached")
	if len(recs) != 1 || recs[0].attrs["max_conns"] != "2" || recs[0].attrs["evicted_total"] != "1" {
		t.Errorf("log records about the limit: %+v, want one", recs)
	}
}

// Idle connections over the default limit (1,024) cannot lock a sender out:
// 1,100 are held open, then a new sender's lines all arrive.
func TestIdleConnectionsDoNotLockSenderOut(t *testing.T) {
	const idle = 1100
	raiseOpenFiles(t, 2*idle+16) // both ends of each connection
	rec := &recording{}
	srv := &Server{Handler: rec, ErrorLog: quietLog}
	addr, err := srv.Start("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	held := make([]net.Conn, 0, idle)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range idle {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	waitFor(t, func() bool { return srv.Stats().TCPConnections == idle })

	sender, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	var want []string
	var sb strings.Builder
	for i := range 100 {
		fmt.Fprintf(&sb, "sender.line%d:%d|c\n", i, i)
		want = append(want, fmt.Sprintf("sender.line%d:%d|c", i, i))
	}
	if _, err := io.WriteString(sender, sb.String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.Stats().Samples == uint64(len(want)) })
	samples, errs, _ := rec.snapshot()
	if !slices.Equal(samples, want) || len(errs) != 0 {
		t.Errorf("the sender's lines: got %d samples (%q...), %d errors; want %d", len(samples), samples[:min(3, len(samples))], len(errs), len(want))
	}
	waitFor(t, func() bool { return srv.Stats().TCPConnectionsOpen == DefaultMaxConns })
	if st := srv.Stats(); st.TCPConnectionsEvicted != idle+1-DefaultMaxConns {
		t.Errorf("evicted %d, want %d", st.TCPConnectionsEvicted, idle+1-DefaultMaxConns)
	}
	// The oldest idle connections went first; the newest are still open.
	if !closedByServer(t, held[0]) || !stillOpen(held[idle-1]) {
		t.Error("not the oldest idle connections were closed")
	}
}

// A connection that sends nothing for IdleTimeout is closed, its unfinished
// line kept; one that keeps sending is not.
func TestIdleTimeout(t *testing.T) {
	rec := &recording{}
	logs := &logRecords{}
	srv := &Server{IdleTimeout: time.Second, Handler: rec, ErrorLog: slog.New(logs)}
	addr, err := srv.Start("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	quiet, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	busy, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := io.WriteString(quiet, "quiet:1|c\nunfinished:2|g"); err != nil {
		t.Fatal(err)
	}
	// busy sends a line every 100 ms for 2.2 s: more than twice the idle
	// timeout in all, never more than a tenth of it apart.
	start := time.Now()
	for i := 0; time.Since(start) < 2200*time.Millisecond; i++ {
		if _, err := fmt.Fprintf(busy, "busy:%d|c\n", i); err != nil {
			t.Fatalf("busy connection, write %d: %v", i, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !closedByServer(t, quiet) {
		t.Fatal("the idle connection is still open")
	}
	if !stillOpen(busy) {
		t.Fatal("the busy connection was closed")
	}
	samples, _, _ := rec.snapshot()
	if !slices.Contains(samples, "quiet:1|c") || !slices.Contains(samples, "unfinished:2|g") {
		t.Errorf("the idle connection's lines are missing: %q", samples)
	}
	st := srv.Stats()
	if st.TCPConnectionsIdleClosed != 1 || st.TCPConnectionsEvicted != 0 || st.TCPConnectionsOpen != 1 {
		t.Errorf("stats: %+v", st)
	}
	if recs := logs.matching("idle for longer than IdleTimeout"); len(recs) != 1 || recs[0].attrs["idle_timeout"] != "1s" {
		t.Errorf("log records: %+v, want one", recs)
	}
}

// Shutdown still drains a connection that the idle timeout re-arms its
// deadline for (the re-arming must not undo Shutdown's wake-up).
func TestShutdownDrainsWithIdleTimeout(t *testing.T) {
	// A Unix stream socket: a write returns once its data is queued on the
	// server's side, so everything written is there to drain when Shutdown
	// starts (over loopback TCP the kernel may still be delivering it on a
	// loaded machine).
	dir := t.TempDir()
	for i := range 20 {
		rec := &recording{}
		srv := &Server{IdleTimeout: time.Hour, Handler: rec, ErrorLog: quietLog}
		ln, err := net.Listen("unix", filepath.Join(dir, fmt.Sprintf("s%d.sock", i)))
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.ServeListener(ln) }()
		c, err := net.Dial("unix", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			fmt.Fprintf(c, "l%d:1|c\n", i)
		}
		io.WriteString(c, "last:1|c")
		waitFor(t, func() bool { return srv.Stats().TCPConnections == 1 })
		shutdown(t, srv)
		<-served
		c.Close()
		if samples, _, _ := rec.snapshot(); len(samples) != 51 {
			t.Fatalf("handled %d lines of 51", len(samples))
		}
	}
}

// FuzzStreamFraming feeds a stream connection's line framing input cut into
// reads of any sizes. Whatever the cuts, it must give what the input's lines
// give one by one: blank lines skipped, a line over the limit rejected as
// too_long with its first max bytes, the unfinished last line parsed at the
// end.
func FuzzStreamFraming(f *testing.F) {
	f.Add([]byte("a:1|c\r\n\nbad\nlong.name:99999999999999|c\nx:1|g"), []byte{3, 1, 40})
	f.Add([]byte("0123456789abcdef\r\n0123456789abcdefg\r\nz:1|c"), []byte{17, 1, 1, 18})
	f.Add([]byte(strings.Repeat("y", 40)+"\n:1|c"), []byte{20, 20, 20})
	const limit = 16
	f.Fuzz(func(t *testing.T, input, cuts []byte) {
		want := &recording{}
		for _, line := range bytes.Split(input, []byte("\n")) {
			line = bytes.TrimSuffix(line, []byte("\r"))
			var b Batch
			switch {
			case len(line) == 0:
				continue
			case len(line) > limit:
				rejectTooLong(&b, line[:limit])
			default:
				(&Parser{MaxLineLength: limit}).Parse(&b, line)
			}
			want.Handle(&b)
		}

		got := &recording{}
		srv := &Server{Handler: got, ErrorLog: quietLog}
		c := &streamConn{s: srv, max: limit, buf: make([]byte, streamBufferMin), parser: Parser{MaxLineLength: limit}}
		for i := 0; len(input) > 0; i++ {
			n := 1
			if len(cuts) > 0 {
				n = max(1, int(cuts[i%len(cuts)]))
			}
			n = min(n, len(input), len(c.buf)-c.w)
			if n == 0 {
				t.Fatalf("buffer full: %d bytes unparsed", c.w)
			}
			c.w += copy(c.buf[c.w:], input[:n])
			input = input[n:]
			c.process(n, false)
			if c.w > limit+1 {
				t.Fatalf("%d bytes left unparsed after a pass, more than max+1", c.w)
			}
		}
		c.process(0, true)

		ws, we, wd := want.snapshot()
		gs, ge, gd := got.snapshot()
		if !slices.Equal(gs, ws) || !slices.Equal(ge, we) || gd != wd {
			t.Fatalf("cut into reads:\n samples %q\n errors %q\n lines %d\nline by line:\n samples %q\n errors %q\n lines %d", gs, ge, gd, ws, we, wd)
		}
	})
}

// failingListener fails its first fails Accepts, then waits for Close.
type failingListener struct {
	fails  int
	closed chan struct{}
	once   sync.Once
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, syscall.EMFILE
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *failingListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *failingListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// Failed accepts are counted each, and logged once a minute at most, with
// their count.
func TestAcceptFailuresLoggedOnce(t *testing.T) {
	logs := &logRecords{}
	srv := &Server{ErrorLog: slog.New(logs)}
	l := &failingListener{fails: 3, closed: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(l) }()
	waitFor(t, func() bool { return srv.Stats().ReadErrors == 3 })
	shutdown(t, srv)
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("ServeListener: %v", err)
	}
	recs := logs.matching("accept failed")
	if len(recs) != 1 || recs[0].attrs["read_errors_total"] != "1" || !strings.Contains(recs[0].attrs["err"], "too many open files") {
		t.Errorf("log records: %+v, want one", recs)
	}
}

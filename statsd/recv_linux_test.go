//go:build linux

package statsd

import (
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The batch read path (recvmmsg, parse, Handle) allocates nothing per read
// once the reader exists, with the kernel's drop count in every read.
func TestMmsgReaderAllocatesNothing(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	samples := 0
	srv := &Server{ErrorLog: quietLog, Handler: HandlerFunc(func(b *Batch) { samples += len(b.Samples) })}
	ps, err := srv.newPacketSock(conn, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.close()
	cfg := srv.config()
	r := newMmsgReader(srv, ps, &cfg)

	c, err := net.Dial("udp", conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Overflow a small buffer once: from then on each datagram carries the
	// socket's drop count.
	udp := conn.(*net.UDPConn)
	udp.SetReadBuffer(4096)
	for range 200 {
		c.Write([]byte("x:1|c"))
	}
	for r.nonblock = true; ; {
		if err := ps.rc.Read(r.recvFn); err != nil || r.errno != 0 || r.n == 0 {
			break
		}
		r.handle()
	}
	r.nonblock = false
	udp.SetReadBuffer(1 << 20)
	c.Write([]byte("x:1|c"))
	if err := ps.rc.Read(r.recvFn); err != nil || r.n != 1 {
		t.Fatalf("read: %v, %d datagrams", err, r.n)
	}
	r.handle()
	drops := srv.Stats().KernelDrops
	if drops == 0 {
		t.Fatal("no drops to report")
	}
	samples = 0
	msgs := [][]byte{
		[]byte("shop.web.gunicorn.request.duration:1016.0360000000001|ms|#env:prod,team:web"),
		[]byte("shop.web.gunicorn.requests:1|c|@1.0|#env:prod,team:web"),
		[]byte("shop.web.gunicorn.request.status.200:1|c|@1.0|#env:prod,team:web"),
		[]byte("a:1|c\nb:2|g\nbad line\nc:1:2:3|ms"),
	}
	const rounds = 200
	allocs := testing.AllocsPerRun(rounds, func() {
		for _, m := range msgs {
			if _, err := c.Write(m); err != nil {
				t.Fatal(err)
			}
		}
		// Loopback queues each datagram as it is written: one read takes all.
		if err := ps.rc.Read(r.recvFn); err != nil || r.errno != 0 {
			t.Fatalf("read: %v, %v", err, r.errno)
		}
		if r.n != len(msgs) {
			t.Fatalf("read %d datagrams, want %d", r.n, len(msgs))
		}
		r.handle()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per read of %d datagrams (write included), want 0", allocs, len(msgs))
	}
	if want := (rounds + 1) * 8; samples != want {
		t.Errorf("handled %d samples, want %d", samples, want)
	}
	if got := srv.Stats().KernelDrops; got != drops {
		t.Errorf("kernel drops %d, want still %d", got, drops)
	}
}

// The stream path allocates nothing per read either, too long lines included.
func TestStreamConnAllocatesNothing(t *testing.T) {
	srv := &Server{Handler: HandlerFunc(func(b *Batch) {}), ErrorLog: quietLog}
	cfg := srv.config()
	cfg.parser.MaxLineLength = 64
	sc := &streamConn{s: srv, conn: nil, max: cfg.parser.MaxLineLength,
		buf: make([]byte, max(cfg.parser.MaxLineLength+2, streamBufferMin)), parser: Parser{MaxLineLength: 64}}
	input := "gunicorn.requests:1|c|@1.0\nbad\n" + strings.Repeat("x", 100) + "\npartial:1"
	rest := "|c\n"
	allocs := testing.AllocsPerRun(100, func() {
		sc.w += copy(sc.buf[sc.w:], input)
		sc.process(len(input), false)
		sc.w += copy(sc.buf[sc.w:], rest)
		sc.process(len(rest), false)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per pass, want 0", allocs)
	}
	if st := srv.Stats(); st.Samples != 2*101 || st.Errors[ReasonTooLong] != 101 || st.Errors[ReasonMalformedLine] != 101 {
		t.Errorf("stats: %+v", st)
	}
}

// receiveBuffer returns the smallest SO_RCVBUF (as the kernel reports it:
// twice what was set) of the server's packet sockets.
func receiveBuffer(t *testing.T, srv *Server) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	least := 1 << 30
	for ps := range srv.packets {
		ps.rc.Control(func(fd uintptr) {
			if n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil {
				least = min(least, n)
			}
		})
	}
	return least
}

// BenchmarkMmsgReader measures the batch read path alone: one op is one
// datagram of a batch of 64 queued with one sendmmsg, then read with one
// recvmmsg, parsed and handed to a Handler.
func BenchmarkMmsgReader(b *testing.B) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ps, err := (&Server{}).newPacketSock(conn, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ps.close()
	samples := 0
	srv := &Server{Handler: HandlerFunc(func(bt *Batch) { samples += len(bt.Samples) })}
	cfg := srv.config()
	r := newMmsgReader(srv, ps, &cfg)

	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(s)
	ua := conn.LocalAddr().(*net.UDPAddr)
	if err := unix.Connect(s, &unix.SockaddrInet4{Port: ua.Port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	msg := []byte("shop.web.gunicorn.request.duration:1016.0360000000001|ms|#env:prod,team:web")
	const batch = 64
	iovs := make([]unix.Iovec, batch)
	hdrs := make([]unix.Mmsghdr, batch)
	for i := range hdrs {
		iovs[i].Base = &msg[0]
		iovs[i].SetLen(len(msg))
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s), uintptr(unsafe.Pointer(&hdrs[0])), batch, 0, 0, 0)
		if e != 0 || n != batch {
			b.Fatalf("sendmmsg: %d, %v", n, e)
		}
		for got := 0; got < batch; got += r.n {
			if err := ps.rc.Read(r.recvFn); err != nil || r.errno != 0 {
				b.Fatalf("read: %v, %v", err, r.errno)
			}
			r.handle()
		}
	}
	b.StopTimer()
	if samples == 0 {
		b.Fatal("nothing handled")
	}
}

// A flood that a blocked Handler leaves to overflow a small receive buffer:
// the kernel's drops are counted exactly, sent = read + dropped.
func TestKernelDrops(t *testing.T) {
	release := make(chan struct{})
	var handled atomic.Int64
	logs := &logRecords{}
	srv := &Server{
		ReadBufferSize: 4096,
		ErrorLog:       slog.New(logs),
		Handler: HandlerFunc(func(b *Batch) {
			if handled.Add(int64(b.Datagrams)) == int64(b.Datagrams) {
				<-release // the first batch holds the reader
			}
		}),
	}
	c := startUDP(t, srv)
	msg := []byte("flood:1|c")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return handled.Load() == 1 }) // the reader is held
	const flood = 3000
	for i := range flood {
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	close(release)
	// The kernel reports a socket's drops with the next datagram it queues:
	// one more, once the queue is read, carries the final count.
	waitFor(t, func() bool { return settled(srv) }) // room for one more
	if _, err := c.Write([]byte("last:1|c")); err != nil {
		t.Fatal(err)
	}
	sent := uint64(1 + flood + 1)
	waitFor(t, func() bool {
		st := srv.Stats()
		return st.Datagrams+st.KernelDrops == sent
	})
	shutdown(t, srv)
	st := srv.Stats()
	if st.KernelDrops == 0 || st.Datagrams+st.KernelDrops != sent {
		t.Fatalf("sent %d, read %d, kernel drops %d: want drops > 0 and sent = read + drops", sent, st.Datagrams, st.KernelDrops)
	}
	t.Logf("sent %d, read %d, dropped %d", sent, st.Datagrams, st.KernelDrops)
	recs := logs.matching("kernel dropped datagrams")
	if len(recs) != 1 || recs[0].attrs["kernel_drops_total"] == "" {
		t.Errorf("log records: %+v, want one", recs)
	}
}

// settled reports whether the server's packet sockets have nothing queued.
func settled(srv *Server) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	empty := true
	for ps := range srv.packets {
		ps.rc.Control(func(fd uintptr) {
			if n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ); err != nil || n != 0 {
				empty = false
			}
		})
	}
	return empty
}

// dropCount finds the drop count among other control messages, and
// nothing in a truncated or malformed buffer.
func TestDropCount(t *testing.T) {
	msg := func(level, typ int32, data []byte) []byte {
		b := make([]byte, unix.CmsgSpace(len(data)))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = level, typ
		h.SetLen(unix.CmsgLen(len(data)))
		copy(b[unix.CmsgLen(0):], data)
		return b
	}
	ts := msg(unix.SOL_SOCKET, unix.SO_TIMESTAMP, make([]byte, 16))
	drops := msg(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, []byte{0x2a, 1, 0, 0})
	for _, tc := range []struct {
		name string
		oob  []byte
		want uint32
		ok   bool
	}{
		{"none", nil, 0, false},
		{"alone", drops, 0x12a, true},
		{"after a timestamp", append(slices.Clone(ts), drops...), 0x12a, true},
		{"timestamp only", ts, 0, false},
		{"truncated", drops[:unix.CmsgLen(2)], 0, false},
		{"bad length", func() []byte {
			b := slices.Clone(drops)
			(*unix.Cmsghdr)(unsafe.Pointer(&b[0])).SetLen(1 << 20)
			return b
		}(), 0, false},
		{"zero length", make([]byte, 64), 0, false},
	} {
		if got, ok := dropCount(tc.oob); got != tc.want || ok != tc.ok {
			t.Errorf("%s: dropCount = %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// BenchmarkMmsgHandle measures the CPU work of one recvmmsg batch of 64
// datagrams once read: control messages, parse, count, Handle; no system
// call. One op is one datagram.
func BenchmarkMmsgHandle(b *testing.B) {
	samples := 0
	srv := &Server{ErrorLog: quietLog, Handler: HandlerFunc(func(bt *Batch) { samples += len(bt.Samples) })}
	cfg := srv.config()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ps, err := srv.newPacketSock(conn, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ps.close()
	r := newMmsgReader(srv, ps, &cfg)
	msg := []byte("shop.web.gunicorn.request.duration:1016.0360000000001|ms|#env:prod,team:web")
	const batch = 64
	for i := 0; i < batch; i++ {
		copy(r.bufs[i*r.size:], msg)
		r.hdrs[i].Len = uint32(len(msg))
	}
	r.n = batch
	fill(r, batch)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		fill(r, batch)
		r.handle()
	}
	b.StopTimer()
	if samples == 0 {
		b.Fatal("nothing handled")
	}
}

// fill gives each of the first n datagrams of r the control message the
// kernel adds once the socket has dropped datagrams: the read path's most
// work.
func fill(r *mmsgReader, n int) {
	for i := 0; i < n; i++ {
		oob := r.oob[i*oobSize:]
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level, h.Type = unix.SOL_SOCKET, unix.SO_RXQ_OVFL
		h.SetLen(unix.CmsgLen(4))
		*(*uint32)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = 5
		r.hdrs[i].Hdr.SetControllen(unix.CmsgSpace(4))
	}
}

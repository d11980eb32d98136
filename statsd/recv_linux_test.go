//go:build linux

package statsd

import (
	"net"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The batch read path (recvmmsg, parse, Handle) allocates nothing per read
// once the reader exists.
func TestMmsgReaderAllocatesNothing(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := newPacketSock(conn, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.close()
	samples := 0
	srv := &Server{Handler: HandlerFunc(func(b *Batch) { samples += len(b.Samples) })}
	cfg := srv.config()
	r := newMmsgReader(srv, ps, &cfg)

	c, err := net.Dial("udp", conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
}

// The stream path allocates nothing per read either, too long lines included.
func TestStreamConnAllocatesNothing(t *testing.T) {
	srv := &Server{Handler: HandlerFunc(func(b *Batch) {})}
	cfg := srv.config()
	cfg.maxLineLength = 64
	sc := &streamConn{s: srv, conn: nil, max: cfg.maxLineLength,
		buf: make([]byte, max(cfg.maxLineLength+2, streamBufferMin)), parser: Parser{MaxLineLength: 64}}
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
	ps, err := newPacketSock(conn, "", nil)
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

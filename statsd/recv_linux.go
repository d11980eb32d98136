//go:build linux

package statsd

import (
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux, UDP readers each get an SO_REUSEPORT socket of their own, and
// packet sockets are read with recvmmsg(2).
//
// recvmmsg is called directly (golang.org/x/sys/unix, through the socket's
// syscall.RawConn) rather than through golang.org/x/net/ipv4's ReadBatch:
// one code path then serves UDP and Unix datagram sockets alike (x/net's
// batch readers wrap IP sockets only), the message headers are built once
// per reader and reused, and the same call made non-blocking through
// RawConn.Control drains the socket on Shutdown, which a read deadline in
// the past would refuse before trying.
const reusePortSupported = true

// listenConfig sets SO_REUSEPORT (when asked) and the receive buffer before
// the socket is bound. A Unix socket's permissions are set to none before
// bind, which creates its file with them (less the umask): the file is then
// never more open than asked between bind and the chmod that gives it
// Server.SocketMode.
func (s *Server) listenConfig(cfg *config, reuse bool) net.ListenConfig {
	size := cfg.readBufferSize
	log := s.logger()
	return net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var opErr error
		err := c.Control(func(fd uintptr) {
			if network == "unixgram" {
				if err := unix.Fchmod(int(fd), 0); err != nil {
					opErr = os.NewSyscallError("fchmod", err)
					return
				}
			}
			if reuse {
				if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
					opErr = os.NewSyscallError("setsockopt SO_REUSEPORT", err)
					return
				}
			}
			if size > 0 {
				setReadBuffer(int(fd), size, network, address, log)
			}
		})
		if err != nil {
			return err
		}
		return opErr
	}}
}

// setReadBuffer asks for size bytes of receive buffer: SO_RCVBUFFORCE first
// (it needs CAP_NET_ADMIN, and ignores net.core.rmem_max), then SO_RCVBUF,
// which the kernel caps at net.core.rmem_max. A smaller buffer than asked
// is logged, not an error.
func setReadBuffer(fd, size int, network, address string, log *slog.Logger) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size); err != nil {
			log.Warn("statsd: cannot set the receive buffer", "network", network, "addr", address, "want", size, "err", err)
			return
		}
	}
	// The kernel reports twice the size set, the other half being its
	// bookkeeping.
	if got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil && got/2 < size {
		log.Warn("statsd: receive buffer smaller than asked: raise net.core.rmem_max, or run with CAP_NET_ADMIN",
			"network", network, "addr", address, "want", size, "got", got/2)
	}
}

// afterListen does nothing on Linux: listenConfig did it all.
func afterListen(conn net.PacketConn, cfg *config, log *slog.Logger) {}

// reportDrops sets SO_RXQ_OVFL: the kernel then gives, with each datagram
// read, the number of datagrams the socket has dropped so far (for want of
// room in its receive buffer) in a control message.
func reportDrops(rc syscall.RawConn) error {
	var opErr error
	err := rc.Control(func(fd uintptr) {
		opErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	})
	if err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt SO_RXQ_OVFL", opErr)
}

// oobSize is the control message room of each datagram read: the drop
// count's takes 24 bytes, the rest leaves room for control messages
// enabled by whoever opened a socket given to Serve.
const oobSize = 64

// An mmsgReader reads a packet socket in batches with recvmmsg. Everything
// it reads into is allocated once, in newMmsgReader.
type mmsgReader struct {
	s      *Server
	ps     *packetSock
	hdrs   []unix.Mmsghdr
	iovs   []unix.Iovec
	bufs   []byte // len(hdrs) slots of size bytes
	oob    []byte // len(hdrs) slots of oobSize bytes, for control messages
	size   int
	batch  Batch
	parser Parser

	// Results of the last recv, set inside the RawConn callbacks.
	n        int
	errno    syscall.Errno
	nonblock bool // report an empty socket instead of waiting

	recvFn  func(fd uintptr) bool // r.recv, bound once: no allocation per read
	drainFn func(fd uintptr)
}

func newMmsgReader(s *Server, ps *packetSock, cfg *config) *mmsgReader {
	n, size := cfg.batchSize, cfg.maxDatagramSize
	r := &mmsgReader{
		s:      s,
		ps:     ps,
		hdrs:   make([]unix.Mmsghdr, n),
		iovs:   make([]unix.Iovec, n),
		bufs:   make([]byte, n*size),
		oob:    make([]byte, n*oobSize),
		size:   size,
		parser: cfg.parser,
	}
	r.batch.Samples = make([]Sample, 0, n)
	for i := range r.hdrs {
		r.iovs[i].Base = &r.bufs[i*size]
		r.iovs[i].SetLen(size)
		h := &r.hdrs[i].Hdr
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Control = &r.oob[i*oobSize]
		h.SetControllen(oobSize)
	}
	r.recvFn = r.recv
	r.drainFn = func(fd uintptr) { r.recv(fd) }
	return r
}

// recv makes one recvmmsg call. It returns false, to wait for the socket to
// be readable, when nothing is queued, unless r.nonblock is set: then it
// reports n == 0.
func (r *mmsgReader) recv(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd,
			uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)),
			unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			r.n, r.errno = int(n), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			r.n, r.errno = 0, 0
			return r.nonblock
		default:
			r.n, r.errno = 0, e
			return true
		}
	}
}

// readPackets serves ps until Shutdown (after draining it), Close, or an
// error it cannot go on after.
func (s *Server) readPackets(ps *packetSock, cfg *config) error {
	if ps.rc == nil {
		return s.readPacketsSimple(ps, cfg)
	}
	r := newMmsgReader(s, ps, cfg)
	var delay time.Duration
	for {
		err := ps.rc.Read(r.recvFn)
		if err == nil && r.errno != 0 {
			err = os.NewSyscallError("recvmmsg", r.errno)
		}
		if err == nil {
			delay = 0
			r.handle()
			continue
		}
		if isTimeout(err) && s.inShutdown.Load() {
			r.drain()
			return nil
		}
		if stop, ret := s.readError(ps, err, &delay); stop {
			return ret
		}
	}
}

// drain reads, without waiting, what is queued in the socket until it is
// empty. Close (from Shutdown's context ending) cuts it short.
func (r *mmsgReader) drain() {
	r.nonblock = true
	for {
		if err := r.ps.rc.Control(r.drainFn); err != nil || r.errno != 0 || r.n == 0 {
			return
		}
		r.handle()
	}
}

// handle parses the r.n datagrams just read into r.batch, counts it and
// gives it to the Handler.
func (r *mmsgReader) handle() {
	b := &r.batch
	b.Reset()
	nbytes := 0
	var drops uint32
	seen := false
	for i := 0; i < r.n; i++ {
		h := &r.hdrs[i]
		if v, ok := dropCount(r.oob[i*oobSize:][:min(int(h.Hdr.Controllen), oobSize)]); ok {
			drops, seen = v, true // the later datagram's count is the larger
		}
		h.Hdr.SetControllen(oobSize) // the kernel wrote the length it used
		l := min(int(h.Len), r.size)
		d := r.bufs[i*r.size : i*r.size+l]
		nbytes += l
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
			rejectTooLong(b, d)
			continue
		}
		r.parser.Parse(b, d)
	}
	if seen {
		r.s.noteDrops(r.ps, drops)
	}
	r.s.count(b, nbytes)
	r.s.handle(b)
}

// dropCount finds the SO_RXQ_OVFL control message among the control
// messages of one datagram, and returns the count it holds. The kernel
// sends none while the socket has dropped nothing.
func dropCount(oob []byte) (uint32, bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && l >= unix.CmsgLen(4) {
			return *(*uint32)(unsafe.Pointer(&oob[unix.CmsgLen(0)])), true
		}
		oob = oob[min(unix.CmsgSpace(l-unix.SizeofCmsghdr), len(oob)):]
	}
	return 0, false
}

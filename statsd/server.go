package statsd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults for the Server settings left at zero.
const (
	// DefaultAddr is the address ListenAndServe("") and Start("") use: UDP on
	// StatsD's usual port, every interface.
	DefaultAddr = ":8125"
	// DefaultReadBufferSize is the receive buffer (SO_RCVBUF) asked for each
	// packet socket: 8 MiB holds about 10,000 small datagrams queued while
	// the Handler is busy. Linux caps it at net.core.rmem_max unless the
	// process may use SO_RCVBUFFORCE (CAP_NET_ADMIN), which is tried first.
	DefaultReadBufferSize = 8 << 20
	// DefaultBatchSize is how many datagrams one read takes at most (recvmmsg
	// on Linux), and so the most a Handler call is given from a packet
	// socket.
	DefaultBatchSize = 64
	// DefaultMaxDatagramSize is the largest datagram read whole: the largest
	// a UDP datagram can be. A longer (unixgram) datagram is rejected as
	// too_long.
	DefaultMaxDatagramSize = 65535
	// DefaultReaders is the number of reader goroutines per packet address.
	// One reader with batch reads keeps up with hundreds of thousands of
	// datagrams a second; raise it for more, or for a slow Handler.
	DefaultReaders = 1
	// DefaultMaxConns bounds the open stream connections of a Server.
	DefaultMaxConns = 1024
	// DefaultIdleTimeout is how long a stream connection may send nothing
	// before the Server closes it. StatsD clients keep one connection and
	// write to it when they flush, every 10 s to 60 s for most; ten times
	// the longest of those leaves quiet senders alone, while a full
	// connection table never waits for it (see Server.MaxConns), and TCP
	// keep-alive finds the peers that are gone.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultSocketMode is the permission of a Unix datagram socket file the
	// Server creates: anyone on the host may write, as anyone may send to a
	// UDP port on 127.0.0.1. Use 0o660 and a shared group to restrict it.
	DefaultSocketMode os.FileMode = 0o666
)

// ErrServerClosed is returned by ListenAndServe, Serve and ServeListener
// after Shutdown or Close, and by them and Start when called after.
var ErrServerClosed = errors.New("statsd: server closed")

// A Server reads StatsD traffic from UDP, Unix datagram and TCP (or other
// stream) sockets, parses it and hands it to a Handler in batches.
//
// It is shaped like net/http's Server: set the fields, then call
// ListenAndServe, Serve, ServeListener or Start, as many times as there are
// addresses; all share the Handler and the counters. The fields must not be
// changed once the Server is in use. The zero value is usable: it discards
// what it reads, counting it in Stats.
//
// Packet sockets are read in batches (recvmmsg on Linux, one datagram per
// read elsewhere); each read batch is parsed into one Batch and given to the
// Handler in one call, synchronously, from the reader goroutine. Nothing is
// allocated per datagram: buffers and the Batch belong to the reader
// goroutine and are reused.
type Server struct {
	// Handler receives the batches. Nil discards them (they are counted).
	// A Handler that panics crashes the program: the Server does not recover.
	Handler Handler

	// ReadBufferSize is the socket receive buffer (SO_RCVBUF) set on each
	// packet socket the Server opens, in bytes. Zero means
	// DefaultReadBufferSize; negative leaves the system default. On Linux
	// SO_RCVBUFFORCE is tried first, so that a privileged process is not
	// capped by net.core.rmem_max; a buffer smaller than asked is logged.
	// Sockets given to Serve are left as they are.
	ReadBufferSize int
	// BatchSize is the most datagrams one read takes. Zero means
	// DefaultBatchSize. Each reader holds BatchSize*(MaxDatagramSize+1)
	// bytes of buffer (4 MiB with the defaults).
	BatchSize int
	// MaxDatagramSize is the largest datagram read whole; longer ones are
	// counted as too_long. Zero means DefaultMaxDatagramSize.
	MaxDatagramSize int
	// Readers is the number of goroutines reading each packet address. For
	// UDP on Linux ListenAndServe opens one SO_REUSEPORT socket per reader,
	// so the kernel spreads senders across them; otherwise (unixgram, other
	// systems, Serve) the readers share one socket. Zero means
	// DefaultReaders.
	Readers int
	// Parser says how lines are read: which tag formats, and the longest
	// line accepted (Parser.MaxLineLength, in bytes without its newline;
	// longer lines are rejected as too_long). Here the line length also
	// bounds each TCP connection's buffer, so zero or negative (no limit for
	// a Parser of its own) means DefaultMaxLineLength.
	Parser Parser
	// MaxConns bounds the stream connections open at once, over all
	// listeners. A new connection is always admitted: when MaxConns are
	// open, the Server closes the one that has been idle longest to make
	// room (a connection that has sent nothing yet goes before one that
	// has), so idle peers cannot lock a sender out. Such closes are counted
	// in Stats.TCPConnectionsEvicted. Zero means DefaultMaxConns; negative
	// means no limit.
	MaxConns int
	// IdleTimeout is how long a stream connection may send nothing before
	// the Server closes it (counted in Stats.TCPConnectionsIdleClosed). Zero
	// means DefaultIdleTimeout; negative means no timeout.
	IdleTimeout time.Duration
	// SocketMode is the mode of a Unix datagram socket file the Server
	// creates: the file gets exactly these permission bits, whatever the
	// process's umask, before the Server reads from it. Zero means
	// DefaultSocketMode, so no permission at all (0o000: only a privileged
	// sender may write) is asked for as os.ModeSocket, the type bit Lstat
	// reports for the file, alone; os.ModeSocket|0o600 is 0o600. Other bits
	// (setuid, sticky, ...), a file system that does not keep the mode, and
	// a mode for an abstract socket ("@name", which has no file and no
	// permissions) are errors from ListenAndServe or Start.
	SocketMode os.FileMode
	// ErrorLog receives warnings about socket settings, and a record, at
	// most once a minute each, with the count since the last: of failed
	// reads and accepts, and of each limit that drops data (datagrams the
	// kernel dropped for a full receive buffer, lines over Parser.MaxLineLength or
	// datagrams over MaxDatagramSize, connections closed by MaxConns or
	// IdleTimeout). Never one record per bad line (see Stats.Errors). Nil
	// means slog.Default().
	ErrorLog *slog.Logger

	mu        sync.Mutex
	state     int // stateRunning, stateShutdown or stateClosed
	packets   map[*packetSock]struct{}
	listeners map[*trackedListener]struct{}
	conns     map[*streamConn]struct{}
	wg        sync.WaitGroup // every serving goroutine

	inShutdown atomic.Bool // state != stateRunning, readable without mu
	stats      counters
	logs       limitLogs
}

const (
	stateRunning = iota
	stateShutdown
	stateClosed
)

// aLongTimeAgo is a read deadline that wakes every blocked reader at once.
var aLongTimeAgo = time.Unix(1, 0)

// config holds a Server's settings with the defaults applied.
type config struct {
	readBufferSize  int
	batchSize       int
	maxDatagramSize int
	readers         int
	parser          Parser // MaxLineLength set: the line limit
	maxConns        int
	idleTimeout     time.Duration // 0: none
	socketMode      os.FileMode   // as set: see socketPerm
}

func (s *Server) config() config {
	c := config{
		readBufferSize:  s.ReadBufferSize,
		batchSize:       s.BatchSize,
		maxDatagramSize: s.MaxDatagramSize,
		readers:         s.Readers,
		parser:          s.Parser,
		maxConns:        s.MaxConns,
		idleTimeout:     s.IdleTimeout,
		socketMode:      s.SocketMode,
	}
	if c.readBufferSize == 0 {
		c.readBufferSize = DefaultReadBufferSize
	}
	if c.batchSize <= 0 {
		c.batchSize = DefaultBatchSize
	}
	if c.maxDatagramSize <= 0 {
		c.maxDatagramSize = DefaultMaxDatagramSize
	}
	if c.readers <= 0 {
		c.readers = DefaultReaders
	}
	if c.parser.MaxLineLength <= 0 {
		c.parser.MaxLineLength = DefaultMaxLineLength
	}
	if c.maxConns == 0 {
		c.maxConns = DefaultMaxConns
	}
	if c.idleTimeout == 0 {
		c.idleTimeout = DefaultIdleTimeout
	} else if c.idleTimeout < 0 {
		c.idleTimeout = 0
	}
	return c
}

func (s *Server) logger() *slog.Logger {
	if s.ErrorLog != nil {
		return s.ErrorLog
	}
	return slog.Default()
}

func (s *Server) handle(b *Batch) {
	if s.Handler != nil {
		s.Handler.Handle(b)
	}
}

// Stats returns a snapshot of the Server's counters. It is safe to call at
// any time, from any goroutine.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ListenAndServe listens on addr and serves it until Shutdown or Close, when
// it returns ErrServerClosed; any other error is returned as it happens.
//
// The address forms are:
//
//	host:port, udp://host:port          UDP (udp4:// and udp6:// too)
//	unixgram:///path, unix:/path,
//	unix:///path, unix://relative/path  Unix datagram socket, as Gunicorn's
//	                                     --statsd-host writes it
//	tcp://host:port                     TCP, one metric line per '\n'
//	                                     (tcp4:// and tcp6:// too)
//
// An empty addr means DefaultAddr. ListenAndServe may be called several
// times, at once, for different addresses.
func (s *Server) ListenAndServe(addr string) error {
	// Counted from the start, so that a Shutdown that comes while the
	// sockets open still waits for them to be served and drained.
	if !s.track(1) {
		return ErrServerClosed
	}
	defer s.wg.Done()
	ep, err := s.listen(addr)
	if err != nil {
		return err
	}
	return s.serveEndpoint(ep)
}

// Start listens on addr like ListenAndServe, then serves it in new
// goroutines and returns the address bound, such as the port chosen for
// "127.0.0.1:0". Errors that happen while serving go to ErrorLog; Shutdown
// and Close end the serving.
func (s *Server) Start(addr string) (net.Addr, error) {
	// Count the serving goroutine now, so that a Shutdown that starts before
	// it runs still waits for it.
	if !s.track(1) {
		return nil, ErrServerClosed
	}
	ep, err := s.listen(addr)
	if err != nil {
		s.wg.Done()
		return nil, err
	}
	go func() {
		defer s.wg.Done()
		if err := s.serveEndpoint(ep); err != nil && !errors.Is(err, ErrServerClosed) {
			s.logger().Error("statsd: serving stopped", "addr", ep.addr.String(), "err", err)
		}
	}()
	return ep.addr, nil
}

// Serve reads datagrams from conn, a UDP or Unix datagram socket the caller
// opened, with Readers goroutines, until Shutdown or Close (when it returns
// ErrServerClosed) or a read error it cannot go on after. It closes conn
// before returning. Its socket options are left as they are, but for
// SO_RXQ_OVFL on Linux, which Stats.KernelDrops needs.
func (s *Server) Serve(conn net.PacketConn) error {
	if !s.track(1) {
		conn.Close()
		return ErrServerClosed
	}
	defer s.wg.Done()
	ps, err := s.newPacketSock(conn, "", nil)
	if err != nil {
		conn.Close()
		return err
	}
	if !s.addPacket(ps) {
		return ErrServerClosed
	}
	return s.servePackets([]*packetSock{ps}, s.config().readers)
}

// ServeListener accepts stream connections (TCP or Unix stream) from l and
// reads newline-framed metric lines from each, until Shutdown or Close
// (when it returns ErrServerClosed) or an accept error it cannot go on
// after. It closes l, and waits for its connections to end, before
// returning.
func (s *Server) ServeListener(l net.Listener) error {
	if !s.track(1) {
		l.Close()
		return ErrServerClosed
	}
	defer s.wg.Done()
	tl := &trackedListener{Listener: l}
	if !s.addListener(tl) {
		return ErrServerClosed
	}
	return s.serveListener(tl)
}

// Shutdown stops the Server gracefully: it stops accepting connections,
// reads what is already queued in each packet socket's receive buffer and
// each connection's, lets the Handler finish every batch, and returns when
// every reader goroutine has returned. Sockets the Server opened are closed
// and their socket files removed.
//
// If ctx ends first, Shutdown calls Close and returns ctx.Err(). Shutdown
// and Close may be called more than once, and at once; the serving calls
// then return ErrServerClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.state == stateRunning {
		s.state = stateShutdown
		s.inShutdown.Store(true)
		for ps := range s.packets {
			// Wakes the readers, which then drain the socket without waiting.
			ps.conn.SetReadDeadline(aLongTimeAgo)
		}
		for tl := range s.listeners {
			tl.close()
		}
		for c := range s.conns {
			c.conn.SetReadDeadline(aLongTimeAgo)
		}
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.Close() // closes what no goroutine was serving (after Start failed midway)
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close stops the Server at once: it closes every socket, listener and
// connection, which ends the reader goroutines without waiting for them.
// Datagrams not yet read are lost; use Shutdown to keep them.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = stateClosed
	s.inShutdown.Store(true)
	for ps := range s.packets {
		ps.close()
	}
	for tl := range s.listeners {
		tl.close()
	}
	for c := range s.conns {
		c.conn.Close()
	}
	return nil
}

// track counts n serving goroutines, unless the Server is shutting down.
// (Once it is, only goroutines already counted may add to the WaitGroup.)
func (s *Server) track(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateRunning {
		return false
	}
	s.wg.Add(n)
	return true
}

// addPacket registers ps, unless the Server is closed. Its caller must be
// counted in s.wg: during Shutdown, ps is then drained.
func (s *Server) addPacket(ps *packetSock) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		ps.close()
		return false
	}
	if s.packets == nil {
		s.packets = make(map[*packetSock]struct{})
	}
	s.packets[ps] = struct{}{}
	if s.state == stateShutdown {
		// Bound while Shutdown began: what senders queued in it already is
		// read, as Shutdown promises, then it closes.
		ps.conn.SetReadDeadline(aLongTimeAgo)
	}
	return true
}

func (s *Server) removePacket(ps *packetSock) {
	s.mu.Lock()
	delete(s.packets, ps)
	s.mu.Unlock()
	ps.close()
}

func (s *Server) addListener(tl *trackedListener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateRunning {
		tl.close()
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[*trackedListener]struct{})
	}
	s.listeners[tl] = struct{}{}
	return true
}

func (s *Server) removeListener(tl *trackedListener) {
	s.mu.Lock()
	delete(s.listeners, tl)
	s.mu.Unlock()
	tl.close()
}

// A packetSock is one datagram socket being served.
type packetSock struct {
	conn  net.PacketConn
	rc    syscall.RawConn // nil when conn does not offer one
	rd    io.Reader       // conn's connection-style Read, when it has one
	path  string          // socket file to remove on close; "" for none
	file  os.FileInfo     // the socket file as created, to remove only it
	close func()          // closes conn once, then removes path

	// drops is the socket's own count of datagrams the kernel dropped, as
	// last reported with a datagram read (SO_RXQ_OVFL): it only grows,
	// modulo 2³², and its growth is added to Stats.KernelDrops.
	drops atomic.Uint32
}

// newPacketSock wraps conn for serving, and asks the kernel to report the
// socket's drops with each datagram read, where it can.
func (s *Server) newPacketSock(conn net.PacketConn, path string, file os.FileInfo) (*packetSock, error) {
	ps := &packetSock{conn: conn, path: path, file: file}
	if sc, ok := conn.(syscall.Conn); ok {
		rc, err := sc.SyscallConn()
		if err != nil {
			return nil, fmt.Errorf("statsd: serve %s: %w", conn.LocalAddr(), err)
		}
		ps.rc = rc
		if err := reportDrops(rc); err != nil {
			s.logger().Warn("statsd: the kernel's drops on this socket cannot be counted",
				"addr", conn.LocalAddr().String(), "err", err)
		}
	}
	ps.rd, _ = conn.(io.Reader)
	ps.close = sync.OnceFunc(func() {
		conn.Close()
		if ps.path != "" {
			if fi, err := os.Lstat(ps.path); err == nil && os.SameFile(fi, ps.file) {
				os.Remove(ps.path)
			}
		}
	})
	return ps, nil
}

// servePackets serves socks with readersPer goroutines each, and returns
// when all of them have returned, after closing socks. The calling goroutine
// is one of the readers. The caller is a goroutine the Server's WaitGroup
// counts, so the readers may be added to it even once Shutdown has begun:
// the sockets are then drained.
func (s *Server) servePackets(socks []*packetSock, readersPer int) error {
	n := len(socks) * readersPer
	s.wg.Add(n)
	cfg := s.config()
	errs := make(chan error, n)
	var group sync.WaitGroup
	run := func(ps *packetSock) {
		defer s.wg.Done()
		defer group.Done()
		err := s.readPackets(ps, &cfg)
		if err != nil {
			// A reader that cannot go on stops its siblings.
			for _, ps := range socks {
				ps.close()
			}
		}
		errs <- err
	}
	group.Add(n)
	for i := 0; i < n; i++ {
		ps := socks[i%len(socks)]
		if i == n-1 {
			run(ps)
		} else {
			go run(ps)
		}
	}
	group.Wait()
	for _, ps := range socks {
		s.removePacket(ps)
	}
	close(errs)
	var first error
	for err := range errs {
		if err != nil && first == nil {
			first = err
		}
	}
	if s.inShutdown.Load() {
		return ErrServerClosed
	}
	if first == nil {
		first = ErrServerClosed
	}
	return first
}

// noteDrops takes the socket's drop count v, as the kernel reported it with
// a datagram, and adds what it grew by to Stats.KernelDrops (readers sharing
// the socket may report counts out of order: only growth counts).
func (s *Server) noteDrops(ps *packetSock, v uint32) {
	for {
		old := ps.drops.Load()
		d := v - old
		if int32(d) <= 0 {
			return
		}
		if ps.drops.CompareAndSwap(old, v) {
			total := s.stats.kernelDrops.Add(uint64(d))
			if since, ok := s.logs.kernelDrops.Due(time.Now().UnixNano(), total); ok {
				s.logger().Warn("statsd: the kernel dropped datagrams, the socket's receive buffer being full: raise ReadBufferSize (and net.core.rmem_max) or Readers",
					"addr", ps.conn.LocalAddr().String(), "dropped", since, "kernel_drops_total", total)
			}
			return
		}
	}
}

// readError decides what a failed read means: stop (returning the error,
// nil when the Server is closing) or retry after a pause.
func (s *Server) readError(ps *packetSock, err error, delay *time.Duration) (stop bool, ret error) {
	if s.inShutdown.Load() {
		return true, nil
	}
	if errors.Is(err, net.ErrClosed) {
		return true, fmt.Errorf("statsd: read %s: %w", ps.conn.LocalAddr(), err)
	}
	s.readFailed("statsd: read failed", ps.conn.LocalAddr(), err)
	backoff(delay)
	return false, nil
}

// readFailed counts a failed read or accept, and logs it, at most once a
// minute: a failure that lasts (such as running out of file descriptors)
// would otherwise log once a second, the longest backoff.
func (s *Server) readFailed(msg string, addr net.Addr, err error) {
	total := s.stats.readErrors.Add(1)
	if since, ok := s.logs.readErrors.Due(time.Now().UnixNano(), total); ok {
		s.logger().Error(msg, "addr", addr.String(), "err", err, "failures", since, "read_errors_total", total)
	}
}

// backoff sleeps after a failed read or accept: 5 ms, doubling up to 1 s.
func backoff(delay *time.Duration) {
	if *delay == 0 {
		*delay = 5 * time.Millisecond
	} else if *delay *= 2; *delay > time.Second {
		*delay = time.Second
	}
	time.Sleep(*delay)
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

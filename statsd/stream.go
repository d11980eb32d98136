package statsd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// streamBufferMin is the least read buffer of a stream connection: more
// than one line's worth lets one read (and one Handler call) take many.
const streamBufferMin = 16 << 10

// serveListener accepts connections from tl until it is closed. Its caller
// is counted in s.wg, so connections may be added to it.
func (s *Server) serveListener(tl *trackedListener) error {
	cfg := s.config()
	var delay time.Duration
	var err error
	for {
		c, aerr := tl.Accept()
		if aerr != nil {
			if s.inShutdown.Load() {
				err = ErrServerClosed
				break
			}
			if errors.Is(aerr, net.ErrClosed) {
				err = fmt.Errorf("statsd: accept %s: %w", tl.Addr(), aerr)
				break
			}
			s.readFailed("statsd: accept failed", tl.Addr(), aerr)
			backoff(&delay)
			continue
		}
		delay = 0
		s.startConn(tl, c, &cfg)
	}
	s.removeListener(tl)
	tl.conns.Wait()
	return err
}

// startConn serves c in a new goroutine; when MaxConns are open, it first
// closes the connection idle longest. It runs in the accept loop, which the
// Server's WaitGroup counts, so adding to it is safe even during Shutdown.
func (s *Server) startConn(tl *trackedListener, c net.Conn, cfg *config) {
	sc := &streamConn{
		s:        s,
		tl:       tl,
		conn:     c,
		max:      cfg.parser.MaxLineLength,
		idle:     cfg.idleTimeout,
		accepted: time.Now().UnixNano(),
		buf:      make([]byte, max(cfg.parser.MaxLineLength+2, streamBufferMin)),
		parser:   cfg.parser,
	}
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		c.Close()
		return
	}
	var evicted *streamConn
	if cfg.maxConns > 0 && len(s.conns) >= cfg.maxConns {
		evicted = s.idlest()
		delete(s.conns, evicted)
		evicted.evicted.Store(true)
		// Its goroutine parses what it holds of an unfinished line, and
		// ends. Closing (rather than waking it) frees the descriptor now,
		// even while its Handler call lasts.
		evicted.conn.Close()
	}
	if s.conns == nil {
		s.conns = make(map[*streamConn]struct{})
	}
	s.conns[sc] = struct{}{}
	if s.state == stateShutdown {
		c.SetReadDeadline(aLongTimeAgo) // drain what it sent, then close
	}
	s.wg.Add(1)
	tl.conns.Add(1)
	s.mu.Unlock()
	s.stats.conns.Add(1)
	s.stats.connsOpen.Add(1)
	if evicted != nil {
		total := s.stats.evicted.Add(1)
		if since, ok := s.logs.evicted.Due(time.Now().UnixNano(), total); ok {
			s.logger().Warn("statsd: connection limit reached: closed the connection idle longest to admit a new one (raise MaxConns if these are real senders)",
				"max_conns", cfg.maxConns, "remote", evicted.conn.RemoteAddr().String(),
				"evicted", since, "evicted_total", total)
		}
	}
	go sc.serve()
}

// idlest returns the open connection that has been idle longest: of those
// that have sent nothing yet, the oldest; else the one whose last data is
// oldest. s.mu is held, and s.conns is not empty.
func (s *Server) idlest() *streamConn {
	var victim *streamConn
	var vSent bool
	var vTime int64
	for c := range s.conns {
		last := c.lastRead.Load()
		sent, t := last != 0, last
		if !sent {
			t = c.accepted
		}
		if victim == nil || (vSent && !sent) || (sent == vSent && t < vTime) {
			victim, vSent, vTime = c, sent, t
		}
	}
	return victim
}

// A streamConn reads newline-framed lines from one connection into a
// bounded buffer: buf[r:w] is read but not yet parsed, and is never longer
// than max+1 bytes after a pass, so a line of max bytes, its '\r' and its
// '\n' always fit.
type streamConn struct {
	s          *Server
	tl         *trackedListener
	conn       net.Conn
	max        int
	idle       time.Duration // 0: no idle timeout
	buf        []byte
	r, w       int
	discarding bool // skipping the rest of a too long line
	batch      Batch
	parser     Parser

	accepted int64        // Unix nanoseconds
	lastRead atomic.Int64 // Unix nanoseconds of the last read of data; 0: none yet
	evicted  atomic.Bool  // closed to admit a new connection
}

func (c *streamConn) serve() {
	s := c.s
	defer func() {
		c.conn.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.stats.connsOpen.Add(-1)
		c.tl.conns.Done()
		s.wg.Done()
	}()
	d := drainer{s: s}
	for {
		d.arm(c.conn, c.idle)
		n, err := c.conn.Read(c.buf[c.w:])
		if n > 0 {
			c.lastRead.Store(time.Now().UnixNano())
			c.w += n
			c.process(n, false)
		}
		if err == nil {
			continue
		}
		if shutdown, done := d.timedOut(err); shutdown {
			if !done {
				continue // Shutdown: read on, without waiting long, what is queued
			}
			c.process(0, true)
			return
		}
		switch {
		case c.evicted.Load():
			c.process(0, true)
		case isTimeout(err):
			c.process(0, true)
			total := s.stats.idleClosed.Add(1)
			if since, ok := s.logs.idleClosed.Due(time.Now().UnixNano(), total); ok {
				s.logger().Info("statsd: closed connections idle for longer than IdleTimeout",
					"idle_timeout", c.idle, "remote", c.conn.RemoteAddr().String(),
					"closed", since, "idle_closed_total", total)
			}
		case err == io.EOF:
			c.process(0, true)
		case s.inShutdown.Load() || errors.Is(err, net.ErrClosed):
		default:
			s.stats.readErrors.Add(1)
			s.logger().Debug("statsd: connection read failed", "remote", c.conn.RemoteAddr().String(), "err", err)
		}
		return
	}
}

// process parses the complete lines in buf[r:w], and when final, the
// unfinished last one too (the sender closed, or Shutdown ends the
// connection); then hands them to the Handler in one batch. nbytes is the
// number of bytes just read. A line over the limit is rejected as soon as
// it is, ended or not, with its first max bytes, and the rest of it skipped.
func (c *streamConn) process(nbytes int, final bool) {
	b := &c.batch
	b.Reset()
	for c.r < c.w {
		data := c.buf[c.r:c.w]
		line, ended := data, false
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, ended = data[:i], true
			c.r += i + 1
		} else if final || c.discarding || len(data) > c.max+1 { // over max even without a '\r'
			c.r = c.w
		} else {
			break // wait for the rest of the line
		}
		if c.discarding {
			c.discarding = !ended
			continue
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		switch {
		case len(line) == 0: // blank lines are not counted
		case len(line) > c.max:
			rejectTooLong(b, line[:c.max])
			c.discarding = !ended
		default:
			c.parser.Parse(b, line)
		}
	}
	if b.Datagrams > 0 || nbytes > 0 {
		c.s.count(b, nbytes)
	}
	if b.Datagrams > 0 {
		c.s.handle(b)
	}
	// Only now may the buffer move: the batch pointed into it.
	c.w = copy(c.buf, c.buf[c.r:c.w])
	c.r = 0
}

package statsd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
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
			s.stats.readErrors.Add(1)
			s.logger().Error("statsd: accept failed", "addr", tl.Addr().String(), "err", aerr)
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

// startConn serves c in a new goroutine, or closes it when MaxConns are
// open already. It runs in the accept loop, which the Server's WaitGroup
// counts, so adding to it is safe even during Shutdown.
func (s *Server) startConn(tl *trackedListener, c net.Conn, cfg *config) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		c.Close()
		return
	}
	if cfg.maxConns > 0 && len(s.conns) >= cfg.maxConns {
		s.mu.Unlock()
		c.Close()
		s.stats.connsRejected.Add(1)
		return
	}
	sc := &streamConn{
		s:      s,
		tl:     tl,
		conn:   c,
		max:    cfg.maxLineLength,
		buf:    make([]byte, max(cfg.maxLineLength+2, streamBufferMin)),
		parser: Parser{MaxLineLength: cfg.maxLineLength},
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
	go sc.serve()
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
	buf        []byte
	r, w       int
	discarding bool // skipping the rest of a too long line
	batch      Batch
	parser     Parser
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
	draining := false
	for {
		if draining {
			c.conn.SetReadDeadline(time.Now().Add(drainWait))
		}
		n, err := c.conn.Read(c.buf[c.w:])
		if n > 0 {
			c.w += n
			c.process(n, false)
		}
		if err == nil {
			continue
		}
		switch {
		case isTimeout(err) && s.inShutdown.Load():
			if !draining {
				// Shutdown: read on, without waiting long, what is queued.
				draining = true
				continue
			}
			c.process(0, true)
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
// incomplete last one too (the sender closed, or Shutdown ends the
// connection); then hands them to the Handler in one batch. nbytes is the
// number of bytes just read.
func (c *streamConn) process(nbytes int, final bool) {
	b := &c.batch
	b.Reset()
	for c.r < c.w {
		data := c.buf[c.r:c.w]
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		c.r += i + 1
		if c.discarding {
			c.discarding = false
			continue
		}
		c.line(data[:i])
	}
	rest := c.buf[c.r:c.w]
	tooLong := !c.discarding && len(rest) > c.max+1 // over max even without a '\r'
	if tooLong {
		b.Datagrams++
		b.Errors = append(b.Errors, ParseError{Reason: ReasonTooLong, Line: rest[:c.max]})
		c.discarding = true
	} else if final && !c.discarding && len(rest) > 0 {
		c.line(rest)
		c.r = c.w
	}
	if b.Datagrams > 0 || nbytes > 0 {
		c.s.stats.addBatch(b, nbytes)
	}
	if b.Datagrams > 0 {
		c.s.handle(b)
	}
	// Only now may the buffer move: the batch pointed into it.
	if c.discarding {
		c.r = c.w
	}
	c.w = copy(c.buf, c.buf[c.r:c.w])
	c.r = 0
}

// line parses one line, without its '\n', into the batch.
func (c *streamConn) line(l []byte) {
	content := l
	if n := len(content); n > 0 && content[n-1] == '\r' {
		content = content[:n-1]
	}
	switch {
	case len(content) == 0:
		return // blank lines are not counted
	case len(content) > c.max:
		c.batch.Datagrams++
		c.batch.Errors = append(c.batch.Errors, ParseError{Reason: ReasonTooLong, Line: content[:c.max]})
	default:
		c.parser.Parse(&c.batch, content)
	}
}

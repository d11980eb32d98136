package statsd

import (
	"sync/atomic"
	"time"

	"github.com/gunicornotel/gunicornotel/internal/ratelog"
)

// Stats is a snapshot of a Server's counters, as returned by Server.Stats.
// Every field but TCPConnectionsOpen only grows while the Server lives.
//
// The counters are updated once per read batch, before the Handler is called
// with it, so a Handler that reads Stats sees its own batch counted.
type Stats struct {
	// Datagrams is the number of datagrams read (for TCP: non-empty lines),
	// including those that held only rejected lines.
	Datagrams uint64
	// Samples is the number of samples handed to the Handler.
	Samples uint64
	// Bytes is the number of payload bytes read.
	Bytes uint64
	// Reads is the number of reads that returned data. From a packet socket
	// each is one batch given to the Handler in one call (with recvmmsg on
	// Linux, up to Server.BatchSize datagrams); from a stream, a read that
	// completes no line calls no Handler.
	Reads uint64
	// Errors counts the rejected lines by reason: Errors[ReasonBadValue] is
	// the number of lines rejected as "bad_value" (index 0 is unused). A
	// datagram longer than Server.MaxDatagramSize and a line longer than
	// Server.Parser.MaxLineLength count as ReasonTooLong. The sum of the table is
	// the number of rejected lines.
	Errors [NumReasons]uint64
	// KernelDrops is the number of datagrams the kernel dropped before the
	// Server could read them, because a packet socket's receive buffer was
	// full (Server.ReadBufferSize): a Handler too slow for the traffic, or a
	// burst larger than the buffer. Linux reports it (SO_RXQ_OVFL) with the
	// next datagram a socket queues, so drops show once traffic goes on
	// after them; elsewhere it stays 0. A Unix datagram socket never drops:
	// its senders wait for room (or fail) instead.
	KernelDrops uint64
	// ReadErrors counts failed reads and accepts other than those caused by
	// Shutdown or Close (for TCP, also a connection reset by its peer).
	ReadErrors uint64
	// TCPConnections is the number of TCP (stream) connections accepted and
	// served.
	TCPConnections uint64
	// TCPConnectionsEvicted is the number of connections closed to admit a
	// new one while Server.MaxConns were open: each the one idle longest.
	TCPConnectionsEvicted uint64
	// TCPConnectionsIdleClosed is the number of connections closed after
	// sending nothing for Server.IdleTimeout.
	TCPConnectionsIdleClosed uint64
	// TCPConnectionsOpen is the number of stream connections open now.
	TCPConnectionsOpen uint64
}

// counters are the live, atomically updated form of Stats.
type counters struct {
	datagrams   atomic.Uint64
	samples     atomic.Uint64
	bytes       atomic.Uint64
	reads       atomic.Uint64
	errors      [NumReasons]atomic.Uint64
	kernelDrops atomic.Uint64
	readErrors  atomic.Uint64
	conns       atomic.Uint64
	evicted     atomic.Uint64
	idleClosed  atomic.Uint64
	connsOpen   atomic.Int64
}

// addBatch counts one read batch: a few atomic adds per batch, plus one per
// distinct reason among its rejected lines. It returns the number of lines
// rejected as too long.
func (c *counters) addBatch(b *Batch, nbytes int) (tooLong uint64) {
	c.reads.Add(1)
	c.datagrams.Add(uint64(b.Datagrams))
	c.bytes.Add(uint64(nbytes))
	if len(b.Samples) > 0 {
		c.samples.Add(uint64(len(b.Samples)))
	}
	if len(b.Errors) > 0 {
		var byReason [NumReasons]uint64
		for i := range b.Errors {
			if r := b.Errors[i].Reason; r < NumReasons {
				byReason[r]++
			}
		}
		for r, n := range byReason {
			if n != 0 {
				c.errors[r].Add(n)
			}
		}
		return byReason[ReasonTooLong]
	}
	return 0
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Datagrams:                c.datagrams.Load(),
		Samples:                  c.samples.Load(),
		Bytes:                    c.bytes.Load(),
		Reads:                    c.reads.Load(),
		KernelDrops:              c.kernelDrops.Load(),
		ReadErrors:               c.readErrors.Load(),
		TCPConnections:           c.conns.Load(),
		TCPConnectionsEvicted:    c.evicted.Load(),
		TCPConnectionsIdleClosed: c.idleClosed.Load(),
	}
	if n := c.connsOpen.Load(); n > 0 {
		s.TCPConnectionsOpen = uint64(n)
	}
	for r := range c.errors {
		s.Errors[r] = c.errors[r].Load()
	}
	return s
}

// count counts one read batch of nbytes bytes, and says in the log (at most
// once a minute) that a length limit rejected lines, if it did.
func (s *Server) count(b *Batch, nbytes int) {
	tooLong := s.stats.addBatch(b, nbytes)
	if tooLong == 0 {
		return
	}
	total := s.stats.errors[ReasonTooLong].Load()
	if since, ok := s.logs.tooLong.Due(time.Now().UnixNano(), total); ok {
		var start []byte
		for i := range b.Errors {
			if b.Errors[i].Reason == ReasonTooLong {
				start = b.Errors[i].Line[:min(len(b.Errors[i].Line), 64)]
				break
			}
		}
		cfg := s.config()
		s.logger().Warn("statsd: lines over the length limit rejected as too_long",
			"max_line_length", cfg.parser.MaxLineLength, "max_datagram_size", cfg.maxDatagramSize,
			"rejected", since, "too_long_total", total, "line_start", string(start))
	}
}

// limitLogs are the Server's limits that drop data, each with its log.
// Each says so at most once per ratelog.Interval, with how much it dropped
// since it last did.
type limitLogs struct {
	kernelDrops ratelog.Limiter // the receive buffer (Server.ReadBufferSize)
	tooLong     ratelog.Limiter // Server.Parser.MaxLineLength and MaxDatagramSize
	evicted     ratelog.Limiter // Server.MaxConns
	idleClosed  ratelog.Limiter // Server.IdleTimeout
	readErrors  ratelog.Limiter // failed reads and accepts (file descriptors run out, ...)
}

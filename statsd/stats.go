package statsd

import "sync/atomic"

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
	// Errors counts the rejected lines by reason, indexed by Reason (index 0
	// is unused). A datagram longer than Server.MaxDatagramSize and a TCP
	// line longer than Server.MaxLineLength count as ReasonTooLong.
	Errors [NumReasons]uint64
	// ReadErrors counts failed reads and accepts other than those caused by
	// Shutdown or Close (for TCP, also a connection reset by its peer).
	ReadErrors uint64
	// TCPConnections is the number of TCP (stream) connections accepted and
	// served.
	TCPConnections uint64
	// TCPConnectionsRejected is the number of connections closed at once
	// because Server.MaxConns were already open.
	TCPConnectionsRejected uint64
	// TCPConnectionsOpen is the number of stream connections open now.
	TCPConnectionsOpen uint64
}

// ErrorsTotal returns the number of rejected lines, all reasons together.
func (s *Stats) ErrorsTotal() uint64 {
	var n uint64
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// ErrorsByReason returns the non-zero error counters keyed by the reason's
// stable name ("bad_value", "too_long", ...).
func (s *Stats) ErrorsByReason() map[string]uint64 {
	m := make(map[string]uint64)
	for r, v := range s.Errors {
		if v != 0 {
			m[Reason(r).String()] = v
		}
	}
	return m
}

// counters are the live, atomically updated form of Stats.
type counters struct {
	datagrams     atomic.Uint64
	samples       atomic.Uint64
	bytes         atomic.Uint64
	reads         atomic.Uint64
	errors        [NumReasons]atomic.Uint64
	readErrors    atomic.Uint64
	conns         atomic.Uint64
	connsRejected atomic.Uint64
	connsOpen     atomic.Int64
}

// addBatch counts one read batch: a few atomic adds per batch, plus one per
// distinct reason among its rejected lines.
func (c *counters) addBatch(b *Batch, nbytes int) {
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
	}
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Datagrams:              c.datagrams.Load(),
		Samples:                c.samples.Load(),
		Bytes:                  c.bytes.Load(),
		Reads:                  c.reads.Load(),
		ReadErrors:             c.readErrors.Load(),
		TCPConnections:         c.conns.Load(),
		TCPConnectionsRejected: c.connsRejected.Load(),
	}
	if n := c.connsOpen.Load(); n > 0 {
		s.TCPConnectionsOpen = uint64(n)
	}
	for r := range c.errors {
		s.Errors[r] = c.errors[r].Load()
	}
	return s
}

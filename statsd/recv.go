package statsd

import (
	"time"
)

// drainWait is how long a draining read without recvmmsg (other systems,
// stream connections) waits for more data before deciding nothing is left.
// Loopback and local senders have queued their data long before.
const drainWait = 20 * time.Millisecond

// rejectTooLong adds to b a datagram (or stream line) that a size limit cut
// before its end, start being what was kept of it: one datagram, holding one
// line rejected as too_long. Whole lines over the limit are the Parser's to
// reject.
func rejectTooLong(b *Batch, start []byte) {
	b.Datagrams++
	b.Errors = append(b.Errors, ParseError{Reason: ReasonTooLong, Line: start})
}

// A deadliner is a socket whose reads can be given a deadline.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

// A drainer carries a reader that has no non-blocking read (the portable
// packet path, a stream connection) through Shutdown. Shutdown wakes it
// with a read deadline in the past; from then on it reads with a deadline
// drainWait away, and stops at the first read that finds nothing.
type drainer struct {
	s        *Server
	draining bool
}

// arm sets the deadline of the next read from conn: drainWait from now while
// draining, else idle from now (none when idle is 0). An idle deadline set
// just after Shutdown's wake-up would undo it, so then draining starts at
// once.
func (d *drainer) arm(conn deadliner, idle time.Duration) {
	if !d.draining {
		if idle <= 0 {
			return
		}
		conn.SetReadDeadline(time.Now().Add(idle))
		if !d.s.inShutdown.Load() {
			return
		}
		d.draining = true
	}
	conn.SetReadDeadline(time.Now().Add(drainWait))
}

// timedOut reports whether err, from a read, is Shutdown's wake-up or a
// draining read that found nothing (shutdown), and if so whether the reader
// is done: it is after a draining read.
func (d *drainer) timedOut(err error) (shutdown, done bool) {
	if !isTimeout(err) || !d.s.inShutdown.Load() {
		return false, false
	}
	done = d.draining
	d.draining = true
	return true, done
}

// readPacketsSimple serves ps with one datagram per read: the portable path,
// used where recvmmsg is not available, or for a net.PacketConn that is not
// a system socket.
func (s *Server) readPacketsSimple(ps *packetSock, cfg *config) error {
	max := cfg.maxDatagramSize
	buf := make([]byte, max+1) // one more byte tells a truncated datagram
	var batch Batch
	parser := cfg.parser
	var delay time.Duration
	d := drainer{s: s}
	for {
		d.arm(ps.conn, 0)
		var n int
		var err error
		if ps.rd != nil {
			n, err = ps.rd.Read(buf) // no net.Addr to allocate
		} else {
			n, _, err = ps.conn.ReadFrom(buf)
		}
		if err != nil {
			if shutdown, done := d.timedOut(err); shutdown {
				if done {
					return nil // nothing more queued
				}
				continue
			}
			if stop, ret := s.readError(ps, err, &delay); stop {
				return ret
			}
			continue
		}
		delay = 0
		batch.Reset()
		if n > max {
			rejectTooLong(&batch, buf[:max])
		} else {
			parser.Parse(&batch, buf[:n])
		}
		s.count(&batch, n)
		s.handle(&batch)
	}
}

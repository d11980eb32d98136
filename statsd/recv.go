package statsd

import (
	"time"
)

// drainWait is how long a draining read without recvmmsg (other systems,
// stream connections) waits for more data before deciding nothing is left.
// Loopback and local senders have queued their data long before.
const drainWait = 20 * time.Millisecond

// readPacketsSimple serves ps with one datagram per read: the portable path,
// used where recvmmsg is not available, or for a net.PacketConn that is not
// a system socket.
func (s *Server) readPacketsSimple(ps *packetSock, cfg *config) error {
	max := cfg.maxDatagramSize
	buf := make([]byte, max+1) // one more byte tells a truncated datagram
	var batch Batch
	parser := Parser{MaxLineLength: cfg.maxLineLength}
	var delay time.Duration
	draining := false
	for {
		if draining {
			ps.conn.SetReadDeadline(time.Now().Add(drainWait))
		}
		var n int
		var err error
		if ps.rd != nil {
			n, err = ps.rd.Read(buf) // no net.Addr to allocate
		} else {
			n, _, err = ps.conn.ReadFrom(buf)
		}
		if err != nil {
			if isTimeout(err) && s.inShutdown.Load() {
				if draining {
					return nil // nothing more queued
				}
				draining = true
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
			batch.Datagrams++
			batch.Errors = append(batch.Errors, ParseError{Reason: ReasonTooLong, Line: buf[:max]})
		} else {
			parser.Parse(&batch, buf[:n])
		}
		s.stats.addBatch(&batch, n)
		s.handle(&batch)
	}
}

package main

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gunicornotel/gunicornotel/internal/ratelog"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// relay forwards every valid StatsD line the server reads to another StatsD
// server over UDP (--statsd.relay.address), as statsd_exporter's relay does:
// lines are batched, one per '\n', into datagrams of at most maxPacket bytes.
//
// It never slows intake: the server's readers only copy lines into a packet
// buffer under a short lock, and hand full packets to a sender goroutine
// through a bounded queue. When every buffer is taken (the target or the
// network is slower than the traffic), lines are dropped and counted, never
// waited for. Nothing is allocated per line: at most queue+2 buffers of
// maxPacket bytes are ever made.
//
// A line is forwarded as it was parsed: the same name, values, type, sample
// rate, tags, container id and timestamp, in that order, with numbers in their
// shortest form (1.50 is sent as 1.5).
type relay struct {
	target    string
	conn      net.Conn
	maxPacket int
	log       *slog.Logger

	mu   sync.Mutex
	cur  []byte // the packet being filled; nil when there is none
	line []byte // the line being written, before it is copied into cur
	made int    // buffers made so far, at most maxBufs

	maxBufs int
	free    chan []byte // empty buffers
	full    chan []byte // packets waiting for the sender
	done    chan struct{}

	relayed, dropped, tooLong, packets, sendErrors atomic.Uint64
	dropLog, errLog                                ratelog.Limiter
	closeOnce                                      sync.Once
}

// newRelay dials target (host:port) over UDP and starts the sender. queue is
// how many full packets may wait to be sent.
func newRelay(target string, maxPacket, queue int, log *slog.Logger) (*relay, error) {
	conn, err := net.Dial("udp", target)
	if err != nil {
		return nil, fmt.Errorf("--statsd.relay.address %s: %w", target, err)
	}
	return newRelayConn(conn, target, maxPacket, queue, log), nil
}

// newRelayConn returns a relay sending on conn, and starts its sender.
func newRelayConn(conn net.Conn, target string, maxPacket, queue int, log *slog.Logger) *relay {
	r := &relay{
		target:    target,
		conn:      conn,
		maxPacket: maxPacket,
		log:       log,
		maxBufs:   queue + 2, // the queue, the one being filled, the one being sent
		free:      make(chan []byte, queue+2),
		full:      make(chan []byte, queue+2),
		done:      make(chan struct{}),
	}
	go r.send()
	return r
}

// send writes each full packet to the target and returns its buffer.
func (r *relay) send() {
	defer close(r.done)
	for p := range r.full {
		if _, err := r.conn.Write(p); err != nil {
			total := r.sendErrors.Add(1)
			if since, ok := r.errLog.Due(time.Now().UnixNano(), total); ok {
				r.log.Warn("relay: sending failed (logged once a minute at most)", "target", r.target, "err", err,
					"count", since, "send_errors", total)
			}
		} else {
			r.packets.Add(1)
		}
		r.free <- p[:0] // never blocks: free holds every buffer made
	}
}

// buffer returns an empty packet buffer, or nil when all maxBufs are taken.
// r.mu is held.
func (r *relay) buffer() []byte {
	select {
	case b := <-r.free:
		return b
	default:
	}
	if r.made < r.maxBufs {
		r.made++
		return make([]byte, 0, r.maxPacket)
	}
	return nil
}

// Handle forwards the lines of b's samples (not the rejected lines), then
// hands the packet being filled to the sender. It implements
// statsd.Handler.
func (r *relay) Handle(b *statsd.Batch) {
	if len(b.Samples) == 0 {
		return
	}
	var dropped uint64
	r.mu.Lock()
	for i := 0; i < len(b.Samples); {
		// The samples of one line (packed values) share their name's bytes.
		j := i + 1
		for j < len(b.Samples) && sameLine(&b.Samples[i], &b.Samples[j]) {
			j++
		}
		if !r.add(b.Samples[i:j]) {
			dropped++
		}
		i = j
	}
	if len(r.cur) > 0 {
		r.full <- r.cur // never blocks: full holds every buffer made
		r.cur = nil
	}
	r.mu.Unlock()
	if dropped > 0 {
		total := r.dropped.Add(dropped)
		if since, ok := r.dropLog.Due(time.Now().UnixNano(), total); ok {
			r.log.Warn("relay: queue full, lines dropped (logged once a minute at most)", "target", r.target,
				"queue", r.maxBufs-2, "count", since, "dropped", total)
		}
	}
}

// add appends the line of samples to the packet being filled, starting a new
// packet when it does not fit. It reports false when the line is dropped for
// want of a buffer. r.mu is held.
func (r *relay) add(samples []statsd.Sample) bool {
	if r.cur == nil {
		if r.cur = r.buffer(); r.cur == nil {
			return false // no buffer: not worth writing the line
		}
	}
	r.line = append(appendLine(r.line[:0], samples), '\n')
	if len(r.line) > r.maxPacket {
		// Too long for any packet (statsd_exporter drops it too).
		r.tooLong.Add(1)
		return true
	}
	if len(r.cur)+len(r.line) > r.maxPacket {
		next := r.buffer()
		if next == nil {
			return false
		}
		r.full <- r.cur // never blocks: full holds every buffer made
		r.cur = next
	}
	r.cur = append(r.cur, r.line...)
	r.relayed.Add(1)
	return true
}

// sameLine reports whether two samples come from one line: packed values
// share the bytes of their name.
func sameLine(a, b *statsd.Sample) bool {
	return len(a.Name) == len(b.Name) && &a.Name[0] == &b.Name[0]
}

// appendLine appends the StatsD line of samples (one line's samples, at
// least one) to dst, without its newline.
func appendLine(dst []byte, samples []statsd.Sample) []byte {
	s := &samples[0]
	dst = append(dst, s.Name...)
	for i := range samples {
		dst = append(dst, ':')
		v := &samples[i]
		switch {
		case v.Type == statsd.Set:
			dst = append(dst, v.Member...)
			continue
		case v.Type == statsd.Gauge && v.Delta && !math.Signbit(v.Value):
			dst = append(dst, '+')
		}
		dst = appendNumber(dst, v.Value)
	}
	dst = append(dst, '|')
	dst = append(dst, s.Type.Symbol()...)
	if s.Rate != 1 {
		dst = append(dst, "|@"...)
		dst = appendNumber(dst, s.Rate)
	}
	if len(s.Tags) > 0 {
		dst = append(dst, "|#"...)
		dst = append(dst, s.Tags...)
	}
	if len(s.ContainerID) > 0 {
		dst = append(dst, "|c:"...)
		dst = append(dst, s.ContainerID...)
	}
	if s.Timestamp != 0 {
		dst = append(dst, "|T"...)
		dst = strconv.AppendInt(dst, s.Timestamp, 10)
	}
	return dst
}

// appendNumber appends v in its shortest form: plain decimals for everyday
// magnitudes, an exponent for the very large and very small.
func appendNumber(dst []byte, v float64) []byte {
	if v == math.Trunc(v) && v > -1e15 && v < 1e15 && !(v == 0 && math.Signbit(v)) {
		return strconv.AppendInt(dst, int64(v), 10) // the common case, three times faster
	}
	if a := math.Abs(v); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(dst, v, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// relayStats are the relay's counters.
type relayStats struct {
	Relayed, Dropped, TooLong, Packets, SendErrors uint64
}

// stats returns the relay's counters.
func (r *relay) stats() relayStats {
	return relayStats{
		Relayed:    r.relayed.Load(),
		Dropped:    r.dropped.Load(),
		TooLong:    r.tooLong.Load(),
		Packets:    r.packets.Load(),
		SendErrors: r.sendErrors.Load(),
	}
}

// close sends what is queued and closes the socket. Call it once no Handle
// call can come any more (after the server's Shutdown). It is idempotent.
func (r *relay) close() error {
	var err error
	r.closeOnce.Do(func() {
		close(r.full)
		<-r.done
		err = r.conn.Close()
	})
	return err
}

// tee is a statsd.Handler that hands each batch to every handler in turn.
type tee []statsd.Handler

// Handle calls each handler with b.
func (t tee) Handle(b *statsd.Batch) {
	for _, h := range t {
		h.Handle(b)
	}
}

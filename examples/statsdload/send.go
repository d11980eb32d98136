package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// A batchWriter sends datagrams on a connected socket, several per system
// call where it can.
type batchWriter interface {
	// writeBatch sends msgs in order. It returns how many were sent before
	// an error; a failed datagram is not retried by the writer.
	writeBatch(msgs [][]byte) (int, error)
	Close() error
}

// dialTarget connects a datagram socket to target ("udp://host:port",
// "host:port", "unixgram:///path", "unix:/path") and returns its batch
// writer: sendmmsg on Linux, one write per datagram elsewhere.
func dialTarget(target string, batch int) (batchWriter, error) {
	c, err := statsdtest.Dial(target)
	if err != nil {
		return nil, err
	}
	w, err := newBatchWriter(c, batch)
	if err != nil {
		c.Close()
		return nil, err
	}
	return w, nil
}

// connWriter is the portable batchWriter: one Write per datagram.
type connWriter struct{ net.Conn }

func (w connWriter) writeBatch(msgs [][]byte) (int, error) {
	for i, m := range msgs {
		if _, err := w.Write(m); err != nil {
			return i, err
		}
	}
	return len(msgs), nil
}

// sendResult is what a send loop did.
type sendResult struct {
	Datagrams int64         // datagrams the socket accepted
	Requests  int64         // of which gunicorn.requests counters
	Errors    int64         // datagrams the socket refused (each skipped)
	FirstErr  error         // the first refusal
	Elapsed   time.Duration // from the first send to the last
	MaxExtra  int           // the longest extra datagram of a memory mode, in bytes
}

// sendPlan says what to send: count datagrams (rounded up to whole units),
// or for duration (then whole units), at rate datagrams a second (0: as
// fast as possible), batch datagrams at most per system call.
type sendPlan struct {
	first    int64 // index of the first datagram, at the start of a unit
	count    int64
	duration time.Duration
	rate     float64
	batch    int
	progress *atomic.Int64 // if not nil, the datagrams sent so far
}

// send sends t's datagrams through w as p says, until done or ctx ends.
// A datagram the socket refuses (ECONNREFUSED after an ICMP error, ENOBUFS)
// is counted in Errors and skipped: the run goes on, as Gunicorn's does.
func send(ctx context.Context, w batchWriter, t *traffic, p sendPlan) sendResult {
	var res sendResult
	if p.batch <= 0 {
		p.batch = 64
	}
	msgs := make([][]byte, p.batch)
	limit := int64(-1) // index of the datagram after the last; -1 while a duration runs
	if p.duration <= 0 {
		limit = p.first + t.unitsFor(p.count)*int64(t.unit)
	}
	start := time.Now()
	next := p.first // index of the next datagram of the run
	for {
		if limit < 0 && time.Since(start) >= p.duration {
			// Finish the unit under way, so every request is whole.
			limit = t.unitsFor(next) * int64(t.unit)
		}
		if limit >= 0 && next >= limit {
			break
		}
		if ctx.Err() != nil {
			break
		}
		n := int64(p.batch)
		if p.rate > 0 {
			due := p.first + int64(p.rate*time.Since(start).Seconds()) + 1
			ahead := due - next
			if ahead <= 0 {
				// Sleep until half a batch is due (the timer may oversleep:
				// the next rounds catch up).
				at := start.Add(time.Duration(float64(next-p.first+int64(p.batch)/2) / p.rate * float64(time.Second)))
				time.Sleep(max(time.Until(at), 50*time.Microsecond))
				continue
			}
			// Behind (a sleep overslept, or the sender was not scheduled):
			// catch up batch after batch, so the average rate is the one
			// asked; a sender that cannot keep up sends as fast as it can.
			n = min(n, ahead)
		}
		if limit >= 0 {
			n = min(n, limit-next)
		}
		batch := msgs[:n]
		t.fill(batch, next)
		for len(batch) > 0 {
			k, err := w.writeBatch(batch)
			res.Datagrams += int64(k)
			if p.progress != nil {
				p.progress.Add(int64(k))
			}
			res.Requests += t.requestsIn(next, int64(k))
			next += int64(k)
			batch = batch[k:]
			if err != nil {
				if isClosed(err) {
					res.Elapsed = time.Since(start)
					res.MaxExtra = t.maxExtra
					if res.FirstErr == nil {
						res.FirstErr = err
					}
					return res
				}
				res.Errors++
				if res.FirstErr == nil {
					res.FirstErr = err
				}
				next++
				batch = batch[1:]
			}
		}
	}
	res.Elapsed = time.Since(start)
	res.MaxExtra = t.maxExtra
	return res
}

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// rateString formats a rate in datagrams a second for the report.
func rateString(r float64) string {
	if r == 0 {
		return "max"
	}
	return fmt.Sprintf("%.0f", r)
}

// sendParallel sends the run of p from senders sockets at once, each its
// own goroutine and source port: a share of the units and of the rate each.
// One sender's system calls (on loopback they carry the whole delivery to
// the receiving socket) may not reach a high rate alone.
func sendParallel(ctx context.Context, dial func() (batchWriter, error), mk func() *traffic, p sendPlan, senders int) (sendResult, error) {
	if senders <= 1 {
		w, err := dial()
		if err != nil {
			return sendResult{}, err
		}
		defer w.Close()
		return send(ctx, w, mk(), p), nil
	}
	ws := make([]batchWriter, senders)
	for i := range ws {
		w, err := dial()
		if err != nil {
			for _, w := range ws[:i] {
				w.Close()
			}
			return sendResult{}, err
		}
		ws[i] = w
	}
	results := make([]sendResult, senders)
	var wg sync.WaitGroup
	for i := range ws {
		t := mk()
		q := p
		q.rate = p.rate / float64(senders)
		if p.duration > 0 {
			// Far apart, so that no two senders send the same datagram.
			q.first = int64(i) << 40 * int64(t.unit)
		} else {
			units := t.unitsFor(p.count)
			lo, hi := units*int64(i)/int64(senders), units*int64(i+1)/int64(senders)
			q.first, q.count = lo*int64(t.unit), (hi-lo)*int64(t.unit)
			if q.count == 0 {
				continue
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ws[i].Close()
			results[i] = send(ctx, ws[i], t, q)
		}()
	}
	wg.Wait()
	var res sendResult
	for _, r := range results {
		res.Datagrams += r.Datagrams
		res.Requests += r.Requests
		res.Errors += r.Errors
		if res.FirstErr == nil {
			res.FirstErr = r.FirstErr
		}
		res.Elapsed = max(res.Elapsed, r.Elapsed)
		res.MaxExtra = max(res.MaxExtra, r.MaxExtra)
	}
	return res, nil
}

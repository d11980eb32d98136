// Package ratelog keeps a log record that repeats from flooding the log: a
// Limiter lets the record about one kind of event through the first time,
// then at most once per Interval, and says how many events came since the
// last record, the ones whose records it held back included.
//
// Its users are the library's packages (the mapper's dropped tags, the
// bridge's limits, the StatsD server's) and the programs of the examples
// module (the relay, the web server's connection limit).
package ratelog

import (
	"sync/atomic"
	"time"
)

// Interval is the least time between two records of one Limiter.
const Interval = time.Minute

// A Limiter decides when the record about one kind of event is due. The
// zero Limiter is ready: the first event is logged. It is safe for
// concurrent use.
type Limiter struct {
	next   atomic.Int64  // clock reading before which no record is due
	logged atomic.Uint64 // the events' running total at the last record
}

// Due reports whether a record is due at now, given total, the running
// count of the events the record is about (a counter kept anyway, such as
// the one Stats reports): for the first call, then for the first call at
// least Interval after the last record. Of concurrent calls, at most one
// gets ok. When a record is due, since is how much total grew since the last
// record (all of it, the first time): the events of this call and those
// whose records were held back. Reported in the record, it makes the sum of
// the records' counts the total.
//
// now is in nanoseconds on any clock that does not go back and reads 0 or
// more: time.Now().UnixNano(), the time since a start, a test's fake clock.
func (l *Limiter) Due(now int64, total uint64) (since uint64, ok bool) {
	next := l.next.Load()
	if now < next || !l.next.CompareAndSwap(next, now+int64(Interval)) {
		return 0, false
	}
	return total - l.logged.Swap(total), true
}

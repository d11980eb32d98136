package statsdtest

import (
	"strconv"
	"sync"
	"time"
)

// Config is how Gunicorn was started, as far as its StatsD traffic goes.
type Config struct {
	// Version is the Gunicorn release to imitate; zero means Latest.
	Version Version
	// Prefix is the --statsd-prefix value exactly as the user passed it;
	// the Emitter normalises it as Gunicorn does (see NormalizePrefix).
	Prefix string
	// Tags is the --dogstatsd-tags value exactly as the user passed it
	// ("env:prod,team:web"); when not empty it is appended as "|#<Tags>" to
	// every datagram, unchecked (Gunicorn 20.0 and later; ignored before).
	Tags string
}

// LogLevel is a level of log record that Gunicorn counts in
// "gunicorn.log.<level>".
type LogLevel string

// The log levels Gunicorn counts. Every record of these levels is counted,
// whatever --log-level is; info and debug records are not counted.
const (
	LogCritical  LogLevel = "critical"
	LogError     LogLevel = "error"
	LogWarning   LogLevel = "warning"
	LogException LogLevel = "exception"
)

// MetricType is the "mtype" an application passes in extra= when it logs a
// metric through Gunicorn's logger. Any other string is accepted by Gunicorn
// and sends nothing.
type MetricType string

// The metric types Gunicorn's logger understands.
const (
	MetricGauge     MetricType = "gauge"     // "|g"
	MetricCounter   MetricType = "counter"   // "|c|@1.0"
	MetricHistogram MetricType = "histogram" // "|ms" before 24.1, "|h" from 24.1
	MetricTimer     MetricType = "timer"     // "|ms", 24.1 and later; nothing before
)

// Value is the Python object an application passes as extra["value"]:
// Gunicorn writes it with str(), and before 26.1 drops it when it is falsy
// (0, 0.0, ""). Make one with [Int], [Float] or [Str].
type Value struct {
	text  string
	falsy bool
}

// Int is a Python int: written in decimal ("3", "-2"); 0 is falsy.
func Int(n int64) Value {
	return Value{text: strconv.FormatInt(n, 10), falsy: n == 0}
}

// Float is a Python float: written as str(float) ("3.0", "0.25", "1e-05");
// 0.0 and -0.0 are falsy.
func Float(f float64) Value {
	return Value{text: FormatPythonFloat(f), falsy: f == 0}
}

// Str is a Python str, written as is ("0" is not falsy; "" is).
func Str(s string) Value {
	return Value{text: s, falsy: s == ""}
}

// String returns the value as Gunicorn writes it.
func (v Value) String() string { return v.text }

// An Emitter produces the datagrams one Gunicorn installation sends (one
// master and its workers sharing a configuration) and writes each one to its
// Sink, one Sink call per datagram.
//
// The methods named after what Gunicorn emits (Request, Workers, Log,
// Backlog, Metric) write to the Sink and return the first error it
// returned, after still trying the other datagrams of the call, as Gunicorn
// does. The Append methods only append the datagrams to a slice; they use no
// Sink and allocate nothing when the slice has room (see AppendRequest).
//
// An Emitter is safe for concurrent use; the datagrams of one call reach the
// Sink together and in order.
type Emitter struct {
	version Version
	prefix  string
	tags    string
	sink    Sink

	mu  sync.Mutex
	buf [][]byte
}

// NewEmitter returns an Emitter for cfg that writes to sink. sink may be nil
// for an Emitter used only through its Append methods; the other methods
// then discard what they produce.
func NewEmitter(cfg Config, sink Sink) *Emitter {
	v := cfg.Version
	if v == 0 {
		v = Latest
	}
	tags := cfg.Tags
	if v < Gunicorn20 {
		tags = ""
	}
	return &Emitter{version: v, prefix: NormalizePrefix(cfg.Prefix), tags: tags, sink: sink}
}

// Version returns the Gunicorn version the Emitter imitates (never zero).
func (e *Emitter) Version() Version { return e.version }

// Prefix returns the normalised prefix put before every metric name.
func (e *Emitter) Prefix() string { return e.prefix }

// Tags returns the DogStatsD tags appended to every datagram ("" for none,
// and always "" before Gunicorn 20.0).
func (e *Emitter) Tags() string { return e.tags }

// Request sends what a worker sends after a request answered with status
// code status (any integer the application returned) that took d:
// gunicorn.request.duration (see FormatDuration), gunicorn.requests and
// gunicorn.request.status.<status>, in that order.
func (e *Emitter) Request(status int, d time.Duration) error {
	return e.send(func(dst [][]byte) [][]byte { return e.AppendRequest(dst, status, d) })
}

// Workers sends the arbiter's "gunicorn.workers:<n>|g". The arbiter logs it
// through extra=, so before 26.1 a count of 0 sends nothing. (Since 19.4 the
// arbiter sends it only when the count changes; that is left to the caller.)
func (e *Emitter) Workers(n int) error {
	return e.send(func(dst [][]byte) [][]byte { return e.AppendWorkers(dst, n) })
}

// Log sends "gunicorn.log.<level>:1|c|@1.0", counted for each log record of
// that level.
func (e *Emitter) Log(level LogLevel) error {
	return e.send(func(dst [][]byte) [][]byte { return e.AppendLog(dst, level) })
}

// Backlog sends the arbiter's "gunicorn.backlog:<n>|h" (24.1 and later, with
// --enable-backlog-metric): connections waiting in the listeners' accept
// queues. Before 24.1 it sends nothing; before 26.1 a backlog of 0 sends
// nothing; a negative n (which Gunicorn never measures) sends nothing.
func (e *Emitter) Backlog(n int) error {
	return e.send(func(dst [][]byte) [][]byte { return e.AppendBacklog(dst, n) })
}

// Metric sends what Gunicorn's logger sends when an application logs at info
// or debug level (or through log()) with
// extra={"metric": name, "value": v, "mtype": typ}: nothing when name or typ
// is empty, when typ is not one this version knows, or (before 26.1) when v
// is falsy; otherwise "<prefix><name>:<v>" and "|g", "|c|@1.0", "|ms" or
// "|h" (see MetricType).
func (e *Emitter) Metric(name string, typ MetricType, v Value) error {
	return e.send(func(dst [][]byte) [][]byte { return e.AppendMetric(dst, name, typ, v) })
}

func (e *Emitter) send(appendFn func([][]byte) [][]byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = appendFn(e.buf[:0])
	if e.sink == nil {
		return nil
	}
	var first error
	for _, d := range e.buf {
		if err := e.sink.WriteDatagram(d); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// AppendRequest appends the three datagrams of Request to dst and returns
// the extended slice.
//
// Like every Append method, it reuses the backing arrays of the slices
// between len(dst) and cap(dst) when they have room, so a caller that
// passes the same slice back truncated to zero (dst = e.AppendRequest(dst[:0],
// ...)) produces datagrams without allocating. The appended slices are then
// overwritten by the next such call.
func (e *Emitter) AppendRequest(dst [][]byte, status int, d time.Duration) [][]byte {
	dst, b := next(dst)
	b = append(b, e.prefix...)
	b = append(b, "gunicorn.request.duration:"...)
	b = AppendDuration(b, d)
	b = append(b, "|ms"...)
	dst = e.finish(dst, b)

	dst, b = next(dst)
	b = append(b, e.prefix...)
	b = append(b, "gunicorn.requests:1|c|@1.0"...)
	dst = e.finish(dst, b)

	dst, b = next(dst)
	b = append(b, e.prefix...)
	b = append(b, "gunicorn.request.status."...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ":1|c|@1.0"...)
	return e.finish(dst, b)
}

// AppendWorkers appends the datagrams of Workers (none or one) to dst.
func (e *Emitter) AppendWorkers(dst [][]byte, n int) [][]byte {
	return e.appendLogged(dst, "gunicorn.workers", MetricGauge, strconv.Itoa(n), n == 0)
}

// AppendLog appends the datagram of Log to dst. A level other than the four
// declared ones is written as given, though Gunicorn never sends one.
func (e *Emitter) AppendLog(dst [][]byte, level LogLevel) [][]byte {
	dst, b := next(dst)
	b = append(b, e.prefix...)
	b = append(b, "gunicorn.log."...)
	b = append(b, level...)
	b = append(b, ":1|c|@1.0"...)
	return e.finish(dst, b)
}

// AppendBacklog appends the datagrams of Backlog (none or one) to dst.
func (e *Emitter) AppendBacklog(dst [][]byte, n int) [][]byte {
	if e.version < Gunicorn24_1 || n < 0 {
		return dst
	}
	return e.appendLogged(dst, "gunicorn.backlog", MetricHistogram, strconv.Itoa(n), n == 0)
}

// AppendMetric appends the datagrams of Metric (none or one) to dst.
func (e *Emitter) AppendMetric(dst [][]byte, name string, typ MetricType, v Value) [][]byte {
	return e.appendLogged(dst, name, typ, v.text, v.falsy)
}

// appendLogged is Gunicorn's Statsd.log() for extra={"metric": name,
// "value": value, "mtype": typ}.
func (e *Emitter) appendLogged(dst [][]byte, name string, typ MetricType, value string, falsy bool) [][]byte {
	if name == "" || typ == "" {
		return dst
	}
	if falsy && e.version < Gunicorn26_1 {
		return dst
	}
	var suffix string
	switch typ {
	case MetricGauge:
		suffix = "|g"
	case MetricCounter:
		suffix = "|c|@1.0"
	case MetricHistogram:
		suffix = "|ms"
		if e.version >= Gunicorn24_1 {
			suffix = "|h"
		}
	case MetricTimer:
		if e.version < Gunicorn24_1 {
			return dst
		}
		suffix = "|ms"
	default:
		return dst
	}
	dst, b := next(dst)
	b = append(b, e.prefix...)
	b = append(b, name...)
	b = append(b, ':')
	b = append(b, value...)
	b = append(b, suffix...)
	return e.finish(dst, b)
}

// next extends dst by one datagram, reusing the backing array of the slot
// beyond len(dst) when there is one.
func next(dst [][]byte) ([][]byte, []byte) {
	if len(dst) < cap(dst) {
		dst = dst[:len(dst)+1]
		return dst, dst[len(dst)-1][:0]
	}
	return append(dst, nil), nil
}

// finish adds the tags to b, the datagram built in the last slot of dst, and
// stores it there, or drops the slot when b is not ASCII (Gunicorn's
// msg.encode("ascii") fails and the datagram is not sent).
func (e *Emitter) finish(dst [][]byte, b []byte) [][]byte {
	if e.tags != "" {
		b = append(b, "|#"...)
		b = append(b, e.tags...)
	}
	last := len(dst) - 1
	for _, c := range b {
		if c >= 0x80 {
			dst[last] = b[:0] // keep the buffer for reuse
			return dst[:last]
		}
	}
	dst[last] = b
	return dst
}

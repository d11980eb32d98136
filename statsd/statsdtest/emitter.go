package statsdtest

import (
	"reflect"
	"strconv"
	"sync"
	"time"
)

// Config is how Gunicorn was started, as far as its StatsD traffic goes.
type Config struct {
	// Version is the Gunicorn release to imitate, such as V(20, 1, 0);
	// zero means the newest behaviour modelled (26.1). Versions before
	// 19.1.1 are treated as 19.1.1.
	Version Version
	// Prefix is the --statsd-prefix value exactly as the user passed it.
	// The Emitter normalises it as Gunicorn does, with
	// re.sub(r"^(.+[^.]+)\.*$", r"\g<1>.", prefix), quirks included:
	//
	//	""        ""          no prefix
	//	"app"     "app."
	//	"app..."  "app."
	//	"a.b"     "a.b."
	//	"a"       "a"         one character: no dot ("agunicorn.requests")
	//	"a.."     "a.."       unchanged: one character before the dots
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
	LogCritical  LogLevel = "critical" // also a worker timeout ("WORKER TIMEOUT")
	LogError     LogLevel = "error"
	LogWarning   LogLevel = "warning"
	LogException LogLevel = "exception" // an application's unhandled exception
)

// An Emitter produces the datagrams one Gunicorn installation sends (one
// master and its workers sharing a configuration) and writes each one to its
// Sink, one Sink call per datagram.
//
// The methods named after what Gunicorn emits (Request, Workers, Log,
// Backlog, Metric) write to the Sink and return the first error it
// returned, after still trying the other datagrams of the call, as Gunicorn
// does. AppendRequest only appends a request's datagrams to a slice, for
// benchmarks and load tools.
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
// for an Emitter used only through AppendRequest; the other methods then
// discard what they produce.
func NewEmitter(cfg Config, sink Sink) *Emitter {
	v := cfg.Version
	if v == 0 {
		v = latest
	}
	tags := cfg.Tags
	if v < gunicorn20 {
		tags = ""
	}
	return &Emitter{version: v, prefix: normalizePrefix(cfg.Prefix), tags: tags, sink: sink}
}

// Request sends what a worker sends after a request answered with status
// code status (any integer the application returned) that took d:
// gunicorn.request.duration, gunicorn.requests and
// gunicorn.request.status.<status>, in that order.
//
// The duration is written in milliseconds as Gunicorn computes them from a
// Python timedelta and prints them with str(float): d is cut to whole
// microseconds, so 550µs is "0.55", 7s is "7000.0" and 1.016036s is
// "1016.0360000000001"; a request longer than a day wraps, and a negative d
// (the wall clock stepped back) counts from the day before, as in Gunicorn.
func (e *Emitter) Request(status int, d time.Duration) error {
	return e.send(func(dst [][]byte) [][]byte { return e.AppendRequest(dst, status, d) })
}

// Workers sends the arbiter's "gunicorn.workers:<n>|g". The arbiter logs it
// through extra=, so before 26.1 a count of 0 sends nothing. (Since 19.4 the
// arbiter sends it only when the count changes; that is left to the caller.)
func (e *Emitter) Workers(n int) error {
	return e.send(func(dst [][]byte) [][]byte { return e.appendWorkers(dst, n) })
}

// Log sends "gunicorn.log.<level>:1|c|@1.0", counted for each log record of
// that level.
func (e *Emitter) Log(level LogLevel) error {
	return e.send(func(dst [][]byte) [][]byte { return e.appendLog(dst, level) })
}

// Backlog sends the arbiter's "gunicorn.backlog:<n>|h" (24.1 and later, with
// --enable-backlog-metric): connections waiting in the listeners' accept
// queues. Before 24.1 it sends nothing; before 26.1 a backlog of 0 sends
// nothing; a negative n (which Gunicorn never measures) sends nothing.
func (e *Emitter) Backlog(n int) error {
	return e.send(func(dst [][]byte) [][]byte { return e.appendBacklog(dst, n) })
}

// Metric sends what Gunicorn's logger sends when an application logs at info
// or debug level with extra={"metric": name, "value": value, "mtype": mtype}:
// "<prefix><name>:<value>" followed by
//
//	mtype "gauge"      "|g"
//	mtype "counter"    "|c|@1.0"
//	mtype "histogram"  "|ms" before 24.1, "|h" from 24.1
//	mtype "timer"      "|ms" from 24.1 (nothing before)
//
// value is written as Python's str() writes the Python value it stands for:
// a Go integer as an int ("3"), a float as a float (2.5 is "2.5", 3.0 is
// "3.0", 1e-05 is "1e-05"), a string as is, a bool as "True" or "False".
// Before 26.1 a falsy value (0, 0.0, "", false) sends nothing. Nothing is
// sent either when name or mtype is empty, when mtype is not one of the
// above, or when value has any other type (nil included).
func (e *Emitter) Metric(name, mtype string, value any) error {
	return e.send(func(dst [][]byte) [][]byte { return e.appendMetric(dst, name, mtype, value) })
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
// the extended slice. It uses no Sink.
//
// It reuses the backing arrays of the slices between len(dst) and cap(dst)
// when they have room, so a caller that passes the same slice back
// truncated to zero (dst = e.AppendRequest(dst[:0], ...)) produces
// datagrams without allocating. The appended slices are then overwritten by
// the next such call.
func (e *Emitter) AppendRequest(dst [][]byte, status int, d time.Duration) [][]byte {
	dst, b := next(dst)
	b = append(b, e.prefix...)
	b = append(b, "gunicorn.request.duration:"...)
	b = appendDuration(b, d)
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

// appendWorkers appends the datagrams of Workers (none or one) to dst.
func (e *Emitter) appendWorkers(dst [][]byte, n int) [][]byte {
	return e.appendLogged(dst, "gunicorn.workers", "gauge", strconv.Itoa(n), n == 0)
}

// appendLog appends the datagram of Log to dst. A level other than the four
// declared ones is written as given, though Gunicorn never sends one.
func (e *Emitter) appendLog(dst [][]byte, level LogLevel) [][]byte {
	dst, b := next(dst)
	b = append(b, e.prefix...)
	b = append(b, "gunicorn.log."...)
	b = append(b, level...)
	b = append(b, ":1|c|@1.0"...)
	return e.finish(dst, b)
}

// appendBacklog appends the datagrams of Backlog (none or one) to dst.
func (e *Emitter) appendBacklog(dst [][]byte, n int) [][]byte {
	if e.version < gunicorn24_1 || n < 0 {
		return dst
	}
	return e.appendLogged(dst, "gunicorn.backlog", "histogram", strconv.Itoa(n), n == 0)
}

// appendMetric appends the datagrams of Metric (none or one) to dst.
func (e *Emitter) appendMetric(dst [][]byte, name, mtype string, value any) [][]byte {
	text, falsy, ok := pythonStr(value)
	if !ok {
		return dst
	}
	return e.appendLogged(dst, name, mtype, text, falsy)
}

// pythonStr returns what Python's str() writes for the Python value v stands
// for, and whether that value is falsy; ok is false for a type Metric does
// not take.
func pythonStr(v any) (text string, falsy, ok bool) {
	if v == nil {
		return "", false, false
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(r.Int(), 10), r.Int() == 0, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(r.Uint(), 10), r.Uint() == 0, true
	case reflect.Float32, reflect.Float64:
		return formatPythonFloat(r.Float()), r.Float() == 0, true
	case reflect.String:
		return r.String(), r.Len() == 0, true
	case reflect.Bool:
		if r.Bool() {
			return "True", false, true
		}
		return "False", true, true
	}
	return "", false, false
}

// appendLogged is Gunicorn's Statsd.log() for extra={"metric": name,
// "value": value, "mtype": mtype}.
func (e *Emitter) appendLogged(dst [][]byte, name, mtype, value string, falsy bool) [][]byte {
	if name == "" || mtype == "" {
		return dst
	}
	if falsy && e.version < gunicorn26_1 {
		return dst
	}
	var suffix string
	switch mtype {
	case "gauge":
		suffix = "|g"
	case "counter":
		suffix = "|c|@1.0"
	case "histogram":
		suffix = "|ms"
		if e.version >= gunicorn24_1 {
			suffix = "|h"
		}
	case "timer":
		if e.version < gunicorn24_1 {
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

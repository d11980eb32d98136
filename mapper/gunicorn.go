package mapper

import (
	"bytes"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// The instrument names of the built-in Gunicorn profile.
const (
	NameRequestDuration = "gunicorn.request.duration"
	NameRequests        = "gunicorn.requests"
	NameResponses       = "gunicorn.responses"
	NameWorkers         = "gunicorn.workers"
	NameLogMessages     = "gunicorn.log.messages"
	NameBacklog         = "gunicorn.backlog"
)

// The attribute keys the built-in Gunicorn profile sets (besides the prefix
// key, "app" by default).
const (
	// AttrStatusCode carries a valid HTTP status code (100..599) as an int.
	AttrStatusCode = "http.response.status_code"
	// AttrErrorType is set to InvalidStatusCode on gunicorn.responses when
	// the application answered with a numeric status outside 100..599.
	AttrErrorType = "error.type"
	// AttrLevel carries the level of a Gunicorn log record: "critical",
	// "error", "warning" or "exception".
	AttrLevel = "level"
)

// InvalidStatusCode is the value of AttrErrorType on gunicorn.responses for
// a numeric status code outside 100..599 (0, 600, 1234567, -1): such
// responses still count, in one bounded series, without a status code.
const InvalidStatusCode = "invalid_status_code"

// HTTPServerDurationBuckets are the explicit bucket boundaries, in seconds,
// that the OpenTelemetry semantic conventions advise for
// http.server.request.duration. gunicorn.request.duration advises them. The
// slice is shared: do not modify it.
var HTTPServerDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// The Gunicorn metric names, as they appear after the prefix.
var (
	sufDuration = []byte("gunicorn.request.duration")
	sufRequests = []byte("gunicorn.requests")
	sufStatus   = []byte("gunicorn.request.status.")
	sufWorkers  = []byte("gunicorn.workers")
	sufLog      = []byte("gunicorn.log.")
	sufBacklog  = []byte("gunicorn.backlog")
)

// The Prometheus label names of the profile's attributes.
var (
	labelLevel      = promLabel(AttrLevel)
	labelStatusCode = promLabel(AttrStatusCode)
	labelErrorType  = promLabel(AttrErrorType)
)

// The profile's instruments, without attributes: copied for each series.
var (
	profDuration = Mapping{Reserved: true, Name: NameRequestDuration, Kind: KindHistogram, Unit: "s", Scale: 0.001,
		Buckets:     HTTPServerDurationBuckets,
		Description: "Duration of HTTP requests handled by Gunicorn workers, from the moment a worker starts handling a request until the response is written."}
	profRequests = Mapping{Reserved: true, Name: NameRequests, Kind: KindCounter, Unit: "{request}", Scale: 1,
		Description: "Number of HTTP requests handled by Gunicorn workers."}
	profResponses = Mapping{Reserved: true, Name: NameResponses, Kind: KindCounter, Unit: "{response}", Scale: 1,
		Description: "Number of HTTP responses sent by Gunicorn workers, by status code."}
	profWorkers = Mapping{Reserved: true, Name: NameWorkers, Kind: KindGauge, Unit: "{worker}", Scale: 1,
		Description: "Number of worker processes the Gunicorn arbiter manages."}
	profLog = Mapping{Reserved: true, Name: NameLogMessages, Kind: KindCounter, Unit: "{message}", Scale: 1,
		Description: "Number of log records Gunicorn wrote at level critical, error, warning or exception."}
	// The backlog is sent as a histogram sample (Gunicorn 24.1's "h") but is
	// a queue length: it is recorded as a gauge, its last value, where
	// recordAs would make a histogram.
	profBacklog = Mapping{Reserved: true, Name: NameBacklog, Kind: KindGauge, Unit: "{connection}", Scale: 1,
		Description: "Number of connections waiting in the accept queue of Gunicorn's listening sockets."}
)

// ReservedMappings returns the instruments of the built-in Gunicorn profile
// (name, kind, unit, description and buckets; no attributes), or nil when the
// profile is off. Their Reserved field is set. A consumer makes them before
// any sample comes, so that no other mapping can take their names. The
// Mappings are shared and must not be modified.
func (m *Mapper) ReservedMappings() []*Mapping {
	if !m.profile {
		return nil
	}
	return []*Mapping{&profDuration, &profRequests, &profResponses, &profWorkers, &profLog, &profBacklog}
}

// gunicorn maps the sample if it is one of Gunicorn's own metrics.
func (m *Mapper) gunicorn(s *statsd.Sample) (*Mapping, bool) {
	name := s.Name
	var (
		base   *Mapping
		prefix []byte
		own    [2]ownAttr
		nown   int
	)
	switch s.Type {
	case statsd.Timer:
		if bytes.HasSuffix(name, sufDuration) {
			base, prefix = &profDuration, name[:len(name)-len(sufDuration)]
		}
	case statsd.Gauge:
		if bytes.HasSuffix(name, sufWorkers) {
			base, prefix = &profWorkers, name[:len(name)-len(sufWorkers)]
		}
	case statsd.Histogram:
		if bytes.HasSuffix(name, sufBacklog) {
			base, prefix = &profBacklog, name[:len(name)-len(sufBacklog)]
		}
	case statsd.Counter:
		if bytes.HasSuffix(name, sufRequests) {
			base, prefix = &profRequests, name[:len(name)-len(sufRequests)]
			break
		}
		if i := bytes.LastIndex(name, sufStatus); i >= 0 {
			code := name[i+len(sufStatus):]
			kv, ok := statusAttribute(code)
			if !ok {
				return nil, false // not a number: not Gunicorn's
			}
			base, prefix = &profResponses, name[:i]
			own[0], nown = kv, 1
			break
		}
		if i := bytes.LastIndex(name, sufLog); i >= 0 {
			level := logLevel(name[i+len(sufLog):])
			if level == "" {
				return nil, false
			}
			base, prefix = &profLog, name[:i]
			own[0], nown = ownAttr{kv: attribute.String(AttrLevel, level), label: labelLevel}, 1
		}
	}
	if base == nil {
		return nil, false
	}
	app, ok := m.gunicornPrefix(prefix)
	if !ok {
		return nil, false
	}
	if app != "" && m.prefixKey != "" {
		own[nown] = ownAttr{kv: attribute.String(m.prefixKey, app), label: m.prefixLabel}
		nown++
	}
	mp := new(Mapping)
	*mp = *base
	mp.Attributes = m.attributes(s, own[:nown], m.tagOverride)
	return mp, true
}

// gunicornPrefix checks what comes before a Gunicorn metric name and returns
// the prefix attribute value.
func (m *Mapper) gunicornPrefix(p []byte) (string, bool) {
	if m.hasPrefix {
		if string(bytes.TrimRight(p, ".")) != m.prefix {
			return "", false
		}
		return m.prefix, true
	}
	// Gunicorn writes a prefix of two or more characters with a trailing dot,
	// a one-character prefix without one.
	if len(p) > 1 && p[len(p)-1] != '.' {
		return "", false
	}
	return string(bytes.TrimRight(p, ".")), true
}

// statusAttribute returns the attribute for the status code part of
// gunicorn.request.status.<code>, and false when code is not a number.
func statusAttribute(code []byte) (ownAttr, bool) {
	digits := code
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return ownAttr{}, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return ownAttr{}, false
		}
	}
	if len(code) == 3 && code[0] >= '1' && code[0] <= '5' {
		n := int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
		return ownAttr{kv: attribute.Int(AttrStatusCode, n), label: labelStatusCode}, true
	}
	return ownAttr{kv: attribute.String(AttrErrorType, InvalidStatusCode), label: labelErrorType}, true
}

// logLevel returns the level of gunicorn.log.<level>, or "" when it is not
// one of the four levels Gunicorn counts.
func logLevel(b []byte) string {
	switch string(b) {
	case "critical":
		return "critical"
	case "error":
		return "error"
	case "warning":
		return "warning"
	case "exception":
		return "exception"
	}
	return ""
}

package statsdtest

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// Sample is a copy of a statsd.Sample that stays valid after the Handle call
// it came from: its byte slices are copied into strings.
// The fields mean what the statsd.Sample fields of the same names mean.
type Sample struct {
	Name        string      // the metric name
	Tags        string      // raw DogStatsD tags without "|#"; "" when none
	ContainerID string      // DogStatsD "|c:<id>"; "" when none
	Member      string      // a Set's member; "" for other types
	Value       float64     // the value (the signed change for a Delta gauge)
	Rate        float64     // the sample rate, 1 when the line had none
	Timestamp   int64       // DogStatsD "|T<unix seconds>"; 0 when none
	Type        statsd.Type // the metric type
	Delta       bool        // a gauge written with an explicit sign
}

// copySample returns a copy of s that does not point into its buffer.
func copySample(s *statsd.Sample) Sample {
	return Sample{
		Name:        string(s.Name),
		Tags:        string(s.Tags),
		ContainerID: string(s.ContainerID),
		Member:      string(s.Member),
		Value:       s.Value,
		Rate:        s.Rate,
		Timestamp:   s.Timestamp,
		Type:        s.Type,
		Delta:       s.Delta,
	}
}

// String returns the sample in StatsD line form, normalised: the name, ':',
// the value (Go's shortest form, with "+" for a positive delta gauge, or the
// member of a set), '|' and the type symbol, then "|@<rate>" when the rate
// is not 1, "|#<tags>", "|c:<id>" and "|T<ts>" when present. For example
// "gunicorn.requests:1|c|#env:prod".
func (s Sample) String() string {
	var b strings.Builder
	b.WriteString(s.Name)
	b.WriteByte(':')
	if s.Type == statsd.Set {
		b.WriteString(s.Member)
	} else {
		if s.Delta && s.Value >= 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.FormatFloat(s.Value, 'g', -1, 64))
	}
	b.WriteByte('|')
	b.WriteString(s.Type.Symbol())
	if s.Rate != 1 && s.Rate != 0 {
		b.WriteString("|@")
		b.WriteString(strconv.FormatFloat(s.Rate, 'g', -1, 64))
	}
	if s.Tags != "" {
		b.WriteString("|#")
		b.WriteString(s.Tags)
	}
	if s.ContainerID != "" {
		b.WriteString("|c:")
		b.WriteString(s.ContainerID)
	}
	if s.Timestamp != 0 {
		b.WriteString("|T")
		b.WriteString(strconv.FormatInt(s.Timestamp, 10))
	}
	return b.String()
}

// Rejection is a copy of a statsd.ParseError: a rejected line and why.
type Rejection struct {
	Reason statsd.Reason // why the line was rejected
	Line   string        // the line, copied
}

// String returns "<reason>: <line>", such as "bad_type: x:1|q".
func (r Rejection) String() string { return r.Reason.String() + ": " + r.Line }

// A Recorder is a statsd.Handler that keeps a copy of everything it is
// given: the samples, the rejected lines and the datagram counts. It is safe
// for concurrent use; its zero value is ready to use. Use it in place of a
// real Handler, for example behind a statsd.Server or an Emitter's
// HandlerSink, then assert on what arrived.
type Recorder struct {
	mu        sync.Mutex
	samples   []Sample
	errors    []Rejection
	datagrams int
	changed   chan struct{} // closed and replaced on every Handle
}

// Handle records a copy of b's samples and errors and adds its datagram
// count. It keeps nothing that points into b.
func (r *Recorder) Handle(b *statsd.Batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range b.Samples {
		r.samples = append(r.samples, copySample(&b.Samples[i]))
	}
	for _, e := range b.Errors {
		r.errors = append(r.errors, Rejection{Reason: e.Reason, Line: string(e.Line)})
	}
	r.datagrams += b.Datagrams
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Samples returns a copy of the samples recorded so far, in arrival order.
func (r *Recorder) Samples() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Sample(nil), r.samples...)
}

// Errors returns a copy of the rejected lines recorded so far, in arrival
// order.
func (r *Recorder) Errors() []Rejection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Rejection(nil), r.errors...)
}

// Datagrams returns the sum of the Datagrams counts of the batches handled.
func (r *Recorder) Datagrams() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.datagrams
}

// Lines returns the String form of every sample recorded so far: a compact
// form for assertions and examples.
func (r *Recorder) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.samples))
	for i, s := range r.samples {
		out[i] = s.String()
	}
	return out
}

// Reset forgets everything recorded.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples, r.errors = nil, nil
	r.datagrams = 0
}

// WaitFor waits until at least n samples have been recorded, then returns a
// copy of all of them. If ctx ends first it returns the samples recorded so
// far and ctx's error.
func (r *Recorder) WaitFor(ctx context.Context, n int) ([]Sample, error) {
	for {
		r.mu.Lock()
		if len(r.samples) >= n {
			s := append([]Sample(nil), r.samples...)
			r.mu.Unlock()
			return s, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return r.Samples(), ctx.Err()
		}
	}
}

package mapper

import (
	"github.com/gunicornotel/gunicornotel/statsd"
)

// PLACEHOLDER: the mapper engineer replaces this file. The signatures below are
// the contract the otelbridge package codes against.

// Mapper says what a StatsD sample means. It is safe for concurrent use.
type Mapper struct{}

// Option configures a Mapper.
type Option func(*Mapper)

// New returns a Mapper with the built-in Gunicorn profile.
func New(opts ...Option) (*Mapper, error) { return &Mapper{}, nil }

// Map returns where the sample goes. The result is never nil, is shared, and
// must not be modified; for a name seen before it comes from a bounded cache
// without allocating.
func (m *Mapper) Map(s *statsd.Sample) *Mapping {
	return &Mapping{Name: string(s.Name), Kind: Counter, Scale: 1}
}

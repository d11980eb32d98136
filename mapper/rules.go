package mapper

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// PrometheusDefaultBuckets are the bucket boundaries, in seconds, that
// statsd_exporter (through the Prometheus client, prometheus.DefBuckets)
// gives a histogram when its mapping file names none: 5 ms to 10 s. A
// rule-file histogram without buckets advises them, so a migrated dashboard
// keeps its boundaries, and so does a generic timer. The slice is shared: do
// not modify it.
var PrometheusDefaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Rules are the compiled rules of a statsd_exporter mapping file. They are
// immutable and may be shared by several Mappers. Use them with WithRules.
type Rules struct {
	rules          []*rule
	glob           *globNode // nil when the file has no glob rule
	regex          []*rule   // regex rules, in file order
	unordered      bool      // defaults.glob_disable_ordering
	defaultBuckets []float64 // defaults.histogram_options.buckets, or PrometheusDefaultBuckets
	defaultTTL     time.Duration
	defaultSummary *SummaryOptions // what unmatched observers are exposed as; nil: histograms
	warnings       []*RuleError
}

// Len returns the number of rules.
func (r *Rules) Len() int { return len(r.rules) }

// Warnings returns what the file says that statsd_exporter accepts but that
// is most likely a mistake, one *RuleError each, in file order, naming the
// file, the line and the rule: a reference to a capture the match does not
// have (it expands to ""), an empty bucket list (the defaults apply), a ttl
// without a unit (nanoseconds), a label Prometheus reserves (left out). The
// rules load and behave as statsd_exporter's would; log the warnings once
// when the file is loaded:
//
//	for _, w := range rules.Warnings() {
//		logger.Warn("mapping file", "warning", w)
//	}
//
// With StrictRules, each of them is a load error instead. The slice is
// shared: do not modify it.
func (r *Rules) Warnings() []*RuleError { return r.warnings }

// RuleError is an error, or a warning (see Rules.Warnings), in a mapping
// file. Its message names the file, the line and the rule:
// `mapping.yml:12: match "*.foo.*": label "app": $3 refers to a capture the
// match does not have (it has 2)`.
type RuleError struct {
	File  string // the file name given to ParseRules or LoadRules
	Line  int    // 1-based line of the offending node; 0 when unknown
	Match string // the match of the rule in error; "" outside a rule
	Msg   string // what is wrong
	Err   error  // the underlying error (YAML, regexp, time), or nil
}

// Error returns "file:line: match \"...\": msg: err".
func (e *RuleError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Match != "" {
		fmt.Fprintf(&b, "match %q: ", e.Match)
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *RuleError) Unwrap() error { return e.Err }

// A RulesOption changes how ParseRules and LoadRules read a mapping file;
// a nil RulesOption is ignored.
type RulesOption interface{ apply(*rulesConfig) }

// rulesOption is a RulesOption.
type rulesOption func(*rulesConfig)

func (f rulesOption) apply(c *rulesConfig) { f(c) }

type rulesConfig struct {
	strict bool
}

// StrictRules makes every warning (see Rules.Warnings) a load error: for
// those who want a mistake in a mapping file to stop the program rather
// than behave as statsd_exporter would.
func StrictRules() RulesOption {
	return rulesOption(func(c *rulesConfig) { c.strict = true })
}

// LoadRules reads and compiles a statsd_exporter mapping file. Errors name
// the file by path; a file that cannot be read gives an error wrapping the
// *os.PathError.
func LoadRules(path string, opts ...RulesOption) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mapper: %w", err)
	}
	return ParseRules(path, data, opts...)
}

// ParseRules compiles the statsd_exporter mapping file in data. filename is
// used in messages only. Every error is a *RuleError.
//
// Any file statsd_exporter v0.31.0 loads is accepted, with the same meaning
// (see the package documentation for the few deliberate differences);
// what it accepts silently but is most likely a mistake is reported by
// Rules.Warnings. Anchors, aliases and merge keys ("<<: *defaults") are
// read as statsd_exporter reads them; their expansion is bounded, so a file
// that expands without end ("billion laughs") is refused quickly.
func ParseRules(filename string, data []byte, opts ...RulesOption) (*Rules, error) {
	var cfg rulesConfig
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	rs, err := compileFile(filename, data, cfg)
	if err != nil {
		return nil, err // a *RuleError, never a nil one
	}
	return rs, nil
}

package mapper

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file compiles the specs decode.go reads into rules: templates,
// glob patterns in one trie, regular expressions.

// rule is one compiled entry of mappings.
type rule struct {
	index   int
	line    int
	match   string
	segs    []string       // glob pattern segments
	ncap    int            // captures: glob wildcards, or regex groups
	re      *regexp.Regexp // regex rules
	classes [numClasses]bool
	drop    bool
	name    template
	labels  []ruleLabel
	help    string
	honor   bool
	buckets []float64
	scale   float64 // 0: not set
	ttl     time.Duration
	summary *SummaryOptions // observers as statsd_exporter exposes them; nil: histograms
}

type ruleLabel struct {
	key   string
	label string // key as a Prometheus label name (promLabel)
	val   template
}

// compiler compiles one file.
type compiler struct {
	file     string
	strict   bool
	warnings []*RuleError
	regexps  map[string]*regexp.Regexp // by pattern: a rule repeated through aliases compiles once
}

// warn keeps a warning; in strict mode it returns it, to be the load error.
func (c *compiler) warn(w *RuleError) *RuleError {
	if c.strict {
		return w
	}
	c.warnings = append(c.warnings, w)
	return nil
}

func (c *compiler) errf(line int, match, format string, args ...any) *RuleError {
	return &RuleError{File: c.file, Line: line, Match: match, Msg: fmt.Sprintf(format, args...)}
}

// compileFile reads and compiles a mapping file.
func compileFile(file string, data []byte, cfg rulesConfig) (*Rules, *RuleError) {
	rs := &Rules{defaultBuckets: PrometheusDefaultBuckets}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &RuleError{File: file, Msg: "invalid YAML", Err: err}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return rs, nil // an empty file: no rules
	}
	c := &compiler{file: file, strict: cfg.strict, regexps: make(map[string]*regexp.Regexp)}
	d := &decoder{
		file:    file,
		limit:   aliasFactor*docSize(&doc) + aliasSlack,
		merging: make(map[*yaml.Node]bool),
		warn:    c.warn,
	}
	fs, err := d.document(doc.Content[0])
	if err != nil {
		return nil, err
	}
	rs.unordered = fs.defaults.disableOrdering
	if fs.defaults.buckets != nil {
		rs.defaultBuckets = fs.defaults.buckets
	}
	rs.defaultTTL = max(fs.defaults.ttl, 0) // a negative ttl never expires, as in statsd_exporter
	base := baseSummary(&fs.defaults.obs)
	if fs.defaults.obs.typ != "histogram" {
		rs.defaultSummary = base
	}
	for _, n := range fs.rules {
		spec, err := d.ruleSpecOf(n)
		if err != nil {
			return nil, err
		}
		r, err := c.rule(spec, &fs.defaults, rs.defaultBuckets, len(rs.rules))
		if err != nil {
			return nil, err
		}
		if r.summary, err = c.observer(spec, &fs.defaults, base); err != nil {
			return nil, err
		}
		rs.rules = append(rs.rules, r)
		if r.re != nil {
			rs.regex = append(rs.regex, r)
			continue
		}
		if rs.glob == nil {
			rs.glob = newGlobNode()
		}
		rs.glob.add(r.segs, r.index, r.classes)
	}
	rs.warnings = c.warnings
	return rs, nil
}

// statsdExporterName is the name syntax statsd_exporter v0.31.0 accepts:
// letters, digits and '_', not starting with a digit, and references
// "$1", "${1}" anywhere. Names it accepts load here too.
var statsdExporterName = regexp.MustCompile(`^([a-zA-Z_]|\$\{?[0-9]+\}?)([a-zA-Z0-9_]|\$\{?[0-9]+\}?)*$`)

func (c *compiler) rule(spec *ruleSpec, d *defaultsSpec, defaultBuckets []float64, index int) (*rule, *RuleError) {
	match := spec.match
	r := &rule{
		index: index, line: spec.line, match: match,
		drop: spec.drop, help: spec.help, honor: spec.honor,
		buckets: cmpOr(spec.buckets, defaultBuckets),
	}
	// ttl as statsd_exporter reads it: absent or 0 takes defaults.ttl, a
	// negative ttl never expires (and so opts out of defaults.ttl).
	switch {
	case spec.ttl < 0:
	case spec.ttl == 0:
		r.ttl = max(d.ttl, 0)
	default:
		r.ttl = spec.ttl
	}
	if spec.scaleSet {
		if spec.scale == 0 {
			return nil, c.errf(spec.scaleLine, match, "scale: must not be 0 (every value would be recorded as 0)")
		}
		r.scale = spec.scale
	}
	switch spec.metricType {
	case "":
		r.classes = [numClasses]bool{true, true, true}
	case "counter":
		r.classes[classCounter] = true
	case "gauge":
		r.classes[classGauge] = true
	case "observer":
		r.classes[classObserver] = true
	}

	matchType := cmpOrString(spec.matchType, d.matchType)
	var parse func(string) (template, []string)
	if matchType == "regex" {
		re, ok := c.regexps[match]
		if !ok {
			var err error
			if re, err = regexp.Compile(match); err != nil {
				e := c.errf(spec.matchLine, match, "invalid regular expression")
				e.Err = err
				return nil, e
			}
			c.regexps[match] = re
		}
		r.re, r.ncap = re, re.NumSubexp()
		parse = func(s string) (template, []string) { return parseRegexTemplate(s, re) }
	} else {
		segs := strings.Split(match, ".")
		for _, s := range segs {
			switch {
			case s == "":
				return nil, c.errf(spec.matchLine, match, "glob has an empty segment (names are split at each '.')")
			case s == "*":
				r.ncap++
			case strings.Contains(s, "*"):
				return nil, c.errf(spec.matchLine, match, "a \"*\" must be a whole segment, as in statsd_exporter (segment %q)", s)
			}
		}
		r.segs = segs
		parse = func(s string) (template, []string) { return parseGlobTemplate(s, r.ncap) }
	}

	if spec.name == "" {
		if !r.drop {
			return nil, c.errf(spec.line, match, "no \"name\" (required unless action is drop)")
		}
	} else {
		t, missing := parse(spec.name)
		if !statsdExporterName.MatchString(spec.name) {
			if msg := checkName(t); msg != "" {
				return nil, c.errf(spec.nameLine, match, "name %q: %s", spec.name, msg)
			}
		}
		for _, ref := range missing {
			if err := c.warn(c.missingCapture(spec.nameLine, match, fmt.Sprintf("name %q", spec.name), ref, r)); err != nil {
				return nil, err
			}
		}
		r.name = t
	}

	for _, l := range spec.labels {
		t, missing := parse(l.value)
		for _, ref := range missing {
			if err := c.warn(c.missingCapture(l.line, match, fmt.Sprintf("label %q", l.key), ref, r)); err != nil {
				return nil, err
			}
		}
		rl := ruleLabel{key: l.key, label: promLabel(l.key), val: t}
		if why := reservedLabel(l.key, rl.label); why != "" {
			if err := c.warn(c.errf(l.line, match, "label %q: %s: it is left out", l.key, why)); err != nil {
				return nil, err
			}
		}
		for _, o := range r.labels {
			if o.label == rl.label {
				if err := c.warn(c.errf(l.line, match, "labels %q and %q become the same Prometheus label name %q: %q is kept", o.key, l.key, rl.label, l.key)); err != nil {
					return nil, err
				}
			}
		}
		r.labels = append(r.labels, rl)
	}
	return r, nil
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// missingCapture is the warning for a reference to a capture the match does
// not have, with a hint for the common "$1_foo".
func (c *compiler) missingCapture(line int, match, where, ref string, r *rule) *RuleError {
	w := c.errf(line, match, "%s: %s refers to a capture the match does not have (it has %d): it expands to \"\"", where, ref, r.ncap)
	if digits := leadingDigits(ref[1:]); digits != "" && len(digits) < len(ref)-1 && ref[1] != '{' {
		w.Msg += fmt.Sprintf("; write ${%s}%s for capture %s followed by %q", digits, ref[1+len(digits):], digits, ref[1+len(digits):])
	}
	return w
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// checkName checks the literal parts of a rule's name that statsd_exporter's
// syntax does not accept: they may also hold the '.', '-' and '/'
// OpenTelemetry instrument names may hold.
func checkName(t template) string {
	for i, part := range t {
		if part.groups != nil {
			continue
		}
		for j := 0; j < len(part.lit); j++ {
			c := part.lit[j]
			if i == 0 && j == 0 && !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return "must start with a letter, '_' or a capture"
			}
			if !(isNameByte(c) || c == '.' || c == '-' || c == '/') {
				return fmt.Sprintf("character %q is not allowed in an instrument name", c)
			}
		}
	}
	return ""
}

// observer resolves what statsd_exporter makes of the rule's observers
// (ruleSummary), refusing what it refuses to load: summary_options on a
// rule that makes histograms, histogram_options on one that says
// observer_type: summary.
func (c *compiler) observer(spec *ruleSpec, d *defaultsSpec, base *SummaryOptions) (*SummaryOptions, *RuleError) {
	typ := cmp.Or(spec.obs.typ, d.obs.typ)
	switch {
	case typ == "histogram" && spec.obs.summary != nil:
		return nil, c.errf(spec.obsLine, spec.match, "summary_options on a rule whose observer_type is histogram (statsd_exporter refuses it: \"cannot use histogram observer and summary options at the same time\")")
	case typ == "summary" && spec.histOpts != 0:
		return nil, c.errf(spec.histOpts, spec.match, "histogram_options on a rule whose observer_type is summary (statsd_exporter refuses it: \"cannot use summary observer and histogram options at the same time\")")
	}
	return ruleSummary(&spec.obs, &d.obs, base), nil
}

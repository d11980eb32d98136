package mapper

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.yaml.in/yaml/v3"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// PrometheusDefaultBuckets are the bucket boundaries statsd_exporter (through
// the Prometheus client) gives a histogram when its mapping file names none.
// A rule-file histogram without buckets advises them, so a migrated
// dashboard keeps its boundaries. The slice is shared: do not modify it.
var PrometheusDefaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Rules are the compiled rules of a statsd_exporter mapping file. They are
// immutable and may be shared by several Mappers. Use them with WithRules.
type Rules struct {
	file      string
	rules     []*rule
	glob      *globNode // nil when the file has no glob rule
	regex     []*rule   // regex rules, in file order
	unordered bool      // defaults.glob_disable_ordering
}

// rule is one compiled entry of mappings.
type rule struct {
	index   int
	line    int
	match   string
	segs    []string       // glob pattern segments
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
}

type ruleLabel struct {
	key string
	val template
}

// Len returns the number of rules.
func (r *Rules) Len() int { return len(r.rules) }

// File returns the file name the rules were loaded from, as given.
func (r *Rules) File() string { return r.file }

// RuleError is an error in a mapping file. Its message names the file, the
// line and the rule: `mapping.yml:12: match "*.foo.*": label "app": $3
// refers to a capture the match does not have (it has 2)`.
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

// LoadRules reads and compiles a statsd_exporter mapping file. Errors name
// the file by path; a file that cannot be read gives an error wrapping the
// *os.PathError.
func LoadRules(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mapper: %w", err)
	}
	return ParseRules(path, data)
}

// ParseRules compiles the statsd_exporter mapping file in data. filename is
// used in error messages only. Every error is a *RuleError.
func ParseRules(filename string, data []byte) (*Rules, error) {
	p := &ruleParser{file: filename}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &RuleError{File: filename, Msg: "invalid YAML", Err: err}
	}
	rs := &Rules{file: filename}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return rs, nil // an empty file: no rules
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return rs, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, p.errf(top, "", "the file must be a mapping with \"mappings\" (and \"defaults\")")
	}
	var defs defaults
	var mappings *yaml.Node
	if err := p.each(top, "", func(k string, v *yaml.Node) error {
		switch k {
		case "defaults":
			return p.defaults(v, &defs)
		case "mappings":
			if !isNull(v) && v.Kind != yaml.SequenceNode {
				return p.errf(v, "", "\"mappings\" must be a list")
			}
			mappings = v
			return nil
		}
		return p.unknown(k)
	}); err != nil {
		return nil, err
	}
	rs.unordered = defs.disableOrdering
	if mappings == nil || isNull(mappings) {
		return rs, nil
	}
	for _, n := range mappings.Content {
		r, err := p.rule(n, &defs, len(rs.rules))
		if err != nil {
			return nil, err
		}
		rs.rules = append(rs.rules, r)
		if r.re != nil {
			rs.regex = append(rs.regex, r)
		} else {
			if rs.glob == nil {
				rs.glob = newGlobNode()
			}
			rs.glob.add(r.segs, r.index, r.classes)
		}
	}
	return rs, nil
}

type defaults struct {
	matchType       string
	disableOrdering bool
	buckets         []float64
	ttl             time.Duration
}

type ruleParser struct {
	file string
	key  *yaml.Node // the key node being decoded, for errors on keys
}

func (p *ruleParser) errf(n *yaml.Node, match, format string, args ...any) *RuleError {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &RuleError{File: p.file, Line: line, Match: match, Msg: fmt.Sprintf(format, args...)}
}

func (p *ruleParser) unknown(k string) error {
	return p.errf(p.key, "", "unknown key %q", k)
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// each calls f for each key of a mapping node, refusing non-string and
// duplicate keys. Errors from f that lack a match get the rule's match.
func (p *ruleParser) each(n *yaml.Node, match string, f func(k string, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, match, "expected a mapping of keys to values")
	}
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return p.errf(k, match, "keys must be strings")
		}
		if seen[k.Value] {
			return p.errf(k, match, "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		p.key = k
		if err := f(k.Value, v); err != nil {
			if re, ok := err.(*RuleError); ok && re.Match == "" {
				re.Match = match
			}
			return err
		}
	}
	return nil
}

func (p *ruleParser) str(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errf(n, "", "%s: expected a string", key)
	}
	if isNull(n) {
		return "", nil
	}
	return n.Value, nil
}

func (p *ruleParser) boolean(n *yaml.Node, key string) (bool, error) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		return false, p.errf(n, "", "%s: expected true or false, got %q", key, n.Value)
	}
	return b, nil
}

func (p *ruleParser) duration(n *yaml.Node, key string) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, p.errf(n, "", "%s: expected a duration such as \"30s\"", key)
	}
	if n.Value == "0" || isNull(n) {
		return 0, nil
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		e := p.errf(n, "", "%s: expected a duration such as \"30s\"", key)
		e.Err = err
		return 0, e
	}
	if d < 0 {
		return 0, p.errf(n, "", "%s: must not be negative", key)
	}
	return d, nil
}

func (p *ruleParser) number(n *yaml.Node, key string) (float64, error) {
	var f float64
	if n.Kind != yaml.ScalarNode || isNull(n) || n.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, p.errf(n, "", "%s: expected a finite number, got %q", key, n.Value)
	}
	return f, nil
}

func (p *ruleParser) bucketList(n *yaml.Node, key string) ([]float64, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, "", "%s: expected a list of numbers", key)
	}
	bs := make([]float64, 0, len(n.Content))
	for _, c := range n.Content {
		f, err := p.number(c, key)
		if err != nil {
			return nil, err
		}
		if len(bs) > 0 && f <= bs[len(bs)-1] {
			return nil, p.errf(c, "", "%s: boundaries must increase: %v after %v", key, f, bs[len(bs)-1])
		}
		bs = append(bs, f)
	}
	return bs, nil
}

// histogramOptions reads histogram_options: buckets is used; the native
// histogram settings are accepted and ignored (advice cannot carry them).
func (p *ruleParser) histogramOptions(n *yaml.Node) ([]float64, error) {
	if isNull(n) {
		return nil, nil
	}
	var bs []float64
	err := p.each(n, "", func(k string, v *yaml.Node) error {
		switch k {
		case "buckets":
			var err error
			bs, err = p.bucketList(v, "histogram_options.buckets")
			return err
		case "native_histogram_bucket_factor", "native_histogram_max_buckets":
			_, err := p.number(v, "histogram_options."+k)
			return err
		}
		return p.unknown(k)
	})
	return bs, err
}

// summaryOptions checks summary_options; its settings are accepted and
// ignored, as summaries are recorded as histograms.
func (p *ruleParser) summaryOptions(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	return p.each(n, "", func(k string, v *yaml.Node) error {
		switch k {
		case "quantiles":
			return p.anyList(v, k)
		case "max_age":
			_, err := p.duration(v, "summary_options.max_age")
			return err
		case "age_buckets", "buf_cap":
			_, err := p.number(v, "summary_options."+k)
			return err
		}
		return p.unknown(k)
	})
}

func (p *ruleParser) anyList(n *yaml.Node, key string) error {
	if !isNull(n) && n.Kind != yaml.SequenceNode {
		return p.errf(n, "", "%s: expected a list", key)
	}
	return nil
}

func (p *ruleParser) oneOf(n *yaml.Node, key string, allowed ...string) (string, error) {
	s, err := p.str(n, key)
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, s) {
		return "", p.errf(n, "", "%s %q: must be %s", key, s, quoteList(allowed))
	}
	return s, nil
}

func quoteList(xs []string) string {
	var q []string
	for _, x := range xs {
		if x != "" {
			q = append(q, fmt.Sprintf("%q", x))
		}
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func (p *ruleParser) defaults(n *yaml.Node, d *defaults) error {
	if isNull(n) {
		return nil
	}
	var legacyBuckets []float64
	err := p.each(n, "", func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "match_type":
			d.matchType, err = p.oneOf(v, "match_type", "", "glob", "regex")
		case "observer_type", "timer_type":
			// Summaries and histograms are both recorded as histograms.
			_, err = p.oneOf(v, k, "", "histogram", "summary")
		case "glob_disable_ordering":
			d.disableOrdering, err = p.boolean(v, k)
		case "histogram_options":
			var bs []float64
			bs, err = p.histogramOptions(v)
			if len(bs) > 0 {
				d.buckets = bs
			}
		case "buckets":
			legacyBuckets, err = p.bucketList(v, k)
		case "summary_options":
			err = p.summaryOptions(v)
		case "quantiles":
			err = p.anyList(v, k)
		case "ttl":
			d.ttl, err = p.duration(v, k)
		default:
			err = p.unknown(k)
		}
		return err
	})
	if d.buckets == nil {
		d.buckets = legacyBuckets
	}
	return err
}

// classOf returns the match_metric_type class of a sample type.
func classOf(t statsd.Type) int {
	switch t {
	case statsd.Counter:
		return classCounter
	case statsd.Gauge:
		return classGauge
	}
	return classObserver
}

var errNoCapture = "%s: %s refers to a capture the match does not have (it has %d)"

func (p *ruleParser) rule(n *yaml.Node, d *defaults, index int) (*rule, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, "", "each entry of \"mappings\" must be a mapping with at least \"match\"")
	}
	// Find match first, so every other error can name the rule.
	var matchNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "match" {
			matchNode = n.Content[i+1]
		}
	}
	if matchNode == nil {
		return nil, p.errf(n, "", "mapping has no \"match\"")
	}
	match, err := p.str(matchNode, "match")
	if err != nil {
		return nil, err
	}
	if match == "" {
		return nil, p.errf(matchNode, "", "\"match\" is empty")
	}
	r := &rule{index: index, line: n.Line, match: match}
	var (
		nameNode, labelsNode    *yaml.Node
		name, matchType, action string
		buckets, legacyBuckets  []float64
		metricType              string
		ttlSet                  bool
	)
	err = p.each(n, match, func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "match":
		case "name":
			nameNode = v
			name, err = p.str(v, k)
		case "labels":
			labelsNode = v
		case "match_type":
			matchType, err = p.oneOf(v, k, "", "glob", "regex")
		case "match_metric_type":
			metricType, err = p.oneOf(v, k, "", "counter", "gauge", "observer")
		case "action":
			action, err = p.oneOf(v, k, "", "map", "drop")
		case "help":
			r.help, err = p.str(v, k)
		case "honor_labels":
			r.honor, err = p.boolean(v, k)
		case "observer_type", "timer_type":
			// Summaries and histograms are both recorded as histograms:
			// the value is checked, then has no effect.
			_, err = p.oneOf(v, k, "", "histogram", "summary")
		case "histogram_options":
			buckets, err = p.histogramOptions(v)
		case "buckets":
			legacyBuckets, err = p.bucketList(v, k)
		case "summary_options":
			err = p.summaryOptions(v)
		case "quantiles":
			err = p.anyList(v, k)
		case "scale":
			r.scale, err = p.number(v, k)
			if err == nil && r.scale <= 0 {
				err = p.errf(v, "", "scale: must be a positive number, got %v", r.scale)
			}
		case "ttl":
			r.ttl, err = p.duration(v, k)
			ttlSet = true
		default:
			err = p.unknown(k)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	r.drop = action == "drop"
	if !ttlSet {
		r.ttl = d.ttl
	}
	if buckets == nil {
		buckets = legacyBuckets
	}
	if buckets == nil {
		buckets = d.buckets
	}
	if buckets == nil {
		buckets = PrometheusDefaultBuckets
	}
	r.buckets = buckets
	switch metricType {
	case "":
		r.classes = [numClasses]bool{true, true, true}
	case "counter":
		r.classes[classCounter] = true
	case "gauge":
		r.classes[classGauge] = true
	case "observer":
		r.classes[classObserver] = true
	}

	if matchType == "" {
		matchType = d.matchType
	}
	var resolve func(string) (int, bool)
	var ncap int
	if matchType == "regex" {
		re, err := regexp.Compile(match)
		if err != nil {
			e := p.errf(matchNode, match, "invalid regular expression")
			e.Err = err
			return nil, e
		}
		r.re = re
		ncap = re.NumSubexp()
		num := numericResolver(ncap, true)
		resolve = func(s string) (int, bool) {
			if g, ok := num(s); ok {
				return g, true
			}
			if g := re.SubexpIndex(s); g > 0 {
				return g, true
			}
			return 0, false
		}
	} else {
		segs := strings.Split(match, ".")
		for _, s := range segs {
			switch {
			case s == "":
				return nil, p.errf(matchNode, match, "glob has an empty segment (names are split at each '.')")
			case s == "*":
				ncap++
			case strings.Contains(s, "*"):
				return nil, p.errf(matchNode, match, "a \"*\" must be a whole segment, as in statsd_exporter (segment %q)", s)
			}
		}
		r.segs = segs
		resolve = numericResolver(ncap, false)
	}

	if nameNode == nil || name == "" {
		if !r.drop {
			return nil, p.errf(n, match, "no \"name\" (required unless action is drop)")
		}
	} else {
		t, terr := parseTemplate(name, resolve)
		if terr != nil {
			return nil, p.errf(nameNode, match, errNoCapture, fmt.Sprintf("name %q", name), terr.ref, ncap)
		}
		if msg := checkName(t); msg != "" {
			return nil, p.errf(nameNode, match, "name %q: %s", name, msg)
		}
		r.name = t
	}

	if labelsNode != nil && !isNull(labelsNode) {
		err := p.each(labelsNode, match, func(k string, v *yaml.Node) error {
			if k == "" {
				return p.errf(p.key, "", "label with an empty name")
			}
			if v.Kind != yaml.ScalarNode {
				return p.errf(v, "", "label %q: expected a string value", k)
			}
			val := v.Value
			if isNull(v) {
				val = ""
			}
			t, terr := parseTemplate(val, resolve)
			if terr != nil {
				return p.errf(v, "", errNoCapture, fmt.Sprintf("label %q", k), terr.ref, ncap)
			}
			r.labels = append(r.labels, ruleLabel{key: k, val: t})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// checkName checks the literal parts of a rule's name: what statsd_exporter
// accepts (letters, digits, '_', not starting with a digit), plus the '.',
// '-' and '/' OpenTelemetry instrument names may hold.
func checkName(t template) string {
	for i, part := range t {
		if part.group >= 0 {
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

// find returns the rule that matches the name for the class and its
// captures. Glob rules are tried first (the lowest index among those that
// match, or the most specific with glob_disable_ordering), then regex rules
// in file order: statsd_exporter's order.
func (rs *Rules) find(name []byte, class int) (*rule, []string) {
	if rs.glob != nil {
		idx := -1
		if rs.unordered {
			if rem := countSegments(name); rs.glob.viable(rem) {
				idx = rs.glob.matchSpecific(name, rem, class)
			}
		} else {
			idx = rs.glob.matchOrdered(name, class)
		}
		if idx >= 0 {
			r := rs.rules[idx]
			return r, globCaptures(r.segs, name)
		}
	}
	for _, r := range rs.regex {
		if !r.classes[class] {
			continue
		}
		loc := r.re.FindSubmatchIndex(name)
		if loc == nil {
			continue
		}
		caps := make([]string, len(loc)/2)
		for i := range caps {
			if loc[2*i] >= 0 {
				caps[i] = string(name[loc[2*i]:loc[2*i+1]])
			}
		}
		return r, caps
	}
	return nil, nil
}

func countSegments(name []byte) int {
	n := 1
	for _, c := range name {
		if c == '.' {
			n++
		}
	}
	return n
}

// mapSample maps a sample by the rules, or reports that none matches.
func (rs *Rules) mapSample(s *statsd.Sample, override bool) (*Mapping, bool) {
	r, caps := rs.find(s.Name, classOf(s.Type))
	if r == nil {
		return nil, false
	}
	if r.drop {
		return dropped, true
	}
	name := r.name.expand(caps)
	if name == "" {
		// A name made only of captures that matched nothing: no instrument
		// can have it. The sample goes on to the profile or generic rules.
		return nil, false
	}
	mp := &Mapping{Name: name, Description: r.help, Scale: 1, TTL: r.ttl}
	if mp.Description == "" {
		mp.Description = DefaultDescription
	}
	if r.scale != 0 {
		mp.Scale = r.scale
	}
	switch s.Type {
	case statsd.Counter:
		mp.Kind = Counter
	case statsd.Gauge:
		mp.Kind = Gauge
	case statsd.Timer:
		// statsd_exporter turns timers into seconds, then applies scale.
		mp.Kind, mp.Scale = Histogram, mp.Scale*0.001
		if r.scale == 0 {
			mp.Unit = "s"
		}
		mp.Buckets = r.buckets
	default:
		mp.Kind = Histogram
		mp.Buckets = r.buckets
	}
	var own []attribute.KeyValue
	if len(r.labels) > 0 {
		own = make([]attribute.KeyValue, len(r.labels))
		for i, l := range r.labels {
			own[i] = attribute.String(l.key, l.val.expand(caps))
		}
	}
	mp.Attributes = buildAttributes(s, own, override || r.honor)
	return mp, true
}

package mapper

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file reads a statsd_exporter mapping file into specs, the rules as
// written, with the line of every part an error or a warning may name.
// Compilation (compile.go) turns specs into matchers.
//
// It walks yaml.v3's node tree rather than decoding into structs with
// Decoder.KnownFields: that reports unknown and duplicate keys with a line,
// but not the rule they are in, and a rule's own decoding (Node.Decode) does
// not carry KnownFields at all. Scalars are decoded with yaml.v3's typed
// decoding (Node.Decode into bool and float64), as statsd_exporter's
// yaml.v2 decodes them; the messages are ours, with the file, the line and
// the rule.

// fileSpec is a mapping file as read.
type fileSpec struct {
	defaults defaultsSpec
	rules    []*yaml.Node // the entries of mappings, decoded one by one by ruleSpecOf
}

// defaultsSpec is the defaults section.
type defaultsSpec struct {
	matchType       string
	disableOrdering bool
	buckets         []float64 // nil: not given, or given empty
	ttl             time.Duration
	obs             observerSpec
	histOpts        int // the line of histogram_options; 0 when not given
}

// ruleSpec is one entry of mappings, as written.
type ruleSpec struct {
	line       int // the entry's line
	match      string
	matchLine  int
	name       string
	nameLine   int // 0 when there is no name
	labels     []labelSpec
	matchType  string
	metricType string
	drop       bool
	help       string
	honor      bool
	buckets    []float64 // nil: not given, or given empty
	scale      float64
	scaleSet   bool
	scaleLine  int
	ttl        time.Duration // as written: 0 takes defaults.ttl, < 0 is never
	obs        observerSpec
	obsLine    int // the line of observer_type or summary_options
	histOpts   int // the line of histogram_options; 0 when not given
}

type labelSpec struct {
	key, value string
	line       int
}

// decoder reads one file. It bounds the work aliases can cause: every node
// it visits counts (and every 64 bytes of a scalar it reads, as one node),
// through aliases and merge keys as often as they are used, and a file that
// needs more visits than aliasFactor times its own size so counted (plus
// aliasSlack) is refused, whatever way its aliases nest (a "billion laughs"
// file is refused after at most that many steps).
type decoder struct {
	file    string
	visits  int
	limit   int
	merging map[*yaml.Node]bool         // merge sources being expanded, to refuse cycles
	warn    func(*RuleError) *RuleError // keeps a warning; returns it as the error in strict mode
}

// The bound on alias expansion: a file may make the decoder visit at most
// aliasFactor times as many nodes as it holds, plus aliasSlack (see
// decoder). Sharing a
// bucket list or a label set among hundreds of rules stays far below it.
const (
	aliasFactor = 10
	aliasSlack  = 100_000
)

func (d *decoder) errf(line int, match, format string, args ...any) *RuleError {
	return &RuleError{File: d.file, Line: line, Match: match, Msg: fmt.Sprintf(format, args...)}
}

// scalarUnit is the number of bytes of a scalar counted as one node.
const scalarUnit = 64

// docSize counts a document's nodes, and its scalars' bytes in
// scalarUnits, without following aliases.
func docSize(n *yaml.Node) int {
	c := 1 + len(n.Value)/scalarUnit
	for _, k := range n.Content {
		c += docSize(k)
	}
	return c
}

// visit charges one node against the alias bound.
func (d *decoder) visit(n *yaml.Node) *RuleError { return d.charge(n, 1) }

// charge charges units against the alias bound.
func (d *decoder) charge(n *yaml.Node, units int) *RuleError {
	d.visits += units
	if d.visits > d.limit {
		return d.errf(n.Line, "", "aliases expand to more than %d nodes (%d times the file's own, plus %d): refused", d.limit, aliasFactor, aliasSlack)
	}
	return nil
}

// deref follows aliases to the node they name.
func (d *decoder) deref(n *yaml.Node) (*yaml.Node, *RuleError) {
	for n.Kind == yaml.AliasNode {
		if err := d.visit(n); err != nil {
			return nil, err
		}
		if n.Alias == nil {
			return nil, d.errf(n.Line, "", "alias *%s names no anchor", n.Value)
		}
		n = n.Alias
	}
	return n, nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func isMerge(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!merge" }

// pair is one key of a mapping, with its values: one, unless merge keys set
// it more than once (see pairs).
type pair struct {
	key string
	k   *yaml.Node   // the key node that set it last
	vs  []*yaml.Node // every value set, in the order yaml.v2 applies them
}

// v returns the value that stands: the last set. Lists and scalars are
// replaced when set again; mappings are merged (see pairs).
func (p pair) v() *yaml.Node { return p.vs[len(p.vs)-1] }

// pairs returns the keys of a mapping node in order, refusing non-string
// and duplicate keys.
//
// Merge keys ("<<: *defaults", "<<: [*a, *b]") are expanded where they
// stand, as statsd_exporter's yaml.v2 does: a key set again (by a merge
// after it, or explicitly after a merge) is set again in place; a list or
// a scalar is replaced, the last set wins; a mapping (labels,
// histogram_options) is merged key by key into the one set before. Among
// merged mappings the first wins. With unique (a map such as labels, not a
// set of options), a key set twice, merged or not, is an error, as yaml.v2
// makes it in statsd_exporter.
func (d *decoder) pairs(n *yaml.Node, match string, unique bool) ([]pair, *RuleError) {
	n, err := d.deref(n)
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.errf(n.Line, match, "expected a mapping of keys to values")
	}
	var acc pairList
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if err := d.visit(k); err != nil {
			return nil, err
		}
		if isMerge(k) {
			merged, err := d.merge(v, match, unique)
			if err != nil {
				return nil, err
			}
			for _, p := range merged {
				if err := acc.set(d, p, match, unique); err != nil {
					return nil, err
				}
			}
			continue
		}
		if k, err = d.deref(k); err != nil {
			return nil, err
		}
		if k.Kind != yaml.ScalarNode {
			return nil, d.errf(k.Line, match, "keys must be strings")
		}
		if seen[k.Value] {
			return nil, d.errf(k.Line, match, "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		if err := acc.set(d, pair{key: k.Value, k: k, vs: []*yaml.Node{v}}, match, unique); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

type pairList []pair

// set adds a key, or sets it again.
func (l *pairList) set(d *decoder, p pair, match string, unique bool) *RuleError {
	i := slices.IndexFunc(*l, func(q pair) bool { return q.key == p.key })
	switch {
	case i < 0:
		*l = append(*l, p)
	case unique:
		return d.errf(p.k.Line, match, "duplicate key %q", p.key)
	default:
		(*l)[i].k = p.k
		(*l)[i].vs = append((*l)[i].vs, p.vs...)
	}
	return nil
}

// merge returns the keys a merge key brings: those of a mapping, or of a
// list of mappings where the first that sets a key wins.
func (d *decoder) merge(v *yaml.Node, match string, unique bool) ([]pair, *RuleError) {
	v, err := d.deref(v)
	if err != nil {
		return nil, err
	}
	sources := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		sources = v.Content
	}
	var acc pairList
	for i := len(sources) - 1; i >= 0; i-- { // the first source is applied last: it wins
		src, err := d.deref(sources[i])
		if err != nil {
			return nil, err
		}
		if src.Kind != yaml.MappingNode {
			return nil, d.errf(src.Line, match, "a merge key (<<) takes a mapping or a list of mappings")
		}
		if d.merging[src] {
			return nil, d.errf(src.Line, match, "a merge key (<<) refers to a mapping that contains it")
		}
		d.merging[src] = true
		ps, err := d.pairs(src, match, unique)
		delete(d.merging, src)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if err := acc.set(d, p, match, unique); err != nil {
				return nil, err
			}
		}
	}
	return acc, nil
}

// mergedPairs returns the keys of a mapping value set one or more times
// (see pairs): each time merges into what was set before, and a null
// clears it, as yaml.v2 decodes into a map or a struct pointer.
func (d *decoder) mergedPairs(vs []*yaml.Node, match string, unique bool) ([]pair, *RuleError) {
	var acc pairList
	for _, v := range vs {
		n, err := d.deref(v)
		if err != nil {
			return nil, err
		}
		if isNull(n) {
			acc = nil
			continue
		}
		ps, err := d.pairs(n, match, unique)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if err := acc.set(d, p, match, unique); err != nil {
				return nil, err
			}
		}
	}
	return acc, nil
}

// items returns the entries of a sequence (nil for null).
func (d *decoder) items(n *yaml.Node, match, what string) ([]*yaml.Node, *RuleError) {
	n, err := d.deref(n)
	if err != nil {
		return nil, err
	}
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, d.errf(n.Line, match, "%s: expected a list", what)
	}
	for _, c := range n.Content {
		if err := d.visit(c); err != nil {
			return nil, err
		}
	}
	return n.Content, nil
}

// scalar returns a scalar node, following aliases; a null gives ok false.
func (d *decoder) scalar(n *yaml.Node, match, key, want string) (*yaml.Node, bool, *RuleError) {
	n, err := d.deref(n)
	if err != nil {
		return nil, false, err
	}
	if n.Kind != yaml.ScalarNode {
		return nil, false, d.errf(n.Line, match, "%s: expected %s", key, want)
	}
	if err := d.charge(n, len(n.Value)/scalarUnit); err != nil {
		return nil, false, err
	}
	return n, !isNull(n), nil
}

// str reads a string. As in yaml.v2, any scalar is its text ("1" for 1)
// and null is "".
func (d *decoder) str(n *yaml.Node, match, key string) (string, int, *RuleError) {
	s, ok, err := d.scalar(n, match, key, "a string")
	if err != nil || !ok {
		return "", n.Line, err
	}
	return s.Value, s.Line, nil
}

// observerType reads an observer_type: "histogram", or "summary" for
// "summary" and "" (statsd_exporter reads an empty one as summary).
func (d *decoder) observerType(n *yaml.Node, match, key string) (string, *RuleError) {
	t, err := d.oneOf(n, match, key, "", "histogram", "summary")
	if err == nil && t == "" {
		t = "summary"
	}
	return t, err
}

func (d *decoder) oneOf(n *yaml.Node, match, key string, allowed ...string) (string, *RuleError) {
	s, line, err := d.str(n, match, key)
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, s) {
		return "", d.errf(line, match, "%s %q: must be %s", key, s, quoteList(allowed))
	}
	return s, nil
}

func quoteList(xs []string) string {
	var q []string
	for _, x := range xs {
		if x != "" {
			q = append(q, strconv.Quote(x))
		}
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func (d *decoder) boolean(n *yaml.Node, match, key string) (bool, *RuleError) {
	s, ok, err := d.scalar(n, match, key, "true or false")
	if err != nil || !ok {
		return false, err
	}
	var b bool
	if s.Decode(&b) != nil {
		return false, d.errf(s.Line, match, "%s: expected true or false, got %q", key, s.Value)
	}
	return b, nil
}

func (d *decoder) number(n *yaml.Node, match, key string) (float64, int, *RuleError) {
	s, ok, err := d.scalar(n, match, key, "a number")
	if err != nil {
		return 0, 0, err
	}
	var f float64
	if !ok || s.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, 0, d.errf(s.Line, match, "%s: expected a finite number, got %q", key, s.Value)
	}
	return f, s.Line, nil
}

// duration reads a ttl or max_age as statsd_exporter's yaml.v2 reads a
// time.Duration: a string such as "30s", or a bare number of nanoseconds
// (which draws a warning: "ttl: 30" is 30ns, not 30s).
func (d *decoder) duration(n *yaml.Node, match, key string) (time.Duration, *RuleError) {
	s, ok, err := d.scalar(n, match, key, `a duration such as "30s"`)
	if err != nil || !ok {
		return 0, err
	}
	switch s.Tag {
	case "!!int", "!!float":
		var f float64
		if s.Decode(&f) != nil || math.IsNaN(f) || math.Abs(f) > math.MaxInt64 {
			return 0, d.errf(s.Line, match, "%s: expected a duration such as \"30s\", got %q", key, s.Value)
		}
		if f != 0 {
			if err := d.warn(d.errf(s.Line, match, "%s: %s without a unit is %v (nanoseconds, as statsd_exporter reads it): write %ss for seconds", key, s.Value, time.Duration(f), s.Value)); err != nil {
				return 0, err
			}
		}
		return time.Duration(f), nil
	}
	v, perr := time.ParseDuration(s.Value)
	if perr != nil {
		e := d.errf(s.Line, match, "%s: expected a duration such as \"30s\"", key)
		e.Err = perr
		return 0, e
	}
	return v, nil
}

// buckets reads a list of histogram boundaries. An empty list is nil: the
// defaults apply, as in statsd_exporter, with a warning.
func (d *decoder) buckets(n *yaml.Node, match, key string) ([]float64, *RuleError) {
	list, err := d.items(n, match, key)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		if isNull(n) {
			return nil, nil
		}
		return nil, d.warn(d.errf(n.Line, match, "%s: empty: the default buckets apply", key))
	}
	bs := make([]float64, 0, len(list))
	for _, c := range list {
		f, line, err := d.number(c, match, key)
		if err != nil {
			return nil, err
		}
		if len(bs) > 0 && f <= bs[len(bs)-1] {
			return nil, d.errf(line, match, "%s: boundaries must increase: %v after %v", key, f, bs[len(bs)-1])
		}
		bs = append(bs, f)
	}
	return bs, nil
}

// histogramOptions reads histogram_options: buckets is used; the native
// histogram settings are checked and have no effect (advice cannot carry
// them).
func (d *decoder) histogramOptions(vs []*yaml.Node, match string) ([]float64, *RuleError) {
	ps, err := d.mergedPairs(vs, match, false)
	if err != nil {
		return nil, err
	}
	var bs []float64
	for _, p := range ps {
		switch p.key {
		case "buckets":
			bs, err = d.buckets(p.v(), match, "histogram_options.buckets")
		case "native_histogram_bucket_factor", "native_histogram_max_buckets":
			_, _, err = d.number(p.v(), match, "histogram_options."+p.key)
		default:
			err = d.errf(p.k.Line, match, "unknown key %q", p.key)
		}
		if err != nil {
			return nil, err
		}
	}
	return bs, nil
}

// summaryOptions reads summary_options. statsd_exporter reads age_buckets
// and buf_cap as unsigned 32-bit integers, and the Prometheus client panics
// on a negative max_age: such values are load errors here.
func (d *decoder) summaryOptions(vs []*yaml.Node, match string) (*summarySpec, *RuleError) {
	ps, err := d.mergedPairs(vs, match, false)
	if err != nil {
		return nil, err
	}
	ss := &summarySpec{}
	for _, p := range ps {
		switch p.key {
		case "quantiles":
			ss.objectives, err = d.quantiles(p.v(), match, "summary_options.quantiles")
		case "max_age":
			ss.maxAge, err = d.duration(p.v(), match, "summary_options.max_age")
			if err == nil && ss.maxAge < 0 {
				err = d.errf(p.v().Line, match, "summary_options.max_age: must not be negative, got %v", ss.maxAge)
			}
		case "age_buckets":
			ss.ageBuckets, err = d.uint32(p.v(), match, "summary_options."+p.key)
		case "buf_cap":
			ss.bufCap, err = d.uint32(p.v(), match, "summary_options."+p.key)
		default:
			err = d.errf(p.k.Line, match, "unknown key %q", p.key)
		}
		if err != nil {
			return nil, err
		}
	}
	return ss, nil
}

// uint32 reads a whole number from 0 to 2^32-1.
func (d *decoder) uint32(n *yaml.Node, match, key string) (uint32, *RuleError) {
	f, line, err := d.number(n, match, key)
	if err != nil {
		return 0, err
	}
	if f < 0 || f > math.MaxUint32 || f != math.Trunc(f) {
		return 0, d.errf(line, match, "%s: expected a whole number from 0 to %d, got %v", key, uint32(math.MaxUint32), f)
	}
	return uint32(f), nil
}

// quantiles reads a list of {quantile, error} objectives; an empty list is
// nil (the defaults apply, as in statsd_exporter). A quantile must be in
// [0, 1] and its error in [0, 1], as the Prometheus client needs.
func (d *decoder) quantiles(n *yaml.Node, match, key string) ([]Objective, *RuleError) {
	list, err := d.items(n, match, key)
	if err != nil {
		return nil, err
	}
	var out []Objective
	for _, q := range list {
		ps, err := d.pairs(q, match, false)
		if err != nil {
			return nil, err
		}
		var o Objective
		for _, p := range ps {
			if p.key != "quantile" && p.key != "error" {
				return nil, d.errf(p.k.Line, match, "unknown key %q", p.key)
			}
			f, line, err := d.number(p.v(), match, key+"."+p.key)
			if err != nil {
				return nil, err
			}
			if f < 0 || f > 1 {
				return nil, d.errf(line, match, "%s.%s: must be from 0 to 1, got %v", key, p.key, f)
			}
			if p.key == "quantile" {
				o.Quantile = f
			} else {
				o.Error = f
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// document reads the top of the file: defaults, and the entries of
// mappings (read one by one by ruleSpecOf).
func (d *decoder) document(top *yaml.Node) (*fileSpec, *RuleError) {
	fs := &fileSpec{}
	top, err := d.deref(top)
	if err != nil {
		return nil, err
	}
	if isNull(top) {
		return fs, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, d.errf(top.Line, "", "the file must be a mapping with \"mappings\" (and \"defaults\")")
	}
	ps, err := d.pairs(top, "", false)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		switch p.key {
		case "defaults":
			err = d.defaults(p.vs, &fs.defaults)
		case "mappings":
			var mv *yaml.Node
			if mv, err = d.deref(p.v()); err == nil && !isNull(mv) && mv.Kind != yaml.SequenceNode {
				err = d.errf(mv.Line, "", "\"mappings\" must be a list")
			}
			if err == nil {
				fs.rules, err = d.items(p.v(), "", "mappings")
			}
		default:
			err = d.errf(p.k.Line, "", "unknown key %q", p.key)
		}
		if err != nil {
			return nil, err
		}
	}
	return fs, nil
}

func (d *decoder) defaults(vs []*yaml.Node, ds *defaultsSpec) *RuleError {
	ps, err := d.mergedPairs(vs, "", false)
	if err != nil {
		return err
	}
	var histBuckets, legacyBuckets []float64
	for _, p := range ps {
		switch p.key {
		case "match_type":
			ds.matchType, err = d.oneOf(p.v(), "", "match_type", "", "glob", "regex")
		case "observer_type", "timer_type":
			ds.obs.typ, err = d.observerType(p.v(), "", p.key)
		case "glob_disable_ordering":
			ds.disableOrdering, err = d.boolean(p.v(), "", p.key)
		case "histogram_options":
			histBuckets, err = d.histogramOptions(p.vs, "")
			ds.histOpts = p.k.Line
		case "buckets":
			legacyBuckets, err = d.buckets(p.v(), "", p.key)
		case "summary_options":
			ds.obs.summary, err = d.summaryOptions(p.vs, "")
		case "quantiles":
			ds.obs.legacy, err = d.quantiles(p.v(), "", p.key)
		case "ttl":
			ds.ttl, err = d.duration(p.v(), "", p.key)
		default:
			err = d.errf(p.k.Line, "", "unknown key %q", p.key)
		}
		if err != nil {
			return err
		}
	}
	ds.buckets = cmpOr(histBuckets, legacyBuckets)
	return nil
}

// cmpOr returns the first list that is not nil.
func cmpOr(lists ...[]float64) []float64 {
	for _, l := range lists {
		if l != nil {
			return l
		}
	}
	return nil
}

// ruleSpecOf reads one entry of mappings.
func (d *decoder) ruleSpecOf(n *yaml.Node) (*ruleSpec, *RuleError) {
	n, err := d.deref(n)
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.errf(n.Line, "", "each entry of \"mappings\" must be a mapping with at least \"match\"")
	}
	// Name the rule in errors about its keys, if its match is plain to see.
	hint := ""
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Kind == yaml.ScalarNode && k.Value == "match" && !isMerge(k) && v.Kind == yaml.ScalarNode {
			hint = v.Value
		}
	}
	ps, err := d.pairs(n, hint, false)
	if err != nil {
		return nil, err
	}
	r := &ruleSpec{line: n.Line}
	// Read match first, so every other error can name the rule.
	i := slices.IndexFunc(ps, func(p pair) bool { return p.key == "match" })
	if i < 0 {
		return nil, d.errf(n.Line, "", "mapping has no \"match\"")
	}
	if r.match, r.matchLine, err = d.str(ps[i].v(), "", "match"); err != nil {
		return nil, err
	}
	if r.match == "" {
		return nil, d.errf(r.matchLine, "", "\"match\" is empty")
	}
	match := r.match
	var (
		histBuckets, legacyBuckets []float64
		action                     string
	)
	for _, p := range ps {
		switch p.key {
		case "match":
		case "name":
			r.name, r.nameLine, err = d.str(p.v(), match, p.key)
		case "labels":
			r.labels, err = d.labels(p.vs, match)
		case "match_type":
			r.matchType, err = d.oneOf(p.v(), match, p.key, "", "glob", "regex")
		case "match_metric_type":
			r.metricType, err = d.oneOf(p.v(), match, p.key, "", "counter", "gauge", "observer")
		case "action":
			action, err = d.oneOf(p.v(), match, p.key, "", "map", "drop")
		case "help":
			r.help, _, err = d.str(p.v(), match, p.key)
		case "honor_labels":
			r.honor, err = d.boolean(p.v(), match, p.key)
		case "observer_type", "timer_type":
			r.obs.typ, err = d.observerType(p.v(), match, p.key)
			r.obsLine = p.k.Line
		case "histogram_options":
			histBuckets, err = d.histogramOptions(p.vs, match)
			r.histOpts = p.k.Line
		case "buckets":
			legacyBuckets, err = d.buckets(p.v(), match, p.key)
		case "summary_options":
			r.obs.summary, err = d.summaryOptions(p.vs, match)
			r.obsLine = p.k.Line
		case "quantiles":
			r.obs.legacy, err = d.quantiles(p.v(), match, p.key)
		case "scale":
			r.scale, r.scaleLine, err = d.number(p.v(), match, p.key)
			r.scaleSet = err == nil
		case "ttl":
			r.ttl, err = d.duration(p.v(), match, p.key)
		default:
			err = d.errf(p.k.Line, match, "unknown key %q", p.key)
		}
		if err != nil {
			if err.Match == "" {
				err.Match = match
			}
			return nil, err
		}
	}
	r.drop = action == "drop"
	r.buckets = cmpOr(histBuckets, legacyBuckets)
	return r, nil
}

// labels reads a rule's labels. As in yaml.v2, a scalar value is its text
// and null is "".
func (d *decoder) labels(vs []*yaml.Node, match string) ([]labelSpec, *RuleError) {
	ps, err := d.mergedPairs(vs, match, true)
	if err != nil {
		return nil, err
	}
	ls := make([]labelSpec, 0, len(ps))
	for _, p := range ps {
		if p.key == "" {
			return nil, d.errf(p.k.Line, match, "label with an empty name")
		}
		v, line, err := d.str(p.v(), match, fmt.Sprintf("label %q", p.key))
		if err != nil {
			return nil, err
		}
		ls = append(ls, labelSpec{key: p.key, value: v, line: line})
	}
	return ls, nil
}

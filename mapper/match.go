package mapper

import (
	"bytes"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// This file matches a sample against compiled rules, at run time (on a
// cache miss: a new series).

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

// find returns the rule that matches the name for the class and the places
// of its captures in the name (see template.expand). Glob rules are tried
// first (the lowest index among those that match, or the most specific with
// glob_disable_ordering), then regex rules in file order: statsd_exporter's
// order.
func (rs *Rules) find(name []byte, class int) (*rule, []int) {
	if rs.glob != nil {
		idx := -1
		if rs.unordered {
			if rem := bytes.Count(name, dot) + 1; rs.glob.viable(rem) {
				idx = rs.glob.matchSpecific(name, rem, class)
			}
		} else {
			idx = rs.glob.matchOrdered(name, class)
		}
		if idx >= 0 {
			r := rs.rules[idx]
			return r, globLoc(r.segs, r.ncap, name)
		}
	}
	for _, r := range rs.regex {
		if !r.classes[class] {
			continue
		}
		if loc := r.re.FindSubmatchIndex(name); loc != nil {
			return r, loc
		}
	}
	return nil, nil
}

// globLoc returns the places of a glob match's captures: group 0 is the
// whole name, 1..ncap the segments the wildcards matched.
func globLoc(segs []string, ncap int, name []byte) []int {
	loc := make([]int, 2, 2*(ncap+1))
	loc[1] = len(name)
	start := 0
	for _, p := range segs {
		end := bytes.IndexByte(name[start:], '.')
		if end < 0 {
			end = len(name)
		} else {
			end += start
		}
		if p == "*" {
			loc = append(loc, start, end)
		}
		start = end + 1
	}
	return loc
}

// mapSample maps a sample by the rules, or reports that none matches.
func (rs *Rules) mapSample(m *Mapper, s *statsd.Sample) (*Mapping, bool) {
	r, loc := rs.find(s.Name, classOf(s.Type))
	if r == nil {
		return nil, false
	}
	if r.drop {
		return dropped, true
	}
	name := r.name.expand(s.Name, loc)
	if name == "" {
		// Only references that matched nothing: statsd_exporter drops the
		// sample (its empty_metric_name error), and so does the rule here.
		return dropped, true
	}
	kind, scale, unit, ok := recordAs(s.Type)
	if !ok {
		return dropped, true
	}
	if r.scale != 0 {
		// statsd_exporter turns timers into seconds, then applies scale; the
		// unit is then unknown.
		scale, unit = scale*r.scale, ""
	}
	mp := &Mapping{Name: name, Kind: kind, Unit: unit, Scale: scale, Description: r.help, TTL: r.ttl}
	if mp.Description == "" {
		mp.Description = DefaultDescription
	}
	if kind == KindHistogram {
		mp.Buckets = r.buckets
		mp.Summary = r.summary
	}
	var own []ownAttr
	if len(r.labels) > 0 {
		own = make([]ownAttr, len(r.labels))
		for i, l := range r.labels {
			own[i] = ownAttr{kv: attribute.String(l.key, l.val.expand(s.Name, loc)), label: l.label}
		}
	}
	mp.Attributes = m.attributes(s, own, m.tagOverride || r.honor)
	return mp, true
}

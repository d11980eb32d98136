package mapper

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// fuzzRules exercise every path of the rule matcher in FuzzMap.
const fuzzRules = `
mappings:
- match: "*.gunicorn.request.status.*"
  help: "gunicorn response code"
  name: "gunicorn_response_code"
  labels:
    app: "$1"
    status: "$2"
- match: "*.dummy.*"
  name: "dummy_$2"
- match: "full.name.*"
  name: "full_${1}"
- match: "a.b.c"
  name: "abc"
- match: "a.b"
  name: "ab"
  match_metric_type: counter
- match: "*"
  name: "$1"
  match_metric_type: gauge
- match: "drop.*"
  action: drop
- match: "(.*)\\.re\\.(?P<x>[^.]*)"
  match_type: regex
  name: "re_${x}"
  labels:
    all: "$0"
    first: "$1"
  honor_labels: true
`

func fuzzMappers(t testing.TB) []*Mapper {
	rs, err := ParseRules("fuzz.yml", []byte(fuzzRules))
	if err != nil {
		t.Fatal(err)
	}
	demo, err := os.ReadFile(demoRules)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ParseRules("demo.yml", demo)
	if err != nil {
		t.Fatal(err)
	}
	var ms []*Mapper
	for _, opts := range [][]Option{
		nil,
		{WithRules(rs)},
		{WithRules(rd), WithPrefix("shop.web"), WithTagOverride(true)},
		{WithPrefix("a"), WithPrefixKey("")},
		{WithRules(rs), WithoutGunicornProfile(), WithDropUnmatched(), WithCacheSize(1)},
		{WithDropBareTags(), WithMaxTags(2), WithMaxTagBytes(3), WithPrefixKey("a.p-p")},
	} {
		ms = append(ms, mustMapper(t, opts...))
	}
	return ms
}

func checkMapping(t *testing.T, s *statsd.Sample, mp *Mapping) {
	t.Helper()
	if mp == nil {
		t.Fatalf("%q: nil mapping", s.Name)
	}
	if mp.Drop {
		if mp.Name != "" || mp.Kind != 0 || mp.Scale != 0 || mp.Attributes.Len() != 0 {
			t.Fatalf("%q: drop with fields set: %+v", s.Name, mp)
		}
		return
	}
	if mp.Name == "" || mp.Kind < KindCounter || mp.Kind > KindHistogram || mp.Scale == 0 || math.IsInf(mp.Scale, 0) || math.IsNaN(mp.Scale) {
		t.Fatalf("%q: bad mapping %+v", s.Name, mp)
	}
	if mp.Buckets != nil && mp.Kind != KindHistogram {
		t.Fatalf("%q: buckets on a %v", s.Name, mp.Kind)
	}
	// No attribute set can make a Prometheus exposition invalid: every key
	// has a label name of its own, none reserved.
	labels := make(map[string]string)
	it := mp.Attributes.Iter()
	for it.Next() {
		kv := it.Attribute()
		key := string(kv.Key)
		label := promLabel(key)
		if key == "" || onlyUnderscores(label) || reservedLabel(key, label) != "" || !utf8.ValidString(key) || !utf8.ValidString(kv.Value.Emit()) {
			t.Fatalf("%q: attribute %q=%q in %+v", s.Name, key, kv.Value.Emit(), mp)
		}
		if other, ok := labels[label]; ok {
			t.Fatalf("%q: attributes %q and %q are both label %q", s.Name, other, key, label)
		}
		labels[label] = key
	}
}

// FuzzMap maps arbitrary names, types and tag sections, parsed or not: no
// panic, a well-formed Mapping, and the same result from the cache.
func FuzzMap(f *testing.F) {
	for _, seed := range []struct {
		name, tags string
		typ        uint8
	}{
		{"shop.web.gunicorn.request.status.200", "env:prod,team:web", 1},
		{"agunicorn.request.duration", "", 3},
		{"gunicorn.prod.gunicorn.workers", "", 2},
		{"a..gunicorn.log.critical", "app:x,level", 1},
		{"gunicorn.backlog", ",,", 4},
		{"gunicorn.request.status.-1", "", 1},
		{"full.name.anothertest", "", 1},
		{"x.re.y", "first:tag", 5},
		{"drop.me", "", 6},
		{".", "k:", 2},
		{"", "", 0},
		{"a.b", "", 200},
	} {
		f.Add(seed.name, seed.tags, seed.typ)
	}
	ms := fuzzMappers(f)
	f.Fuzz(func(t *testing.T, name, tags string, typ uint8) {
		s := &statsd.Sample{Name: []byte(name), Tags: []byte(tags), Type: statsd.Type(typ), Value: 1, Rate: 1}
		for _, m := range ms {
			mp := m.Map(s)
			checkMapping(t, s, mp)
			if again := m.Map(s); again != mp && m.cache.Capacity() > 64 {
				t.Fatalf("%q: second Map gave another mapping", name)
			}
		}
		// The same through the parser, as the bridge sees it.
		var p statsd.Parser
		ss, err := p.ParseLine(nil, []byte(name+":1|"+statsd.Type(typ).Symbol()+"|#"+tags))
		if err != nil {
			return
		}
		for i := range ss {
			for _, m := range ms {
				checkMapping(t, &ss[i], m.Map(&ss[i]))
			}
		}
	})
}

// FuzzLoadRules parses arbitrary mapping files: no panic; an error is a
// *RuleError naming the file; rules that load can map names.
func FuzzLoadRules(f *testing.F) {
	demo, err := os.ReadFile(demoRules)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(demo)
	f.Add([]byte(fuzzRules))
	f.Add([]byte("defaults:\n  match_type: regex\n  glob_disable_ordering: true\n  ttl: 1m\n  histogram_options:\n    buckets: [1, 2]\nmappings:\n- match: \"(a)(b)?\"\n  name: \"x_${1}_$2\"\n  scale: 2\n"))
	f.Add([]byte("mappings:\n- match: \"*.*.*.*.*.*.*.*.*.*.*.*\"\n  name: \"t_${12}\"\n  labels: {a: \"$$$1\", b: \"$\"}\n"))
	f.Add([]byte("mappings:\n- match: a.b\n  action: drop\n- match: a.*\n  name: x\n  summary_options: {quantiles: [{quantile: 0.5, error: 0.1}], max_age: 1m}\n"))
	f.Add([]byte("mappings: [{match: \"a\", name: \"b\", labels: {\"\": \"\"}}]"))
	f.Add([]byte("&a [*a]"))
	anchors, err := os.ReadFile("testdata/anchors.yml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(anchors)
	f.Add([]byte(strings.Join(strings.SplitAfter(laughs(), "\n")[:4], "")))
	f.Add([]byte("mappings:\n- &b {match: \"a.*\", name: a, labels: {team: x}}\n- <<: [*b, {ttl: 30}]\n  match: \"b.*.*\"\n  name: \"$1_foo$0${1}$1}\"\n  labels: {pp: \"$$$1\", le: x, a.b: y, a_b: \"${2}\"}\n"))
	f.Add([]byte("defaults: {buckets: [], ttl: -1s}\nmappings:\n- {match: \"(?P<n>x)(?P<n>y)?\", match_type: regex, name: \"r_${n}_$01_${1\", scale: -2, histogram_options: {buckets: []}}\n"))
	names := [][]byte{[]byte("a.b"), []byte("a"), []byte("x.gunicorn.request.status.200"), []byte("a..b"), []byte("ab"), []byte("c1.c2.c3.c4.c5.c6.c7.c8.c9.c10.c11.c12")}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRules("fuzz.yml", data)
		strict, serr := ParseRules("fuzz.yml", data, StrictRules())
		for _, e := range []error{err, serr} {
			var re *RuleError
			if e != nil && (!errors.As(e, &re) || re.File != "fuzz.yml") {
				t.Fatalf("error %T %v", e, e)
			}
		}
		if err != nil {
			if serr == nil {
				t.Fatalf("strict loads what lenient refuses: %v", err)
			}
			return
		}
		// Strict refuses exactly the files with warnings, with the first.
		switch w := rs.Warnings(); {
		case len(w) == 0 && (serr != nil || strict.Len() != rs.Len()):
			t.Fatalf("no warnings, strict: %v", serr)
		case len(w) > 0 && (serr == nil || serr.Error() != w[0].Error()):
			t.Fatalf("warnings %v, strict: %v", w, serr)
		}
		for _, w := range rs.Warnings() {
			if w.File != "fuzz.yml" || w.Line == 0 {
				t.Fatalf("warning %+v", w)
			}
		}
		m, err := New(WithRules(rs))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			for typ := statsd.Counter; typ <= statsd.Set; typ++ {
				s := &statsd.Sample{Name: n, Type: typ, Tags: []byte("k:v"), Rate: 1}
				checkMapping(t, s, m.Map(s))
			}
		}
	})
}

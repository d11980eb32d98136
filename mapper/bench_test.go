package mapper

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gunicornotel/gunicornotel/statsd"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

func parseAll(b *testing.B, lines []string) []statsd.Sample {
	var p statsd.Parser
	var ss []statsd.Sample
	for _, l := range lines {
		var err error
		ss, err = p.ParseLine(ss, []byte(l))
		if err != nil {
			b.Fatal(err)
		}
	}
	return ss
}

// BenchmarkMapGunicorn maps the project's datagram mix (statsdtest.GunicornMix,
// tags included) with the built-in profile (the steady state: every series is cached).
func BenchmarkMapGunicorn(b *testing.B) {
	var lines []string
	for _, d := range statsdtest.GunicornMix(statsdtest.Config{Version: statsdtest.V(20, 1, 0), Prefix: "myapp", Tags: "env:prod,service:web"}) {
		lines = append(lines, string(d))
	}
	ss := parseAll(b, lines)
	m, err := New()
	if err != nil {
		b.Fatal(err)
	}
	for i := range ss {
		m.Map(&ss[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if m.Map(&ss[i]).Drop {
			b.Fatal("dropped")
		}
		if i++; i == len(ss) {
			i = 0
		}
	}
}

// rules1000 returns a mapping file of n glob rules and names that match
// rules spread over the whole file.
func rules1000(n int) (string, []string) {
	var y strings.Builder
	y.WriteString("mappings:\n")
	var lines []string
	for i := range n {
		fmt.Fprintf(&y, "- match: \"svc%d.*.requests.*\"\n  name: \"svc%d_requests_total\"\n  labels:\n    app: \"$1\"\n    code: \"$2\"\n", i, i)
		if i%(n/10) == n/20 {
			lines = append(lines, fmt.Sprintf("svc%d.web.requests.200:1|c|#env:prod", i))
		}
	}
	return y.String(), lines
}

// BenchmarkMapRules1000 maps names matched by a 1,000-rule glob file (the
// steady state: every series is cached).
func BenchmarkMapRules1000(b *testing.B) {
	yml, lines := rules1000(1000)
	rs, err := ParseRules("bench.yml", []byte(yml))
	if err != nil {
		b.Fatal(err)
	}
	ss := parseAll(b, lines)
	m, err := New(WithRules(rs))
	if err != nil {
		b.Fatal(err)
	}
	for i := range ss {
		if mp := m.Map(&ss[i]); !strings.HasSuffix(mp.Name, "_requests_total") {
			b.Fatalf("%s mapped to %s", ss[i].Name, mp.Name)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		m.Map(&ss[i])
		if i++; i == len(ss) {
			i = 0
		}
	}
}

// BenchmarkGlobMatch measures the glob state machine alone (no cache), for
// rule files of 10 and 1,000 rules: a lookup must cost about the same.
func BenchmarkGlobMatch(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			yml, lines := rules1000(n)
			rs, err := ParseRules("bench.yml", []byte(yml))
			if err != nil {
				b.Fatal(err)
			}
			names := make([][]byte, len(lines))
			for i, l := range lines {
				names[i] = []byte(l[:strings.IndexByte(l, ':')])
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if rs.glob.matchOrdered(names[i], classCounter) < 0 {
					b.Fatal("no match")
				}
				if i++; i == len(names) {
					i = 0
				}
			}
		})
	}
}

// BenchmarkMapMiss measures a cache miss: matching plus building the
// attribute set (what a new series costs once).
func BenchmarkMapMiss(b *testing.B) {
	yml, lines := rules1000(1000)
	rs, err := ParseRules("bench.yml", []byte(yml))
	if err != nil {
		b.Fatal(err)
	}
	ss := parseAll(b, append(lines, "myapp.gunicorn.request.status.200:1|c|@1.0|#env:prod,service:web"))
	m, err := New(WithRules(rs))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.compute(&ss[i])
		if i++; i == len(ss) {
			i = 0
		}
	}
}

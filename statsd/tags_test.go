package statsd

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// render writes a sample as name{k=v,bare,empty=}: the name, then every tag
// TagIter yields, in order; a bare tag has no '='.
func render(s *Sample) string {
	var b strings.Builder
	b.Write(s.Name)
	b.WriteByte('{')
	it := s.TagIter()
	for n := 0; it.Next(); n++ {
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(it.Key())
		if !it.Bare() {
			b.WriteByte('=')
			b.Write(it.Value())
		}
	}
	b.WriteByte('}')
	return b.String()
}

// parseOne parses line into a fresh Batch and renders what came out: every
// sample, then "!reason" for a rejected line, then "bad_tag*n".
func parseOne(p *Parser, line string) (got string, b *Batch) {
	b = &Batch{}
	p.Parse(b, []byte(line))
	var out []string
	for i := range b.Samples {
		out = append(out, render(&b.Samples[i]))
	}
	for _, e := range b.Errors {
		out = append(out, "!"+e.Reason.String())
	}
	if n := len(b.TagErrors); n > 0 {
		out = append(out, fmt.Sprintf("%s*%d", b.TagErrors[0].Reason, n))
	}
	return strings.Join(out, " "), b
}

// The tag formats, as statsd_exporter v0.31.0 reads them (pkg/line), one
// case per rule. want is what parseOne renders.
var tagCases = []struct {
	name, line, want string
	p                Parser
}{
	// DogStatsD.
	{"dog", "m:1|c|#env:prod,team:web", "m{env=prod,team=web}", Parser{}},
	{"dog bare tag kept, and told apart", "m:1|c|#env:prod,canary", "m{env=prod,canary}", Parser{}},
	{"dog empty value kept, not bare", "m:1|c|#env:prod,k:", "m{env=prod,k=}", Parser{}},
	{"dog empty key dropped", "m:1|c|#:x,env:prod", "m{env=prod} bad_tag*1", Parser{}},
	{"dog '#' then empty key dropped", "m:1|c|##:x,env:prod", "m{env=prod} bad_tag*1", Parser{}},
	{"dog empty tag dropped", "m:1|c|#a:b,,c:d", "m{a=b,c=d} bad_tag*1", Parser{}},
	{"dog leading comma", "m:1|c|#,a:b", "m{a=b} bad_tag*1", Parser{}},
	{"dog trailing comma is no error", "m:1|c|#a:b,", "m{a=b}", Parser{}},
	{"dog two trailing commas", "m:1|c|#a:b,,", "m{a=b} bad_tag*1", Parser{}},
	{"dog only a comma", "m:1|c|#,", "m{} bad_tag*1", Parser{}},
	{"dog empty section", "m:1|c|#", "m{}", Parser{}},
	{"dog lone '#' tag", "m:1|c|#a:b,#", "m{a=b} bad_tag*1", Parser{}},
	{"dog '#' before every key", "m:1|c|##a:b,#c:d", "m{a=b,c=d}", Parser{}},
	{"dog only the first '#' goes", "m:1|c|###a:b", "m{#a=b}", Parser{}},
	{"dog ':' in a value", "m:1|c|#k:v:w,url:http://x", "m{k=v:w,url=http://x}", Parser{}},
	{"dog '=' is no separator", "m:1|c|#a=b", "m{a=b}", Parser{}},
	{"dog duplicate keys, in order", "m:1|c|#a:1,a:2", "m{a=1,a=2}", Parser{}},
	{"dog two sections joined", "m:1|c|#a:b|@0.5|#c:d", "m{a=b,c=d}", Parser{}},
	{"dog bad tags in two sections", "m:1|c|#:x|#c:d,", "m{c=d} bad_tag*1", Parser{}},
	{"dog off: section skipped", "m:1|c|#a:b,:x", "m{}", Parser{NoDogStatsDTags: true}},
	{"dog all bad", "m:1|c|#:a,:b,,", "m{} bad_tag*3", Parser{}},

	// InfluxDB.
	{"influx", "m,k=v,k2=v2:1|c", "m{k=v,k2=v2}", Parser{}},
	{"influx '=' in a value", "m,k=v=w:1|c", "m{k=v=w}", Parser{}},
	{"influx no '='", "m,k,a=b:1|c", "m{a=b} bad_tag*1", Parser{}},
	{"influx empty value", "m,k=,a=b:1|c", "m{a=b} bad_tag*1", Parser{}},
	{"influx empty key", "m,=v,a=b:1|c", "m{a=b} bad_tag*1", Parser{}},
	{"influx empty section", "m,:1|c", "m{}", Parser{}},
	{"influx empty tag", "m,a=b,,c=d:1|c", "m{a=b,c=d} bad_tag*1", Parser{}},
	{"influx trailing comma", "m,a=b,:1|c", "m{a=b}", Parser{}},
	{"influx '#' is in the value", "m,a=b#c=d:1|c", "m{a=b#c=d}", Parser{}},
	{"influx key with '#'", "m,#a=b:1|c", "m{#a=b}", Parser{}},
	{"influx duplicate keys", "m,a=1,a=2:1|c", "m{a=1,a=2}", Parser{}},
	{"influx UTF-8", "café,ville=Zürich:1|c", "café{ville=Zürich}", Parser{}},
	{"influx off", "m,a=b:1|c", "m,a=b{}", Parser{NoInfluxDBTags: true}},
	{"influx off, librato on", "m,x#a=b:1|c", "m,x{a=b}", Parser{NoInfluxDBTags: true}},

	// Librato.
	{"librato", "m#k=v,k2=v2:1|c", "m{k=v,k2=v2}", Parser{}},
	{"librato '#' in a value", "m#a=b,c=d#e=f:1|c", "m{a=b,c=d#e=f}", Parser{}},
	{"librato first of ',' and '#' wins", "m#x,a=b:1|c", "m{a=b} bad_tag*1", Parser{}},
	{"librato bad", "m#k:1|c", "m{} bad_tag*1", Parser{}},
	{"librato off", "m#a=b:1|c", "m#a=b{}", Parser{NoLibratoTags: true}},
	{"librato off, influx on", "m#x,a=b:1|c", "m#x{a=b}", Parser{NoLibratoTags: true}},

	// SignalFX.
	{"signalfx at the end", "m[k=v,k2=v2]:1|c", "m{k=v,k2=v2}", Parser{}},
	{"signalfx in the middle", "my.[k=v]metric:1|c", "my.metric{k=v}", Parser{}},
	{"signalfx at the start", "[k=v]my.metric:1|c", "my.metric{k=v}", Parser{}},
	{"signalfx empty", "m[]:1|c", "m{}", Parser{}},
	{"signalfx no '='", "m[k]:1|c", "m{} bad_tag*1", Parser{}},
	{"signalfx no ']'", "m[k=v:1|c", "m[k=v{} bad_tag*1", Parser{}},
	{"signalfx no '['", "mk=v]:1|c", "mk=v]{} bad_tag*1", Parser{}},
	{"signalfx ']' before '['", "m]x[k=v:1|c", "m]x[k=v{} bad_tag*1", Parser{}},
	{"signalfx wins over influx", "m[a=b],c=d:1|c", "m,c=d{a=b}", Parser{}},
	{"signalfx wins over librato", "a#x[a=b]y:1|c", "a#xy{a=b}", Parser{}},
	{"one bracket stops influx too", "m,c=d[x:1|c", "m,c=d[x{} bad_tag*1", Parser{}},
	{"signalfx first ']'", "m[a=b[c=d]]:1|c", "m]{a=b[c=d}", Parser{}},
	{"signalfx off", "m[a=b]:1|c", "m[a=b]{}", Parser{NoSignalFXTags: true}},
	{"signalfx off, influx on", "m[a=b],c=d:1|c", "m[a=b]{c=d}", Parser{NoSignalFXTags: true}},
	{"signalfx off, one bracket is no error", "m[x:1|c", "m[x{}", Parser{NoSignalFXTags: true}},

	// Combinations of name-embedded and DogStatsD tags.
	{"influx and dog", "m,a=b:1|c|#c:d", "m{a=b,c=d}", Parser{}},
	{"signalfx and dog", "x.[a=b]y:1|c|#c:d,e", "x.y{a=b,c=d,e}", Parser{}},
	{"librato and two dog sections", "m#a=b:1|c|#c:d|#:x,e:f", "m{a=b,c=d,e=f} bad_tag*1", Parser{}},
	{"mixed rejected", "m,a=b:1|c|#c:d", "!mixed_tags", Parser{RejectMixedTags: true}},
	{"mixed rejected, empty dog section", "m[a=b]:1|c|#", "!mixed_tags", Parser{RejectMixedTags: true}},
	{"mixed rejected, dog off", "m#a=b:1|c|#c:d", "!mixed_tags", Parser{RejectMixedTags: true, NoDogStatsDTags: true}},
	{"not mixed: no name tag kept", "m,a=:1|c|#c:d", "m{c=d} bad_tag*1", Parser{RejectMixedTags: true}},
	{"dog off keeps name tags", "m,a=b:1|c|#c:d", "m{a=b}", Parser{NoDogStatsDTags: true}},
	{"packed values share name and tags", "m,x,a=b:1:2|ms|@0.5|#:z,c:d", "m{a=b,c=d} m{a=b,c=d} bad_tag*2", Parser{}},
	{"all name formats off", "m,a=b#c[d]:1|c", "m,a=b#c[d]{}", Parser{NoInfluxDBTags: true, NoLibratoTags: true, NoSignalFXTags: true}},

	// Names that look special to the quick check but hold no tag section.
	{"other punctuation", "a$b%c&d'e(f)g*h+i\\j:1|c", "a$b%c&d'e(f)g*h+i\\j{}", Parser{}},
	{"space", "a b:1|c", "a b{}", Parser{}},

	// Lines rejected before their tags are looked at count no tag error.
	{"bad value", "m,k:x|c|#:v", "!bad_value", Parser{}},
	{"empty name", "[k=v]:1|c|#:v", "!empty_name", Parser{}},
}

func TestParseTagFormats(t *testing.T) {
	for _, tc := range tagCases {
		got, b := parseOne(&tc.p, tc.line)
		if got != tc.want {
			t.Errorf("%s: %q parses as %s; want %s", tc.name, tc.line, got, tc.want)
		}
		for _, e := range b.TagErrors {
			if e.Reason != ReasonBadTag || string(e.Line) != tc.line {
				t.Errorf("%s: tag error %+v", tc.name, e)
			}
		}
		// ParseLine gives the same samples, and the same rejection.
		ss, err := tc.p.ParseLine(nil, []byte(tc.line))
		if len(ss) != len(b.Samples) || (err != nil) != (len(b.Errors) > 0) {
			t.Errorf("%s: ParseLine gave %d samples, err %v", tc.name, len(ss), err)
			continue
		}
		for i := range ss {
			if render(&ss[i]) != render(&b.Samples[i]) {
				t.Errorf("%s: ParseLine gave %s; Parse %s", tc.name, render(&ss[i]), render(&b.Samples[i]))
			}
		}
	}
}

// TestTagsForm: Sample.Tags is the raw section when the line has only one
// "|#" section, and the DogStatsD form in the Batch's scratch otherwise.
func TestTagsForm(t *testing.T) {
	for _, tc := range []struct{ line, tags string }{
		{"m:1|c|#a:b,:x,c", "a:b,:x,c"},
		{"m,a=b,k=v=w:1|c", "a:b,k:v=w"},
		{"m,#a=b:1|c", "##a:b"}, // TagIter drops one '#': the key stays "#a"
		{"m,a=b:1|c|#c:d", "a:b,c:d"},
		{"m,bad:1|c|#c:d", "c:d"},
		{"m:1|c|#a:b,|#c:d", "a:b,,c:d"},
		{"m[a=b]:1|c", "a:b"},
		{"m[bad]:1|c", ""},
	} {
		var p Parser
		var b Batch
		p.Parse(&b, []byte(tc.line))
		if len(b.Samples) != 1 || string(b.Samples[0].Tags) != tc.tags {
			t.Errorf("%q: %d samples, Tags %q; want %q", tc.line, len(b.Samples), b.Samples[0].Tags, tc.tags)
		}
	}
}

// TestScratchLifetime: names and tags written into the Batch's scratch
// stay right while more datagrams are parsed into the same Batch (the
// scratch grows and moves), and Reset reuses it.
func TestScratchLifetime(t *testing.T) {
	var p Parser
	var b Batch
	const n = 500
	for i := range n {
		p.Parse(&b, fmt.Appendf(nil, "app.[k=%d,host=h%d]requests.total:1|c|#env:prod", i, i))
	}
	if len(b.Samples) != n {
		t.Fatalf("%d samples", len(b.Samples))
	}
	for i := range b.Samples {
		if got, want := render(&b.Samples[i]), fmt.Sprintf("app.requests.total{k=%d,host=h%d,env=prod}", i, i); got != want {
			t.Fatalf("sample %d = %s; want %s", i, got, want)
		}
	}
	capBefore := cap(b.scratch)
	b.Reset()
	if len(b.scratch) != 0 || len(b.TagErrors) != 0 || cap(b.scratch) != capBefore {
		t.Errorf("Reset: scratch %d/%d (was cap %d), tag errors %d", len(b.scratch), cap(b.scratch), capBefore, len(b.TagErrors))
	}
	// A rejected line leaves nothing in the scratch.
	p.Parse(&b, []byte("[k=v]:1|c\nm,a=b:1|c|#c:d"))
	(&Parser{RejectMixedTags: true}).Parse(&b, []byte("m,a=b:1|c|#c:d"))
	if len(b.scratch) != len("a:b,c:d") || len(b.Errors) != 2 {
		t.Errorf("scratch %q, errors %+v", b.scratch, b.Errors)
	}
}

// TestScanName holds scanName to its promise, for every byte value at every
// place in names of 1 to 24 bytes: low is set exactly when a byte is below
// 0x2d, brackets when one is between 0x5b and 0x5d, high when one is 0x80
// or more. A false negative would let a tag section stay in the name.
func TestScanName(t *testing.T) {
	check := func(name []byte) {
		var wantL, wantB, wantH bool
		for _, c := range name {
			wantL = wantL || c < 0x2d
			wantB = wantB || (c >= 0x5b && c <= 0x5d)
			wantH = wantH || c >= 0x80
		}
		l, b, h := scanName(name)
		if (l != 0) != wantL || (b != 0) != wantB || (h != 0) != wantH {
			t.Fatalf("scanName(%q) = %#x, %#x, %#x; want set: %v, %v, %v", name, l, b, h, wantL, wantB, wantH)
		}
	}
	for _, bg := range []byte{'a', 'z', '.', '_', '-', '0', 'Z', 0x5e, 0x5a, 0x2d, 0x7f, 0xc3} {
		for n := 1; n <= 24; n++ {
			name := bytes.Repeat([]byte{bg}, n)
			for i := range n {
				for c := range 256 {
					name[i] = byte(c)
					check(name)
				}
				name[i] = bg
			}
		}
	}
	// Random names, several special bytes at once.
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		name := make([]byte, 1+r.IntN(40))
		for i := range name {
			name[i] = byte(r.IntN(256))
		}
		check(name)
	}
}

// TestTagIterBare: Bare tells "k" from "k:", and is false between tags.
func TestTagIterBare(t *testing.T) {
	it := NewTagIter([]byte("a,b:,#c,d:e"))
	var got []string
	for it.Next() {
		got = append(got, fmt.Sprintf("%s:%q:%v", it.Key(), it.Value(), it.Bare()))
	}
	if s := strings.Join(got, " "); s != `a:"":true b:"":false c:"":true d:"e":false` {
		t.Errorf("got %s", s)
	}
	if it.Bare() {
		t.Error("Bare after the end")
	}
	var zero TagIter
	if zero.Bare() {
		t.Error("Bare on the zero TagIter")
	}
}

// TestParseTagsLinear: long tag sections take time in proportion to their
// length; every tag malformed, or thousands of sections, included. It
// counts, it does not time: each of n tags is dropped exactly once.
func TestParseTagsLinear(t *testing.T) {
	const n = 20000
	for _, tc := range []struct{ line string }{
		{"m:1|c|#" + strings.Repeat(":x,", n)},
		{"m," + strings.Repeat("x,", n) + ":1|c"},
		{"m:1|c" + strings.Repeat("|#:x", n)},
		{"m[" + strings.Repeat("x,", n) + "]:1|c"},
	} {
		b := &Batch{}
		(&Parser{MaxLineLength: -1}).Parse(b, []byte(tc.line))
		if len(b.Samples) != 1 || len(b.TagErrors) != n {
			t.Errorf("%.20q...: %d samples, %d tag errors; want 1, %d", tc.line, len(b.Samples), len(b.TagErrors), n)
		}
	}
}

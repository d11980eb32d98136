package statsd

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// s builds an expected sample; fields not given take the parser's defaults.
func s(name string, v float64, t Type) Sample {
	return Sample{Name: []byte(name), Value: v, Type: t, Rate: 1}
}

func with(x Sample, f func(*Sample)) Sample { f(&x); return x }

func equalBytes(a, b []byte) bool { return bytes.Equal(a, b) } // nil and empty are equal

func sameSample(a, b Sample) bool {
	return equalBytes(a.Name, b.Name) && equalBytes(a.Tags, b.Tags) &&
		equalBytes(a.ContainerID, b.ContainerID) && equalBytes(a.Member, b.Member) &&
		a.Value == b.Value && a.Rate == b.Rate && a.Timestamp == b.Timestamp &&
		a.Type == b.Type && a.Delta == b.Delta
}

func TestParseLine(t *testing.T) {
	tags := func(t string) func(*Sample) { return func(x *Sample) { x.Tags = []byte(t) } }
	rate := func(r float64) func(*Sample) { return func(x *Sample) { x.Rate = r } }
	for _, tc := range []struct {
		line string
		want []Sample
	}{
		// Plain StatsD, every type.
		{"a.b:1|c", []Sample{s("a.b", 1, Counter)}},
		{"a.b:42|g", []Sample{s("a.b", 42, Gauge)}},
		{"a.b:0.55|ms", []Sample{s("a.b", 0.55, Timer)}},
		{"a.b:3|h", []Sample{s("a.b", 3, Histogram)}},
		{"a.b:3.5|d", []Sample{s("a.b", 3.5, Distribution)}},
		{"a.b:user42|s", []Sample{with(s("a.b", 0, Set), func(x *Sample) { x.Member = []byte("user42") })}},
		// Values as Gunicorn and others write them.
		{"gunicorn.request.duration:1016.0360000000001|ms", []Sample{s("gunicorn.request.duration", 1016.0360000000001, Timer)}},
		{"gunicorn.request.duration:86399500.0|ms", []Sample{s("gunicorn.request.duration", 86399500, Timer)}},
		{"x:1e-05|ms", []Sample{s("x", 1e-05, Timer)}},
		{"x:1.5E+3|h", []Sample{s("x", 1500, Histogram)}},
		{"x:.5|c", []Sample{s("x", 0.5, Counter)}},
		{"x:5.|c", []Sample{s("x", 5, Counter)}},
		{"x:-5|c", []Sample{s("x", -5, Counter)}},
		{"x:123456789012345678|c", []Sample{s("x", 123456789012345678, Counter)}},
		// Sample rates.
		{"gunicorn.requests:1|c|@1.0", []Sample{s("gunicorn.requests", 1, Counter)}},
		{"x:1|c|@0.1", []Sample{with(s("x", 1, Counter), rate(0.1))}},
		{"x:250|ms|@0.25", []Sample{with(s("x", 250, Timer), rate(0.25))}},
		// Gauge deltas.
		{"x:+3|g", []Sample{with(s("x", 3, Gauge), func(x *Sample) { x.Delta = true })}},
		{"x:-2.5|g", []Sample{with(s("x", -2.5, Gauge), func(x *Sample) { x.Delta = true })}},
		{"x:-2|c", []Sample{s("x", -2, Counter)}}, // a sign means a delta only for gauges
		// DogStatsD tags, container id, timestamp, unknown sections, packed values.
		{"x:1|c|#env:prod,team", []Sample{with(s("x", 1, Counter), tags("env:prod,team"))}},
		{"x:1|c|@0.5|#k:v:with:colons", []Sample{with(s("x", 1, Counter), func(x *Sample) { x.Rate = 0.5; x.Tags = []byte("k:v:with:colons") })}},
		{"x:1|c|#a:b,", []Sample{with(s("x", 1, Counter), tags("a:b,"))}},
		{"x:1|c|c:abc123", []Sample{with(s("x", 1, Counter), func(x *Sample) { x.ContainerID = []byte("abc123") })}},
		{"x:1|c|T1700000000", []Sample{with(s("x", 1, Counter), func(x *Sample) { x.Timestamp = 1700000000 })}},
		{"x:1|c|xfuture|e:whatever|#a:b", []Sample{with(s("x", 1, Counter), tags("a:b"))}},
		{"x:1|c||#a:b|", []Sample{with(s("x", 1, Counter), tags("a:b"))}},
		{"x:1:2:3|ms|#t", []Sample{
			with(s("x", 1, Timer), tags("t")), with(s("x", 2, Timer), tags("t")), with(s("x", 3, Timer), tags("t")),
		}},
		{"x:+1:-2|g", []Sample{
			with(s("x", 1, Gauge), func(x *Sample) { x.Delta = true }), with(s("x", -2, Gauge), func(x *Sample) { x.Delta = true }),
		}},
		// Gunicorn's one-character prefix quirk and UTF-8 names.
		{"agunicorn.requests:1|c|@1.0", []Sample{s("agunicorn.requests", 1, Counter)}},
		{"café.orders:1|c|#ville:Zürich", []Sample{with(s("café.orders", 1, Counter), tags("ville:Zürich"))}},
	} {
		var p Parser
		got, err := p.ParseLine(nil, []byte(tc.line))
		if err != nil {
			t.Errorf("ParseLine(%q): %v", tc.line, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("ParseLine(%q) gave %d samples; want %d", tc.line, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if !sameSample(got[i], tc.want[i]) {
				t.Errorf("ParseLine(%q)[%d] =\n %+v; want\n %+v", tc.line, i, got[i], tc.want[i])
			}
		}
	}
}

func TestParseLineErrors(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Reason
	}{
		{"no-colon-or-pipe", ReasonMalformedLine},
		{"a.b|c", ReasonMalformedLine},
		{"a.b:1", ReasonMalformedLine},
		{"|:0|c", ReasonMalformedLine},
		{"a|b:1|c", ReasonMalformedLine},
		{":1|c", ReasonEmptyName},
		{"a:|c", ReasonBadValue},
		{"a:abc|c", ReasonBadValue},
		{"a:NaN|g", ReasonBadValue},
		{"a:nan|g", ReasonBadValue},
		{"a:Inf|g", ReasonBadValue},
		{"a:-Inf|g", ReasonBadValue},
		{"a:+infinity|g", ReasonBadValue},
		{"a:1e999|c", ReasonBadValue},
		{"a:0x1p3|c", ReasonBadValue},
		{"a:1_000|c", ReasonBadValue},
		{"a:1..2|c", ReasonBadValue},
		{"a:1::2|ms", ReasonBadValue},
		{"a:1:|ms", ReasonBadValue},
		{"a:|s", ReasonBadValue},
		{"a:1|", ReasonBadType},
		{"a:1|x", ReasonBadType},
		{"a:1|mss", ReasonBadType},
		{"a:1|C", ReasonBadType},
		{"a:1|c|@0", ReasonBadSampleRate},
		{"a:1|c|@2", ReasonBadSampleRate},
		{"a:1|c|@-0.5", ReasonBadSampleRate},
		{"a:1|c|@x", ReasonBadSampleRate},
		{"a:1|c|@", ReasonBadSampleRate},
		{"a:1|c|@NaN", ReasonBadSampleRate},
		{"[k=v]:1|c", ReasonEmptyName}, // nothing left once the tags are cut off
		{",k=v:1|c", ReasonEmptyName},
		{"#k=v:1|c", ReasonEmptyName},
		{"[]:1|c", ReasonEmptyName},
		{"a:1|c|T", ReasonBadTimestamp},
		{"a:1|c|T12x", ReasonBadTimestamp},
		{"a:1|c|T-5", ReasonBadTimestamp},
		{"a:1|c|T9999999999999999999999", ReasonBadTimestamp},
		{"a\xff:1|c", ReasonInvalidUTF8},
		{"a:1|c|#k:\xc3", ReasonInvalidUTF8},
	} {
		var p Parser
		dst := []Sample{s("kept", 1, Counter)}
		got, err := p.ParseLine(dst, []byte(tc.line))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ParseLine(%q) error = %v; want a *ParseError with reason %s", tc.line, err, tc.want)
			continue
		}
		if pe.Reason != tc.want || string(pe.Line) != tc.line {
			t.Errorf("ParseLine(%q) = reason %s, line %q; want %s", tc.line, pe.Reason, pe.Line, tc.want)
		}
		if len(got) != 1 || string(got[0].Name) != "kept" {
			t.Errorf("ParseLine(%q) changed dst to %d samples", tc.line, len(got))
		}
	}
}

func TestParseErrorMessage(t *testing.T) {
	var p Parser
	_, err := p.ParseLine(nil, []byte("x:NaN|c"))
	if got, want := err.Error(), `statsd: bad_value: line "x:NaN|c"`; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	long := "x:1|c|#" + strings.Repeat("k", 300)
	_, err = (&Parser{MaxLineLength: 100}).ParseLine(nil, []byte(long))
	if got, want := err.Error(), `statsd: too_long: line "`+long[:256]+`" (307 bytes in all)`; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	// The error keeps its own copy of the line.
	line := []byte("x:NaN|c")
	_, err = p.ParseLine(nil, line)
	line[0] = 'y'
	if pe := err.(*ParseError); string(pe.Line) != "x:NaN|c" {
		t.Errorf("ParseError.Line changed with the input: %q", pe.Line)
	}
}

func TestParseDatagram(t *testing.T) {
	var p Parser
	var b Batch
	p.Parse(&b, []byte("a:1|c\nbad line\r\nb:2|g\r\n\n:3|c\nc:1:2|ms|#t\n"))
	p.Parse(&b, []byte("\n\n\n")) // only newlines: nothing, and no error
	p.Parse(&b, []byte(""))
	if b.Datagrams != 3 {
		t.Errorf("Datagrams = %d; want 3", b.Datagrams)
	}
	want := []Sample{s("a", 1, Counter), s("b", 2, Gauge),
		with(s("c", 1, Timer), func(x *Sample) { x.Tags = []byte("t") }),
		with(s("c", 2, Timer), func(x *Sample) { x.Tags = []byte("t") })}
	if len(b.Samples) != len(want) {
		t.Fatalf("got %d samples; want %d: %+v", len(b.Samples), len(want), b.Samples)
	}
	for i := range want {
		if !sameSample(b.Samples[i], want[i]) {
			t.Errorf("sample %d = %+v; want %+v", i, b.Samples[i], want[i])
		}
	}
	if len(b.Errors) != 2 ||
		b.Errors[0].Reason != ReasonMalformedLine || string(b.Errors[0].Line) != "bad line" ||
		b.Errors[1].Reason != ReasonEmptyName || string(b.Errors[1].Line) != ":3|c" {
		t.Errorf("errors = %+v; want malformed_line \"bad line\", empty_name \":3|c\"", b.Errors)
	}
	b.Reset()
	if len(b.Samples) != 0 || len(b.Errors) != 0 || b.Datagrams != 0 {
		t.Errorf("Reset left %+v", b)
	}
}

func TestParseTooLong(t *testing.T) {
	p := Parser{MaxLineLength: 20}
	var b Batch
	p.Parse(&b, []byte("short:1|c\n"+"a.very.long.name.indeed:1|c\nok:2|c"))
	if len(b.Samples) != 2 || len(b.Errors) != 1 || b.Errors[0].Reason != ReasonTooLong {
		t.Fatalf("samples %d, errors %+v; want 2 samples and one too_long", len(b.Samples), b.Errors)
	}
	// The default limit, and no limit.
	line := []byte("x:1|c|#" + strings.Repeat("t", DefaultMaxLineLength))
	if _, err := (&Parser{}).ParseLine(nil, line); err == nil || err.(*ParseError).Reason != ReasonTooLong {
		t.Errorf("default limit: err = %v; want too_long", err)
	}
	if got, err := (&Parser{MaxLineLength: -1}).ParseLine(nil, line); err != nil || len(got) != 1 {
		t.Errorf("no limit: %d samples, err %v; want 1, nil", len(got), err)
	}
}

func TestTagIter(t *testing.T) {
	for _, tc := range []struct{ tags, want string }{
		{"", ""},
		{"env:prod", "env=prod;"},
		{"env:prod,team,k:v:w", "env=prod;team=;k=v:w;"},
		{",,a:b,,c,", "a=b;c=;"},
		{"k:", "k=;"},
		{"a,b", "a=;b=;"},
		{"a:b:,c:,", "a=b:;c=;"},
		{":v,:", ""},                     // empty keys: skipped (the parser counts them)
		{"a,:v,b:", "a=;b=;"},            // ... wherever they are
		{"#k:v,##k2,#,#:v", "k=v;#k2=;"}, // one leading '#' is dropped
		{"service:web", "service=web;"},
	} {
		var got strings.Builder
		smp := Sample{Tags: []byte(tc.tags)}
		it := smp.TagIter()
		for it.Next() {
			got.WriteString(string(it.Key()) + "=" + string(it.Value()) + ";")
		}
		if got.String() != tc.want {
			t.Errorf("tags %q iterate as %q; want %q", tc.tags, got.String(), tc.want)
		}
		if it.Next() || len(it.Key()) != 0 || len(it.Value()) != 0 {
			t.Errorf("tags %q: Next after the end returned true, or left a tag", tc.tags)
		}
		if it := NewTagIter([]byte(tc.tags)); tc.want != "" && !it.Next() {
			t.Errorf("NewTagIter(%q) yields nothing", tc.tags)
		}
	}
	var zero TagIter
	if zero.Next() || zero.Key() != nil || zero.Value() != nil {
		t.Error("the zero TagIter must yield nothing")
	}
}

func TestTypeAndReasonStrings(t *testing.T) {
	for typ, want := range map[Type][2]string{
		Counter: {"counter", "c"}, Gauge: {"gauge", "g"}, Timer: {"timer", "ms"},
		Histogram: {"histogram", "h"}, Distribution: {"distribution", "d"}, Set: {"set", "s"},
		0: {"unknown", ""}, 200: {"unknown", ""},
	} {
		if typ.String() != want[0] || typ.Symbol() != want[1] {
			t.Errorf("Type(%d) = %q, %q; want %q, %q", typ, typ.String(), typ.Symbol(), want[0], want[1])
		}
	}
	var names []string
	for _, r := range Reasons() {
		names = append(names, r.String())
	}
	if got, want := strings.Join(names, ","), "malformed_line,empty_name,bad_value,bad_type,bad_sample_rate,bad_tag,bad_timestamp,too_long,invalid_utf8,mixed_tags,"+
		"packed_type,empty_section,unknown_section,bad_container_id"; got != want {
		t.Errorf("Reasons() = %s; want %s", got, want)
	}
	if Reason(0).String() != "unknown" || Reason(99).String() != "unknown" {
		t.Error("undeclared reasons must print as unknown")
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	var p Parser
	b := &Batch{Samples: make([]Sample, 0, 16), Errors: make([]ParseError, 0, 16)}
	d := []byte("myapp.gunicorn.request.duration:1016.0360000000001|ms|#env:prod,service:web\nbad\nx:NaN|c\n" +
		"a,k=v,bad:1|c\na#k=v:1:2|ms|#x:y,:z\nmy.[k=v,k2=v2]metric:1|g|#k3:v3|#k4\nm:1|c|#a:b|#c:d")
	if a := testing.AllocsPerRun(1000, func() { b.Reset(); p.Parse(b, d) }); a != 0 {
		t.Errorf("Parse allocates %v times per datagram", a)
	}
	if len(b.Samples) != 6 || len(b.Errors) != 2 || len(b.TagErrors) != 2 {
		t.Errorf("%d samples, %d errors, %d tag errors; want 6, 2, 2", len(b.Samples), len(b.Errors), len(b.TagErrors))
	}
}

package statsd

import (
	"fmt"
	"strings"
	"testing"
)

// renderBatch writes what one Parse call gave, one sample, error or forgiven line
// per entry, for exact comparison.
func renderBatch(b *Batch) string {
	var out []string
	for i := range b.Samples {
		x := &b.Samples[i]
		out = append(out, fmt.Sprintf("%s %s=%v@%v %s", x.Type.Symbol(), x.Name, x.Value, x.Rate, tagList(x)))
	}
	for _, e := range b.Errors {
		out = append(out, "rejected "+e.Reason.String())
	}
	for _, e := range b.TagErrors {
		out = append(out, "tag "+e.Reason.String())
	}
	for _, e := range b.Forgiven {
		out = append(out, "forgiven "+e.Reason.String())
	}
	return strings.Join(out, "; ")
}

func TestDialectStatsdExporter(t *testing.T) {
	for _, tc := range []struct {
		line, se, def string // what DialectStatsdExporter and DialectDefault give
	}{
		// Lenient rates and timestamps, forgiven.
		{"x:2|c|@bar", `c x=2@1 []; forgiven bad_sample_rate`, `rejected bad_sample_rate`},
		{"x:2|c|@0", `c x=2@1 []; forgiven bad_sample_rate`, `rejected bad_sample_rate`},
		{"x:2|g|@x|#k:v", `g x=2@1 ["k"="v"]; forgiven bad_sample_rate`, `rejected bad_sample_rate`},
		{"x:2|c|#k:v|Tsoon", `c x=2@1 ["k"="v"]; forgiven bad_timestamp`, `rejected bad_timestamp`},
		{"x:2|c|@?|T", `c x=2@1 []; forgiven bad_sample_rate; forgiven bad_timestamp`, `rejected bad_sample_rate`},
		// What protects the data stays.
		{"x:2|c|@2", `rejected bad_sample_rate`, `rejected bad_sample_rate`},
		{"x:2|c|@-0.5", `rejected bad_sample_rate`, `rejected bad_sample_rate`},
		{"x:NaN|g", `rejected bad_value`, `rejected bad_value`},
		// The container id, a tag.
		{"x:1|c|#k:v|c:abc", `c x=1@1 ["k"="v" "container_id"="abc"]`, `c x=1@1 ["k"="v"]`},
		{"x:1|c|#|c:abc", `c x=1@1 ["container_id"="abc"]`, `c x=1@1 []`},
		{"x:1|c|#container_id:y|c:abc", `c x=1@1 ["container_id"="y" "container_id"="abc"]`, `c x=1@1 ["container_id"="y"]`},
		{"x:1|c|#k:v|c:a,b", `c x=1@1 ["k"="v"]; tag bad_tag`, `c x=1@1 ["k"="v"]`},
		{"x:1|c|#k:v|c:", `rejected bad_container_id`, `c x=1@1 ["k"="v"]`},
		{"x:1|c|#k:v|c", `rejected bad_container_id`, `c x=1@1 ["k"="v"]`},
		{"x:1|c|#k:v|cid", `rejected bad_container_id`, `c x=1@1 ["k"="v"]`},
		// Multi-metric lines: each piece alone, the name read once.
		{"x:1|c:250|ms|@0.5:-3|g", `c x=1@1 []; ms x=250@0.5 []; g x=-3@1 []`, `rejected bad_type`},
		{"x,k=v:1|c:oops|g:2|h", `c x=1@1 ["k"="v"]; h x=2@1 ["k"="v"]; rejected bad_value`, `rejected bad_type`},
		{"x,k=v,bad:1|c:2|c", `c x=1@1 ["k"="v"]; c x=2@1 ["k"="v"]; tag bad_tag`, `rejected bad_type`},
		{"x:1|c|c:abc", `rejected bad_container_id; rejected malformed_line`, `c x=1@1 []`},
		{"x:1|c:", `c x=1@1 []; rejected malformed_line`, `rejected bad_type`},
		{",k=v:1|c:2|c", `rejected empty_name`, `rejected bad_type`},
		{"x:1|c:2|c\xff", `rejected invalid_utf8`, `rejected bad_type`},
		// Packed values only for observers.
		{"x:1:2|ms", `ms x=1@1 []; ms x=2@1 []`, `ms x=1@1 []; ms x=2@1 []`},
		{"x:1:2|c", `rejected packed_type`, `c x=1@1 []; c x=2@1 []`},
		{"x:1:2|g|#k:v", `rejected packed_type`, `g x=1@1 ["k"="v"]; g x=2@1 ["k"="v"]`},
		// Mixed tags.
		{"x,a=b:1|c|#k:v", `rejected mixed_tags`, `c x=1@1 ["a"="b" "k"="v"]`},
		{"x,a=:1|c|#k:v", `c x=1@1 ["k"="v"]; tag bad_tag`, `c x=1@1 ["k"="v"]; tag bad_tag`},
		// Sections statsd_exporter refuses.
		{"x:1|c|", `rejected empty_section`, `c x=1@1 []`},
		{"x:1|c||#k:v", `rejected empty_section`, `c x=1@1 ["k"="v"]`},
		{"x:1|c|@0.5|", `rejected empty_section`, `c x=1@0.5 []`},
		{"x:1|c|xext", `rejected unknown_section`, `c x=1@1 []`},
		{"x:1|c|@0.5|#k:v|c:id|T1|#j:w", `rejected malformed_line`, `c x=1@0.5 ["k"="v" "j"="w"]`},
		{"x:1|c|@0.5|#k:v|c:id|T1", `c x=1@0.5 ["k"="v" "container_id"="id"]`, `c x=1@0.5 ["k"="v"]`},
	} {
		for _, d := range []struct {
			dialect Dialect
			want    string
		}{{DialectStatsdExporter, tc.se}, {DialectDefault, tc.def}} {
			var b Batch
			p := Parser{Dialect: d.dialect}
			p.Parse(&b, []byte(tc.line))
			if got := renderBatch(&b); got != d.want {
				t.Errorf("%s: %q:\n got  %s\n want %s", d.dialect, tc.line, got, d.want)
			}
			got, err := p.ParseLine(nil, []byte(tc.line))
			if len(got) != len(b.Samples) || (err != nil) != (len(b.Errors) > 0) {
				t.Errorf("%s: %q: ParseLine gave %d samples, error %v; Parse %d samples, %d errors", d.dialect, tc.line, len(got), err, len(b.Samples), len(b.Errors))
			}
		}
	}
}

// TestDialectSharesTheName checks that the samples of a multi-metric line
// share one name, as those of packed values do: readers count lines by it.
func TestDialectSharesTheName(t *testing.T) {
	var b Batch
	p := Parser{Dialect: DialectStatsdExporter}
	p.Parse(&b, []byte("x#k=v:1|c:2|g:3|ms"))
	if len(b.Samples) != 3 {
		t.Fatalf("%d samples; want 3", len(b.Samples))
	}
	for _, x := range b.Samples[1:] {
		if &x.Name[0] != &b.Samples[0].Name[0] || &x.Tags[0] != &b.Samples[0].Tags[0] {
			t.Errorf("sample %s has a name or tags of its own", x.Type)
		}
	}
}

// TestDialectScratchBounded checks that a multi-metric line of many pieces
// and a long name rebuilds at most three times its length.
func TestDialectScratchBounded(t *testing.T) {
	line := strings.Repeat("n", 4000) + ":" + strings.Repeat("1|c:", 1000) + "1|c"
	var b Batch
	p := Parser{Dialect: DialectStatsdExporter}
	p.Parse(&b, []byte(line))
	if len(b.Samples) != 1001 || len(b.Errors) != 0 {
		t.Fatalf("%d samples, %d errors; want 1001, 0", len(b.Samples), len(b.Errors))
	}
	if n := len(b.scratch); n > 3*len(line) {
		t.Errorf("the line of %d bytes used %d bytes of scratch space", len(line), n)
	}
}

func TestDialectAllocatesNothing(t *testing.T) {
	p := Parser{Dialect: DialectStatsdExporter}
	d := []byte("a.b:1|c|#k:v|c:abc\nx#k=v:1|c:250|ms|@0.5\ny:2|c|@bar\nz:1:2|ms|@0.5|#k:v\nbad:1|c|")
	b := new(Batch)
	p.Parse(b, d)
	if a := testing.AllocsPerRun(1000, func() { b.Reset(); p.Parse(b, d) }); a != 0 {
		t.Errorf("Parse in DialectStatsdExporter allocates %v times per datagram", a)
	}
	if len(b.Samples) != 6 || len(b.Errors) != 1 || len(b.Forgiven) != 1 || b.Lines != 5 {
		t.Errorf("%d samples, %d errors, %d forgiven, %d lines; want 6, 1, 1, 5", len(b.Samples), len(b.Errors), len(b.Forgiven), b.Lines)
	}
}

func TestDialectString(t *testing.T) {
	for d, want := range map[Dialect]string{DialectDefault: "default", DialectStatsdExporter: "statsd_exporter", 7: "Dialect(7)"} {
		if got := d.String(); got != want {
			t.Errorf("Dialect(%d).String() = %q; want %q", d, got, want)
		}
	}
}

package statsd

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// FuzzParse feeds arbitrary datagrams to the parser. The seed corpus in
// testdata/fuzz/FuzzParse holds every datagram of the real Gunicorn captures,
// the DogStatsD forms and every tag format (InfluxDB, Librato, SignalFX,
// their combinations and malformed tags). Whatever the input, the parser
// must not panic, what it returns must hold the promises of Sample,
// ParseError and TagIter, and each line's name and tags must be what
// refTags, a plain reading of the rules, gives. The datagram is parsed with
// the zero Parser and with switches (dialect included) taken from its last
// byte.
func FuzzParse(f *testing.F) {
	f.Add([]byte("a:1|c\nb:2:3|ms|@0.5|#k:v,t|c:id|T12|xext\r\n"))
	f.Add([]byte("m,k=v,bad:1|c\nm#k=v:1|c|#:x,a:b\nmy.[k=v]metric:1|g\x03"))
	f.Fuzz(func(t *testing.T, datagram []byte) {
		checkParse(t, Parser{}, datagram)
		if n := len(datagram); n > 0 {
			c := datagram[n-1]
			checkParse(t, switches(c), datagram)
		}
	})
}

// switches makes a Parser of the switches in c's bits.
func switches(c byte) Parser {
	p := Parser{NoDogStatsDTags: c&1 != 0, NoInfluxDBTags: c&2 != 0, NoLibratoTags: c&4 != 0,
		NoSignalFXTags: c&8 != 0, RejectMixedTags: c&16 != 0}
	if c&32 != 0 {
		p.Dialect = DialectStatsdExporter
	}
	return p
}

func checkParse(t *testing.T, p Parser, datagram []byte) {
	// The scratch space a datagram needs is under 1.25 times its length
	// (the name's section, delimiters included, rewritten, and one byte
	// more for each key that starts with '#'): sized so, it never moves,
	// and every view must lie in it or in the datagram. DialectStatsdExporter
	// rebuilds a multi-metric line's pieces (under three times the line) and
	// a line's tags with its container id (the line and 14 bytes).
	lines := bytes.Count(datagram, []byte("\n")) + 1
	se := p.Dialect == DialectStatsdExporter
	size := len(datagram) + len(datagram)/4
	if se {
		size = 3*len(datagram) + 16*lines
	}
	b := Batch{scratch: make([]byte, 0, size)}
	p.Parse(&b, datagram)
	if cap(b.scratch) != size {
		t.Fatalf("the batch's scratch grew from %d to %d bytes", size, cap(b.scratch))
	}
	if b.Datagrams != 1 {
		t.Fatalf("Datagrams = %d", b.Datagrams)
	}
	nonEmpty := 0
	for _, l := range bytes.Split(datagram, []byte("\n")) {
		if len(bytes.TrimSuffix(l, []byte("\r"))) > 0 {
			nonEmpty++
		}
	}
	if b.Lines != nonEmpty {
		t.Fatalf("Lines = %d; the datagram has %d non-empty lines", b.Lines, nonEmpty)
	}
	if len(b.Errors) > lines && (!se || len(b.Errors) > len(datagram)) {
		t.Fatalf("%d errors from %d lines", len(b.Errors), lines)
	}
	if len(b.TagErrors) > len(datagram) {
		t.Fatalf("%d tag errors from %d bytes", len(b.TagErrors), len(datagram))
	}
	inBatch := func(s []byte) bool { return within(s, datagram) || within(s, b.scratch[:cap(b.scratch)]) }
	for _, s := range b.Samples {
		if len(s.Name) == 0 || !inBatch(s.Name) || !inBatch(s.Tags) || !inBatch(s.Member) || !within(s.ContainerID, datagram) {
			t.Fatalf("sample name %q / tags %q not a view into the datagram or the batch", s.Name, s.Tags)
		}
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			t.Fatalf("sample %q has value %v", s.Name, s.Value)
		}
		if !(s.Rate > 0 && s.Rate <= 1) {
			t.Fatalf("sample %q has rate %v", s.Name, s.Rate)
		}
		if s.Type.Symbol() == "" || s.Timestamp < 0 || (s.Delta && s.Type != Gauge) {
			t.Fatalf("sample %+v breaks the Sample contract", s)
		}
		if !utf8.Valid(s.Name) || !utf8.Valid(s.Tags) {
			t.Fatalf("sample %q: invalid UTF-8 accepted", s.Name)
		}
		if bytes.ContainsAny(s.Name, ":|\n") {
			t.Fatalf("sample name %q holds a separator", s.Name)
		}
		it := s.TagIter()
		for it.Next() {
			if len(it.Key()) == 0 || bytes.ContainsAny(it.Key(), ":,|") || bytes.ContainsAny(it.Value(), ",|") ||
				(it.Bare() && len(it.Value()) != 0) {
				t.Fatalf("sample %q: tag %q=%q (bare %v) in %q", s.Name, it.Key(), it.Value(), it.Bare(), s.Tags)
			}
		}
	}
	for _, e := range append(b.Errors, b.TagErrors...) {
		if e.Reason.String() == "unknown" || len(e.Line) == 0 || !within(e.Line, datagram) {
			t.Fatalf("bad ParseError %+v", e)
		}
	}
	for _, e := range b.TagErrors {
		if e.Reason != ReasonBadTag {
			t.Fatalf("tag error %+v", e)
		}
	}
	for _, e := range b.Forgiven {
		if !se || (e.Reason != ReasonBadSampleRate && e.Reason != ReasonBadTimestamp) || !within(e.Line, datagram) {
			t.Fatalf("bad forgiven line %+v", e)
		}
	}
	// Line by line: ParseLine agrees with Parse, and names and tags are
	// what refTags reads.
	for _, raw := range bytes.Split(datagram, []byte("\n")) {
		line := bytes.TrimSuffix(raw, []byte("\r")) // as Parse reads it
		if len(line) == 0 {
			continue
		}
		var one Batch
		p.Parse(&one, raw)
		got, err := p.ParseLine(nil, line)
		if (err != nil) != (len(one.Errors) == 1 || (se && len(one.Errors) > 1)) || len(got) != len(one.Samples) {
			t.Fatalf("%q: ParseLine gave %d samples, err %v; Parse gave %d samples, %d errors", line, len(got), err, len(one.Samples), len(one.Errors))
		}
		if len(one.Samples) == 0 {
			continue
		}
		name, tags, bad, reject := refTags(&p, string(line))
		if reject != "" {
			t.Fatalf("%q: parsed, but refTags rejects it: %s", line, reject)
		}
		if string(one.Samples[0].Name) != name || tagList(&one.Samples[0]) != tags || len(one.TagErrors) != bad {
			t.Fatalf("%q: name %q, tags %s, %d dropped; refTags: %q, %s, %d", line, one.Samples[0].Name, tagList(&one.Samples[0]), len(one.TagErrors), name, tags, bad)
		}
		for i := range got {
			if string(got[i].Name) != name || tagList(&got[i]) != tags || string(one.Samples[i].Name) != name || tagList(&one.Samples[i]) != tags {
				t.Fatalf("%q: sample %d differs from the first", line, i)
			}
		}
	}
}

// tagList renders the tags TagIter yields, unambiguously.
func tagList(s *Sample) string {
	var out []string
	it := s.TagIter()
	for it.Next() {
		if it.Bare() {
			out = append(out, strconv.Quote(string(it.Key())))
		} else {
			out = append(out, strconv.Quote(string(it.Key()))+"="+strconv.Quote(string(it.Value())))
		}
	}
	return "[" + strings.Join(out, " ") + "]"
}

// refTags reads the name and the tags of a line the parser accepted, the
// plain way, with strings functions, following the rules of Parser's
// documentation: the name without its tag section, the tags as tagList
// renders them, how many tags were dropped, and the reason for a line
// rejected for its tags ("empty_name", "mixed_tags").
func refTags(p *Parser, line string) (name, tags string, bad int, reject string) {
	name, rest, _ := strings.Cut(line, ":")
	var list []string
	section := func(s string, sep string, dog bool) {
		pieces := strings.Split(s, ",")
		for i, pc := range pieces {
			if pc == "" && i == len(pieces)-1 {
				continue
			}
			if dog {
				pc = strings.TrimPrefix(pc, "#")
			}
			k, v, ok := strings.Cut(pc, sep)
			switch {
			case k == "" || (!dog && (!ok || v == "")):
				bad++
			case !ok:
				list = append(list, strconv.Quote(k))
			default:
				list = append(list, strconv.Quote(k)+"="+strconv.Quote(v))
			}
		}
	}
	signalfx := false
	if !p.NoSignalFXTags {
		o, c := strings.IndexByte(name, '['), strings.IndexByte(name, ']')
		switch {
		case o >= 0 && c > o:
			section(name[o+1:c], "=", false)
			name, signalfx = name[:o]+name[c+1:], true
		case o >= 0 || c >= 0:
			bad, signalfx = 1, true
		}
	}
	if !signalfx {
		if i := strings.IndexFunc(name, func(r rune) bool {
			return (r == ',' && !p.NoInfluxDBTags) || (r == '#' && !p.NoLibratoTags)
		}); i >= 0 {
			section(name[i+1:], "=", false)
			name = name[:i]
		}
	}
	nameTags := len(list)
	hashes, cid := 0, ""
	for i, sec := range strings.Split(rest, "|") {
		if i >= 2 && strings.HasPrefix(sec, "#") {
			hashes++
			if !p.NoDogStatsDTags {
				section(sec[1:], ":", true)
			}
		}
		if i >= 2 && strings.HasPrefix(sec, "c:") && len(sec) > 2 {
			cid = sec[2:]
		}
	}
	se := p.Dialect == DialectStatsdExporter
	if value, after, _ := strings.Cut(rest, "|"); se && !strings.Contains(value, ":") &&
		strings.Contains(after, ":") && !strings.Contains(after, "|#") && !strings.HasPrefix(after, "#") {
		cid = "" // a multi-metric line: its pieces are split at the ':' of "c:"
	}
	switch {
	case !se || cid == "":
	case strings.Contains(cid, ","):
		bad++
	default:
		list = append(list, strconv.Quote(ContainerIDTag)+"="+strconv.Quote(cid))
	}
	if name == "" {
		return "", "", 0, "empty_name"
	}
	if (p.RejectMixedTags || se) && nameTags > 0 && hashes > 0 {
		return "", "", 0, "mixed_tags"
	}
	return name, "[" + strings.Join(list, " ") + "]", bad, ""
}

// TestRefTagsRandom runs checkParse, and so refTags, over random lines made
// of the bytes that matter to tags, with every set of switches: the fuzz
// target's oracle, in every test run.
func TestRefTagsRandom(t *testing.T) {
	const alphabet = "ab=:,#[]|@.1c"
	r := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 0, 64)
	for i := range 100000 {
		buf = buf[:0]
		for range 1 + r.IntN(12) {
			buf = append(buf, alphabet[r.IntN(len(alphabet))])
		}
		buf = append(buf, ":1|c"...)
		for range r.IntN(3) {
			buf = append(buf, '|', '#')
			for range r.IntN(8) {
				buf = append(buf, alphabet[r.IntN(len(alphabet)-5)])
			}
		}
		c := byte(i)
		if i%2 == 1 {
			c |= 32 // DialectStatsdExporter
		}
		checkParse(t, switches(c), buf)
	}
}

// within reports whether sub is empty or lies inside buf's memory. It
// compares addresses, in constant time: a scan would make the fuzzer's
// inputs with thousands of packed values quadratic, and its minimisation of
// them stall.
func within(sub, buf []byte) bool {
	if len(sub) == 0 {
		return true
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return p >= lo && p+uintptr(len(sub)) <= lo+uintptr(len(buf))
}

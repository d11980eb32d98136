package statsd

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// A Dialect is a set of rules for the lines StatsD implementations read
// differently. Parser.Dialect picks one; the tag formats are set apart, by
// the Parser's No*Tags fields.
type Dialect uint8

const (
	// DialectDefault is this package's rules, described on Parser and
	// Reason: a sample rate must be a number in (0, 1] and a "|T" section
	// a timestamp, or the line is rejected; packed values (name:1:2|c) are
	// read for every type; empty sections and sections of a kind it does
	// not know are skipped, as DogStatsD asks of extensions.
	DialectDefault Dialect = iota

	// DialectStatsdExporter reads lines as statsd_exporter v0.31.0 does, for
	// a drop-in replacement that must record what it records and refuse
	// what it refuses:
	//
	//   - a DogStatsD container id ("|c:<id>") is also the last tag of the
	//     sample, with the key ContainerIDTag (an id holding a ',' cannot
	//     be a tag: it is dropped and counted as a bad_tag);
	//   - a sample rate that is not a number, or is 0, is read as 1, and a
	//     "|T" section that is not a timestamp is ignored: the line is kept,
	//     and listed in Batch.Forgiven with the reason DialectDefault
	//     rejects it for (bad_sample_rate, bad_timestamp);
	//   - a line with no "|#" section whose type is followed by ':' holds
	//     several samples of one name, the multi-metric form of Etsy's
	//     StatsD ("name:1|c:250|ms|@0.5"): each piece is parsed alone, and a
	//     piece that fails is rejected alone;
	//   - packed values only for ms, h and d (else packed_type);
	//   - name-embedded tags beside a "|#" section reject the line
	//     (mixed_tags), as RejectMixedTags does;
	//   - an empty section (empty_section), a section of a kind it does not
	//     know (unknown_section), a 'c' section that is not "c:<id>"
	//     (bad_container_id) and more than four sections (malformed_line)
	//     reject the line.
	//
	// What protects the recorded data stays as in DialectDefault: a value
	// that is not finite (NaN, Inf), where statsd_exporter records it and
	// breaks the series for good, and a sample rate that is negative or over
	// 1 are rejected; a '\r' before the newline is dropped; a name with a
	// ']' before its '[' is kept (statsd_exporter panics on it).
	DialectStatsdExporter
)

// finishDialect finishes a line Parse parsed as one line in a dialect
// other than DialectDefault, when appendLine rejected it, forgave something
// or read a container id (clean lines need nothing more): b.Samples[n:] are
// its samples, b.scratch[mark:] what it wrote there.
//
// A multi-metric line (name:1|c:2|g) read as one line always gives one of
// these (the type "c:2", a section of an unknown kind, a forgiven rate or
// timestamp, or the container id "2|g"): it is only here that a line is
// looked at again, and parsed piece by piece if it is one.
func (p *Parser) finishDialect(b *Batch, line []byte, n, mark int, reason Reason, bad int) {
	if colon, ok := multiMetric(line); ok {
		b.Samples, b.scratch = b.Samples[:n], b.scratch[:mark]
		p.parseMultiMetric(b, line, colon)
		return
	}
	p.finishPiece(b, line, n, reason, bad, true)
}

// multiMetric reports whether line is in the multi-metric form
// (name:1|c:2|g): no packed values, a ':' after the first '|', and no "|#"
// section. colon is the end of the name.
func multiMetric(line []byte) (colon int, ok bool) {
	pipe := bytes.IndexByte(line, '|')
	if pipe < 0 {
		return 0, false
	}
	colon = bytes.IndexByte(line[:pipe], ':')
	if colon <= 0 || bytes.IndexByte(line[colon+1:pipe], ':') >= 0 ||
		bytes.IndexByte(line[pipe:], ':') < 0 || bytes.Contains(line[pipe:], []byte("|#")) {
		return 0, false
	}
	return colon, true
}

// parseMultiMetric parses each piece of a multi-metric line alone. The name
// is read once, from a probe line (the name and ":0|c") rebuilt in b's
// scratch space, and each piece after a one-byte stand-in name ("_:1|c"):
// what the pieces rebuild stays within three times the line, however many
// there are. Every sample of the line shares the name and tags the probe
// read (one line, as its readers count lines); the name's dropped tags are
// counted once.
func (p *Parser) parseMultiMetric(b *Batch, line []byte, colon int) {
	if !utf8.Valid(line) {
		b.Errors = append(b.Errors, ParseError{Reason: ReasonInvalidUTF8, Line: line})
		return
	}
	n := len(b.Samples)
	start := len(b.scratch)
	b.scratch = append(append(b.scratch, line[:colon]...), ":0|c"...)
	p.parsePiece(b, line, b.scratch[start:len(b.scratch):len(b.scratch)], true)
	if len(b.Samples) == n {
		return // the name is refused (empty once its tags are cut off)
	}
	name, tags := b.Samples[n].Name, b.Samples[n].Tags
	b.Samples = b.Samples[:n]
	for rest, more := line[colon+1:], true; more; {
		piece := rest
		if k := bytes.IndexByte(rest, ':'); k >= 0 {
			piece, rest = rest[:k], rest[k+1:]
		} else {
			more = false
		}
		start := len(b.scratch)
		b.scratch = append(append(b.scratch, "_:"...), piece...)
		k := len(b.Samples)
		p.parsePiece(b, line, b.scratch[start:len(b.scratch):len(b.scratch)], false)
		for ; k < len(b.Samples); k++ {
			b.Samples[k].Name, b.Samples[k].Tags = name, tags
		}
	}
}

// parsePiece parses piece (a piece of a multi-metric line, or its name)
// into b, naming line in what it reports; countTags says whether the tags it
// drops are counted.
func (p *Parser) parsePiece(b *Batch, line, piece []byte, countTags bool) {
	n := len(b.Samples)
	var reason Reason
	var bad int
	b.Samples, reason, bad = p.appendLine(b.Samples, piece, &b.scratch)
	p.finishPiece(b, line, n, reason, bad, countTags)
}

// finishPiece reports what appendLine gave for a line (or a piece of one)
// whose samples are b.Samples[n:]: its rejection, or its dropped tags (when
// countTags) and what was forgiven; it makes the container id a tag.
func (p *Parser) finishPiece(b *Batch, line []byte, n int, reason Reason, bad int, countTags bool) {
	forgiven := reason & forgaveMask
	if reason &^= forgaveMask; reason != 0 {
		b.Errors = append(b.Errors, ParseError{Reason: reason, Line: line})
		return
	}
	if p.Dialect == DialectStatsdExporter && len(b.Samples) > n && len(b.Samples[n].ContainerID) > 0 {
		if bytes.IndexByte(b.Samples[n].ContainerID, ',') >= 0 {
			bad++ // a tag value cannot hold a ','
		} else {
			tagContainerID(b, n)
		}
	}
	for ; countTags && bad > 0; bad-- {
		b.TagErrors = append(b.TagErrors, ParseError{Reason: ReasonBadTag, Line: line})
	}
	if forgiven&forgaveRate != 0 {
		b.Forgiven = append(b.Forgiven, ParseError{Reason: ReasonBadSampleRate, Line: line})
	}
	if forgiven&forgaveTimestamp != 0 {
		b.Forgiven = append(b.Forgiven, ParseError{Reason: ReasonBadTimestamp, Line: line})
	}
}

// ContainerIDTag is the tag key DialectStatsdExporter gives a sample's
// DogStatsD container id ("|c:<id>"), as statsd_exporter makes it the label
// container_id. It comes after the line's other tags, so it wins over a tag
// of the same key (in attribute.NewSet, as in statsd_exporter).
const ContainerIDTag = "container_id"

// tagContainerID appends the tag container_id:<id> to the tags of the
// samples b.Samples[n:] (one line's), in b's scratch space.
func tagContainerID(b *Batch, n int) {
	s := &b.Samples[n]
	start := len(b.scratch)
	b.scratch = append(b.scratch, s.Tags...)
	if len(s.Tags) > 0 {
		b.scratch = append(b.scratch, ',')
	}
	b.scratch = append(append(append(b.scratch, ContainerIDTag...), ':'), s.ContainerID...)
	tags := b.scratch[start:len(b.scratch):len(b.scratch)]
	for k := n; k < len(b.Samples); k++ {
		b.Samples[k].Tags = tags
	}
}

// String returns the dialect's name: "default" or "statsd_exporter".
func (d Dialect) String() string {
	switch d {
	case DialectDefault:
		return "default"
	case DialectStatsdExporter:
		return "statsd_exporter"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

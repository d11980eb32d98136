package statsd

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// DefaultMaxLineLength is the longest line a zero Parser accepts, in bytes.
// Gunicorn's lines are under 200 bytes; DogStatsD clients with many tags stay
// well under it.
const DefaultMaxLineLength = 8192

// A Parser splits datagrams into lines and lines into samples, in place and
// without allocating. The zero value is ready to use and reads every tag
// format statsd_exporter v0.31.0 reads by default; a Parser is safe for
// concurrent use, as it holds only its settings.
//
// # Tags
//
// Four tag formats are read, each on unless switched off:
//
//	DogStatsD  name:1|c|#k:v,k2:v2         the "|#" section, after the type
//	InfluxDB   name,k=v,k2=v2:1|c          after the first ',' of the name
//	Librato    name#k=v,k2=v2:1|c          after the first '#' of the name
//	SignalFX   name[k=v,k2=v2]:1|c         between the first '[' and the first ']' of
//	           my.[k=v]metric:1|c          the name, anywhere in it: the name is "my.metric"
//
// They combine as in statsd_exporter: when a name has both a '[' and a ']',
// the SignalFX section is the only name-embedded one (a ',' or '#' elsewhere in
// the name stays in the name); otherwise the first ',' (InfluxDB) or '#'
// (Librato) of the name starts a section that runs to the end of the name.
// A name with only one of '[' and ']', or a ']' before its '[', keeps its
// brackets and has no name-embedded tags; that counts as one dropped tag.
// A line whose name is empty once its tag section is cut off ("[k=v]:1|c")
// is rejected (empty_name). Name-embedded tags and DogStatsD tags may both be on one line: the sample
// carries both, name-embedded ones first (statsd_exporter rejects such a
// line; see RejectMixedTags). Several "|#" sections are read as one.
//
// A tag that cannot be read is dropped, never the sample, and counted in
// Batch.TagErrors (reason bad_tag); Sample.TagIter yields the others. These
// are dropped, as statsd_exporter drops them:
//
//   - an empty tag ("a:b,,c:d", a leading ','), but not one after a trailing
//     ',' ("a:b," has one tag and no error);
//   - a tag with an empty key (":v", "=v");
//   - a name-embedded tag without '=' ("name,canary") or with an empty value
//     ("name,k=").
//
// A DogStatsD tag without ':' ("canary", a bare tag) and one with an empty
// value ("k:") are kept: TagIter tells them apart (Bare). statsd_exporter
// drops both (and counts each in its tag errors); a caller that wants its
// series skips the tags for which it.Bare() || len(it.Value()) == 0. One
// leading '#' of a DogStatsD tag is not part of its key ("|#a:b,#c:d" gives
// a and c, as some clients write). Only the first separator splits: "k:v:w"
// gives the value "v:w", "k=v=w" the value "v=w". Keys and values are kept
// as sent (statsd_exporter escapes keys into Prometheus label names as it
// parses: that is for the caller's naming); when a key appears twice, both
// are yielded, in order (the last one wins in attribute.NewSet and in
// statsd_exporter).
type Parser struct {
	// MaxLineLength rejects longer lines as too_long. Zero means
	// DefaultMaxLineLength; negative means no limit.
	MaxLineLength int

	// NoDogStatsDTags stops reading DogStatsD tag sections ("|#k:v"): they
	// are skipped like unknown sections. statsd_exporter's
	// --no-statsd.parse-dogstatsd-tags.
	NoDogStatsDTags bool
	// NoInfluxDBTags stops reading InfluxDB tags ("name,k=v:1|c"): a ','
	// is then part of the name. statsd_exporter's
	// --no-statsd.parse-influxdb-tags.
	NoInfluxDBTags bool
	// NoLibratoTags stops reading Librato tags ("name#k=v:1|c"): a '#' is
	// then part of the name. statsd_exporter's --no-statsd.parse-librato-tags.
	NoLibratoTags bool
	// NoSignalFXTags stops reading SignalFX tags ("name[k=v]:1|c"): brackets
	// are then part of the name. statsd_exporter's
	// --no-statsd.parse-signalfx-tags.
	NoSignalFXTags bool

	// RejectMixedTags rejects a line that has both name-embedded tags (at
	// least one kept) and a "|#" section (read or not), with the reason
	// mixed_tags, as statsd_exporter does (its reason
	// "mixed_tagging_styles"). By default such a line's samples carry both.
	RejectMixedTags bool

	// Dialect picks the rules for the lines StatsD implementations read
	// differently. The zero value, DialectDefault, is this package's rules;
	// DialectStatsdExporter reads and refuses lines as statsd_exporter
	// v0.31.0 does (see Dialect).
	Dialect Dialect
}

func (p *Parser) maxLine() int {
	switch {
	case p.MaxLineLength == 0:
		return DefaultMaxLineLength
	case p.MaxLineLength < 0:
		return int(^uint(0) >> 1)
	}
	return p.MaxLineLength
}

// Parse parses every line of one datagram, appending its samples to
// b.Samples, each rejected line to b.Errors, each tag dropped from a line
// that was kept to b.TagErrors, each line a lenient Dialect forgave to
// b.Forgiven, and counting the datagram in b.Datagrams and its non-empty
// lines in b.Lines.
// Lines are split by '\n'; a '\r' before it is dropped, and empty lines are
// skipped. A rejected line never affects the other lines.
//
// The appended samples and errors point into datagram, or into b's own
// scratch space (see Sample): valid until b is Reset.
func (p *Parser) Parse(b *Batch, datagram []byte) {
	b.Datagrams++
	max := p.maxLine()
	for len(datagram) > 0 {
		line := datagram
		if i := bytes.IndexByte(datagram, '\n'); i >= 0 {
			line, datagram = datagram[:i], datagram[i+1:]
		} else {
			datagram = nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			continue
		}
		b.Lines++
		var reason Reason
		var badTags int
		if len(line) > max {
			reason = ReasonTooLong
		} else {
			n, mark := len(b.Samples), len(b.scratch)
			b.Samples, reason, badTags = p.appendLine(b.Samples, line, &b.scratch)
			if p.Dialect != DialectDefault && (reason != 0 || (len(b.Samples) > n && len(b.Samples[n].ContainerID) > 0)) {
				p.finishDialect(b, line, n, mark, reason, badTags)
				continue
			}
		}
		if reason != 0 {
			b.Errors = append(b.Errors, ParseError{Reason: reason, Line: line})
		}
		for ; badTags > 0; badTags-- {
			b.TagErrors = append(b.TagErrors, ParseError{Reason: ReasonBadTag, Line: line})
		}
	}
}

// ParseLine parses one line (without its newline), appending its samples to
// dst: one for a plain line, one per value for packed values (name:1:2|ms).
// On error dst is returned unchanged and the error is a *ParseError holding a
// copy of the line. Dropped tags are not reported: Parse, into a Batch,
// counts them.
//
// The appended samples point into line, except for what Parse would write
// into the Batch's scratch space (a SignalFX section cut out of the middle
// of the name, name-embedded tags): ParseLine allocates that.
//
// In DialectStatsdExporter, a multi-metric line (name:1|c:2|g) whose pieces
// do not all parse gives the samples of those that do, and the first error.
func (p *Parser) ParseLine(dst []Sample, line []byte) ([]Sample, error) {
	var reason Reason
	switch {
	case len(line) > p.maxLine():
		reason = ReasonTooLong
	case p.Dialect != DialectDefault:
		b := Batch{Samples: dst}
		var bad int
		b.Samples, reason, bad = p.appendLine(b.Samples, line, &b.scratch)
		p.finishDialect(&b, line, len(dst), 0, reason, bad)
		if dst, reason = b.Samples, 0; len(b.Errors) > 0 {
			reason = b.Errors[0].Reason
		}
	default:
		var scratch []byte
		dst, reason, _ = p.appendLine(dst, line, &scratch)
	}
	if reason != 0 {
		return dst, &ParseError{Reason: reason, Line: bytes.Clone(line)}
	}
	return dst, nil
}

// appendLine parses one non-empty line. On failure it returns dst as it was
// and the reason; on success, how many tags it dropped, and as the reason
// what DialectStatsdExporter forgave, if anything (forgaveRate,
// forgaveTimestamp: bits above every Reason; never in DialectDefault). What cannot be
// a view into line (a name with a SignalFX section cut out of its middle,
// name-embedded tags) it appends to *scratch.
//
// The name is found with bytes.IndexByte (vector instructions); the short
// tail after it is scanned with plain loops, which for a few bytes beat a
// call. The line is checked for UTF-8 only when it is not all ASCII. Parts
// of the line are kept as offsets, not slices, until the samples are
// written: a third of the registers, and far fewer spills. A name that may
// hold name-embedded tags (scanName, eight bytes at a time) and a
// line with several "|#" sections are finished by splitTags, out of line.
func (p *Parser) appendLine(dst []Sample, line []byte, scratch *[]byte) ([]Sample, Reason, int) {
	// The name ends at the first ':', which must come before the first '|'.
	pipe := bytes.IndexByte(line, '|')
	if pipe < 0 {
		return dst, ReasonMalformedLine, 0
	}
	colon := bytes.IndexByte(line[:pipe], ':')
	if colon <= 0 {
		if colon < 0 {
			return dst, ReasonMalformedLine, 0
		}
		return dst, ReasonEmptyName, 0
	}
	low, brackets, high := scanName(line[:colon])
	nameTags := (low|brackets) != 0 && !(p.NoInfluxDBTags && p.NoLibratoTags && p.NoSignalFXTags)

	i := pipe + 1
	for i < len(line) && line[i] != '|' {
		i++
	}
	t, ok := parseType(line[pipe+1 : i])
	if !ok {
		return dst, ReasonBadType, 0
	}

	var x sections
	if i+1 < len(line) {
		if reason := x.parse(line, i, !p.NoDogStatsDTags, p.Dialect == DialectStatsdExporter); reason != 0 {
			return dst, reason, 0
		}
	} else {
		x.rate = 1
	}
	if p.Dialect == DialectStatsdExporter {
		if reason := seLine(line, colon, pipe, t); reason != 0 {
			return dst, reason, 0
		}
	}
	if (high != 0 || !isASCII(line[colon:])) && !utf8.Valid(line) {
		return dst, ReasonInvalidUTF8, 0
	}

	// Each sample is written in place, field by field: building it in a
	// local and appending that copies 128 bytes, whose load stalls on the
	// stores just made to them. Packed values (name:1:2|ms) give one
	// sample each.
	n := len(dst)
	v := colon + 1 // the value being parsed starts here; values end at pipe
	for {
		var f float64
		j := pipe // where this value ends
		if d := line[v] - '0'; t != Set && d <= 9 && (v+1 == pipe || line[v+1] == ':') {
			// One digit, as in nearly every counter: no call. (line[v]
			// is the '|' when the value is empty.)
			f, j = float64(d), v+1
		} else if t != Set {
			var k int
			f, k, ok = parseDecimal(line[v:pipe])
			if j = v + k; !ok || (j < pipe && line[j] != ':') {
				if k = bytes.IndexByte(line[v:pipe], ':'); k >= 0 {
					j = v + k
				} else {
					j = pipe
				}
				if f, ok = parseSlow(line[v:j]); !ok {
					return dst[:n], ReasonBadValue, 0
				}
			}
		} else if v == pipe {
			return dst, ReasonBadValue, 0
		}
		if len(dst) == cap(dst) {
			dst = append(dst, Sample{})[:len(dst)]
		}
		dst = dst[:len(dst)+1]
		p := &dst[len(dst)-1]
		p.Name, p.Tags, p.ContainerID, p.Member = line[:colon], nil, nil, nil
		if x.tags0 != 0 {
			p.Tags = line[x.tags0:x.tags1]
		}
		if x.cid0 != 0 {
			p.ContainerID = line[x.cid0:x.cid1]
		}
		if t == Set {
			p.Member = line[v:pipe]
		}
		p.Value, p.Rate, p.Timestamp = f, x.rate, x.timestamp
		p.Type, p.Delta = t, t == Gauge && (line[v] == '+' || line[v] == '-')
		if j == pipe {
			break
		}
		v = j + 1
	}
	if !nameTags && x.hashes <= 1 {
		return dst, x.forgiven, x.bad
	}
	dst, reason, bad := p.splitTags(dst, n, line, colon, i, &x, nameTags, brackets != 0, scratch)
	if reason == 0 {
		reason = x.forgiven
	}
	return dst, reason, bad
}

// seLine applies DialectStatsdExporter's rules that the sections do not:
// no empty last section ("name:1|c|", "name:1|c|@0.5|"), packed values only
// for observers.
func seLine(line []byte, colon, pipe int, t Type) Reason {
	if line[len(line)-1] == '|' {
		return ReasonEmptySection
	}
	if t != Timer && t != Histogram && t != Distribution && bytes.IndexByte(line[colon+1:pipe], ':') >= 0 {
		return ReasonPackedType
	}
	return 0
}

// splitTags finishes the samples dst[n:] of a line whose name may hold
// name-embedded tags, or which has several "|#" sections: it gives them
// the name without its tag section and the tags of every format, in
// DogStatsD form in *scratch (name-embedded ones first, then each "|#"
// section as sent, joined by ','). sec is the index of the '|' that ends the
// type. On failure (an empty name once the tags are cut off, mixed tags
// refused) it returns dst[:n] and leaves *scratch as it was.
func (p *Parser) splitTags(dst []Sample, n int, line []byte, colon, sec int, x *sections, nameTags, brackets bool, scratch *[]byte) ([]Sample, Reason, int) {
	mark := len(*scratch)
	name, tags := line[:colon], []byte(nil)
	kept, bad := 0, x.bad
	if nameTags {
		var nb int
		name, tags, kept, nb = p.nameTags(name, brackets, scratch)
		bad += nb
	}
	if len(name) == 0 {
		*scratch = (*scratch)[:mark]
		return dst[:n], ReasonEmptyName, 0
	}
	if kept > 0 && x.hashes > 0 && (p.RejectMixedTags || p.Dialect == DialectStatsdExporter) {
		*scratch = (*scratch)[:mark]
		return dst[:n], ReasonMixedTags, 0
	}
	switch {
	case x.tags0 == 0: // no DogStatsD tags read
	case kept == 0 && x.hashes == 1:
		tags = line[x.tags0:x.tags1]
	default: // append every "|#" section to the name's tags
		start := len(*scratch) - len(tags)
		s := *scratch
		for i := sec; i+1 < len(line); {
			e := i + 1 + bytes.IndexByte(line[i+1:], '|')
			if e == i {
				e = len(line)
			}
			if line[i+1] == '#' {
				if len(s) > start {
					s = append(s, ',')
				}
				s = append(s, line[i+2:e]...)
			}
			i = e
		}
		*scratch, tags = s, s[start:]
	}
	for k := n; k < len(dst); k++ {
		dst[k].Name, dst[k].Tags = name, tags
	}
	return dst, 0, bad
}

// nameTags cuts the name-embedded tag section out of name, as statsd_exporter
// does, and appends the tags it keeps to *scratch in DogStatsD form
// ("k:v,k2:v2"). brackets is false when the name has no '[' nor ']'. It
// returns the name without the section (a view into name, or into *scratch
// for a SignalFX section in its middle), the tags (a view into *scratch, or
// nil), and how many tags it kept and dropped.
func (p *Parser) nameTags(name []byte, brackets bool, scratch *[]byte) (nm, tags []byte, kept, bad int) {
	if !p.NoSignalFXTags && brackets {
		open, end := bytes.IndexByte(name, '['), bytes.IndexByte(name, ']')
		switch {
		case open >= 0 && end > open:
			switch {
			case open == 0:
				nm = name[end+1:]
			case end == len(name)-1:
				nm = name[:open]
			default: // the name around the section, joined in scratch
				s := append(append(*scratch, name[:open]...), name[end+1:]...)
				*scratch, nm = s, s[len(s)-len(name)+end+1-open:]
			}
			tags, kept, bad = appendNameTags(scratch, name[open+1:end])
			return nm, tags, kept, bad
		case open >= 0 || end >= 0:
			// One bracket only, or "]...[": statsd_exporter keeps the
			// name as it is and counts a tag error (for "]...[" it
			// panics: its slice bounds are reversed).
			return name, nil, 0, 1
		}
	}
	i, before := -1, name // the first ',' (InfluxDB), and what comes before it
	if !p.NoInfluxDBTags {
		if i = bytes.IndexByte(name, ','); i >= 0 {
			before = name[:i]
		}
	}
	if !p.NoLibratoTags {
		if k := bytes.IndexByte(before, '#'); k >= 0 {
			i = k
		}
	}
	if i < 0 {
		return name, nil, 0, 0
	}
	tags, kept, bad = appendNameTags(scratch, name[i+1:])
	return name[:i], tags, kept, bad
}

// appendNameTags appends the well-formed "k=v" tags of a name-embedded
// section to *scratch as "k:v", joined by ','. A key that starts with '#' is
// written with a second '#', which TagIter drops. It returns the tags
// written (nil if none) and how many it kept and dropped.
//
// When every tag is well formed and no key starts with '#' (the common
// case), the section is copied whole and each tag's first '=' turned into
// ':' in the copy; otherwise the tags are copied one by one.
func appendNameTags(scratch *[]byte, section []byte) (tags []byte, kept, bad int) {
	s := *scratch
	start := len(s)
	s = append(s, section...)
	out := s[start:]
	for i := 0; i < len(out); i++ { // i: the tag's first byte, then its ','
		k := i
		for i < len(out) && out[i] != '=' && out[i] != ',' {
			i++
		}
		if i == k || i == len(out) || out[i] != '=' || out[k] == '#' {
			return appendNameTagsSlow(scratch, section) // empty key, no '=', '#'
		}
		eq := i
		for i++; i < len(out) && out[i] != ','; i++ {
		}
		if i == eq+1 {
			return appendNameTagsSlow(scratch, section) // empty value
		}
		out[eq] = ':'
		kept++
	}
	if n := len(out); n > 0 && out[n-1] == ',' { // an empty last tag
		out = out[:n-1]
	}
	*scratch = s[:start+len(out)]
	if kept == 0 {
		return nil, 0, 0
	}
	return out, kept, 0
}

func appendNameTagsSlow(scratch *[]byte, section []byte) (tags []byte, kept, bad int) {
	s := *scratch
	start := len(s)
	for i := 0; i < len(section); {
		e := bytes.IndexByte(section[i:], ',')
		if e < 0 {
			e = len(section)
		} else {
			e += i
		}
		tag := section[i:e]
		i = e + 1
		eq := bytes.IndexByte(tag, '=')
		if eq <= 0 || eq == len(tag)-1 { // no '=', empty key or empty value (or empty tag)
			bad++
			continue
		}
		if kept > 0 {
			s = append(s, ',')
		}
		if tag[0] == '#' {
			s = append(s, '#')
		}
		s = append(s, tag[:eq]...)
		s = append(s, ':')
		s = append(s, tag[eq+1:]...)
		kept++
	}
	*scratch = s
	if kept == 0 {
		return nil, 0, bad
	}
	return s[start:], kept, bad
}

// scanName looks at a name eight bytes at a time, with no branch per byte.
// low is non-zero when the name holds a byte below 0x2d (among them the ','
// and '#' that start InfluxDB and Librato sections), brackets when it holds
// one of 0x5b to 0x5d ('[', '\\', ']'); neither is ever zero for a name that
// has one of those bytes. high is non-zero when the name is not all ASCII
// (the test isASCII makes).
func scanName(name []byte) (low, brackets, high uint64) {
	n := len(name)
	if n < 8 {
		w := uint64('a' * ones) // padding, in neither range
		for k := n - 1; k >= 0; k-- {
			w = w<<8 | uint64(name[k])
		}
		low, brackets = nameTagBytes(w)
		return low & hi7, brackets & hi7, w & hi7
	}
	w := binary.LittleEndian.Uint64(name[n-8:]) // the last word, overlapping
	low, brackets = nameTagBytes(w)
	high = w
	for i := 0; i < n-8; i += 8 {
		w := binary.LittleEndian.Uint64(name[i:])
		l, b := nameTagBytes(w)
		low, brackets, high = low|l, brackets|b, high|w
	}
	return low & hi7, brackets & hi7, high & hi7
}

const (
	ones = 0x0101010101010101
	hi7  = 0x80 * ones
)

// nameTagBytes sets bit 7 of each byte of w that scanName looks for; the
// other bits are noise. A byte b < 0x2d: the lowest such byte of w borrows
// nothing from below, so bit 7 of its w-0x2d is set (bytes above it may be
// flagged too, harmlessly). A byte 0x5a < b < 0x5e: with m = b&0x7f, bit 7
// of 0x7f+0x5e-m is set when m < 0x5e, and of m+0x7f-0x5a when m > 0x5a;
// neither carries into the next byte. &^ w drops bytes >= 0x80.
func nameTagBytes(w uint64) (low, brackets uint64) {
	const (
		lt2d = 0x2d * ones
		ltB  = (0x7f + 0x5e) * ones
		gtB  = (0x7f - 0x5a) * ones
	)
	m := w & (0x7f * ones)
	return (w - lt2d) &^ w, (ltB - m) & (m + gtB) &^ w
}

// sections holds what the sections after a line's type say: "|@rate",
// "|#tags", "|c:container-id", "|T<timestamp>". Tags (the first "|#" section
// read) and container id are offsets into the line; zero when absent.
type sections struct {
	rate         float64
	timestamp    int64
	tags0, tags1 int
	cid0, cid1   int
	hashes       int    // how many "|#" sections, read or not
	bad          int    // how many DogStatsD tags TagIter will skip
	forgiven     Reason // what DialectStatsdExporter forgave: forgaveRate, forgaveTimestamp
}

// What DialectStatsdExporter forgives, as bits above every Reason: a sample
// rate that is not a number or is 0 (read as 1), a "|T" section that is not
// a timestamp (ignored).
const (
	forgaveRate Reason = 0x40 << iota
	forgaveTimestamp
	forgaveMask = forgaveRate | forgaveTimestamp
)

var _ [forgaveRate - NumReasons]struct{} // the bits are above every Reason

// parse reads the sections that follow the '|' at line[i]; dog says whether
// "|#" sections are read, se whether the rules are DialectStatsdExporter's.
// It is kept out of appendLine so that the hot path stays small enough for
// the registers.
func (x *sections) parse(line []byte, i int, dog, se bool) Reason {
	x.rate = 1
	n := 0 // sections seen
	for i+1 < len(line) {
		s := i + 1 // the section's first byte, its kind
		if n++; se && n > 4 {
			return ReasonMalformedLine // statsd_exporter's malformed_component: over six '|' parts
		}
		switch line[s] {
		case '|': // an empty section: skipped
			if se {
				return ReasonEmptySection
			}
			i = s
			continue
		case '#':
			i = len(line)
			if k := bytes.IndexByte(line[s:], '|'); k >= 0 {
				i = s + k
			}
			x.hashes++
			if dog {
				x.bad += badDogTags(line[s+1 : i])
				if x.tags0 == 0 {
					x.tags0, x.tags1 = s+1, i
				}
			}
			continue
		}
		i = s + 1
		for i < len(line) && line[i] != '|' {
			i++
		}
		switch line[s] {
		case '@':
			if i-s == 4 && line[s+1] == '1' && line[s+2] == '.' && line[s+3] == '0' {
				break // "@1.0", which Gunicorn sends with every counter
			}
			r, ok := parseNumber(line[s+1 : i])
			if !ok || !(r > 0 && r <= 1) {
				if se && (!ok || r == 0) { // statsd_exporter reads these as 1
					x.forgiven |= forgaveRate
					break
				}
				return ReasonBadSampleRate
			}
			x.rate = r
		case 'T':
			ts, ok := parseUnixSeconds(line[s+1 : i])
			if !ok {
				if se { // statsd_exporter ignores "|T" sections
					x.forgiven |= forgaveTimestamp
					break
				}
				return ReasonBadTimestamp
			}
			x.timestamp = ts
		case 'c':
			if i-s > 1 && line[s+1] == ':' {
				x.cid0, x.cid1 = s+2, i
			}
			if se && !(i-s > 2 && line[s+1] == ':') { // "|c", "|c:", "|cx"
				return ReasonBadContainerID
			}
		default:
			if se {
				return ReasonUnknownSection
			}
			// Extensions we do not know are skipped.
		}
	}
	return 0
}

// badDogTags counts the tags of a DogStatsD section (without its "|#") that
// TagIter skips: empty tags but a last one, and tags whose key is empty once
// one leading '#' is dropped. Only a tag that starts with ',', ':' or '#'
// can be one: the others cost one IndexByte per tag.
func badDogTags(tags []byte) int {
	for i := 0; i < len(tags); {
		if c := tags[i]; c == ',' || c == ':' || c == '#' {
			return countBadDogTags(tags)
		}
		k := bytes.IndexByte(tags[i:], ',')
		if k < 0 {
			break
		}
		i += k + 1
	}
	return 0
}

func countBadDogTags(tags []byte) (n int) {
	for i := 0; i < len(tags); {
		e := bytes.IndexByte(tags[i:], ',')
		if e < 0 {
			e = len(tags)
		} else {
			e += i
		}
		tag := tags[i:e]
		i = e + 1
		if len(tag) > 0 && tag[0] == '#' {
			tag = tag[1:]
		}
		if len(tag) == 0 || tag[0] == ':' {
			n++
		}
	}
	return n
}

// isASCII reports whether every byte of b is below 0x80, eight at a time.
func isASCII(b []byte) bool {
	var acc uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		acc |= binary.LittleEndian.Uint64(b[i : i+8])
	}
	if i < len(b) && len(b) >= 8 {
		acc |= binary.LittleEndian.Uint64(b[len(b)-8:]) // the tail, overlapping
	} else {
		for ; i < len(b); i++ {
			acc |= uint64(b[i])
		}
	}
	return acc&0x8080808080808080 == 0
}

func parseType(b []byte) (Type, bool) {
	switch len(b) {
	case 1:
		switch b[0] {
		case 'c':
			return Counter, true
		case 'g':
			return Gauge, true
		case 'h':
			return Histogram, true
		case 'd':
			return Distribution, true
		case 's':
			return Set, true
		}
	case 2:
		if b[0] == 'm' && b[1] == 's' {
			return Timer, true
		}
	}
	return 0, false
}

// parseUnixSeconds parses a non-negative decimal integer that fits in int64.
func parseUnixSeconds(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 { // 18 digits cannot overflow int64
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

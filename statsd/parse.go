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
// without allocating. The zero value is ready to use; a Parser is safe for
// concurrent use, as it holds only its settings.
type Parser struct {
	// MaxLineLength rejects longer lines as too_long. Zero means
	// DefaultMaxLineLength; negative means no limit.
	MaxLineLength int
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
// b.Samples, each rejected line to b.Errors, and counting the datagram in
// b.Datagrams. Lines are split by '\n'; a '\r' before it is dropped, and empty
// lines are skipped. A rejected line never affects the other lines.
//
// The appended samples and errors point into datagram.
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
		var reason Reason
		if len(line) > max {
			reason = ReasonTooLong
		} else {
			b.Samples, reason = appendLine(b.Samples, line)
		}
		if reason != 0 {
			b.Errors = append(b.Errors, ParseError{Reason: reason, Line: line})
		}
	}
}

// ParseLine parses one line (without its newline), appending its samples to
// dst: one for a plain line, one per value for packed values (name:1:2|ms).
// On error dst is returned unchanged and the error is a *ParseError holding a
// copy of the line.
//
// The appended samples point into line.
func (p *Parser) ParseLine(dst []Sample, line []byte) ([]Sample, error) {
	var reason Reason
	if len(line) > p.maxLine() {
		reason = ReasonTooLong
	} else {
		dst, reason = appendLine(dst, line)
	}
	if reason != 0 {
		return dst, &ParseError{Reason: reason, Line: bytes.Clone(line)}
	}
	return dst, nil
}

// appendLine parses one non-empty line. On failure it returns dst as it was
// and the reason.
//
// The name is found with bytes.IndexByte (vector instructions); the short
// tail after it is scanned with plain loops, which for a few bytes beat a
// call. The line is checked for UTF-8 only when it is not all ASCII. Parts
// of the line are kept as offsets, not slices, until the samples are
// written: a third of the registers, and far fewer spills.
func appendLine(dst []Sample, line []byte) ([]Sample, Reason) {
	// The name ends at the first ':', which must come before the first '|'.
	pipe := bytes.IndexByte(line, '|')
	if pipe < 0 {
		return dst, ReasonMalformedLine
	}
	colon := bytes.IndexByte(line[:pipe], ':')
	if colon <= 0 {
		if colon < 0 {
			return dst, ReasonMalformedLine
		}
		return dst, ReasonEmptyName
	}

	i := pipe + 1
	for i < len(line) && line[i] != '|' {
		i++
	}
	t, ok := parseType(line[pipe+1 : i])
	if !ok {
		return dst, ReasonBadType
	}

	var x sections
	if i+1 < len(line) {
		if reason := x.parse(line, i); reason != 0 {
			return dst, reason
		}
	} else {
		x.rate = 1
	}
	if !isASCII(line) && !utf8.Valid(line) {
		return dst, ReasonInvalidUTF8
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
					return dst[:n], ReasonBadValue
				}
			}
		} else if v == pipe {
			return dst, ReasonBadValue
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
			return dst, 0
		}
		v = j + 1
	}
}

// sections holds what the sections after a line's type say: "|@rate",
// "|#tags", "|c:container-id", "|T<timestamp>". Tags and container id are
// offsets into the line; zero when absent.
type sections struct {
	rate         float64
	timestamp    int64
	tags0, tags1 int
	cid0, cid1   int
}

// parse reads the sections that follow the '|' at line[i]. It is kept out of
// appendLine so that the hot path stays small enough for the registers.
func (x *sections) parse(line []byte, i int) Reason {
	x.rate = 1
	var ok bool
	for i+1 < len(line) {
		s := i + 1 // the section's first byte, its kind
		switch line[s] {
		case '|': // an empty section: skipped
			i = s
			continue
		case '#':
			if i, ok = scanTags(line, s); !ok {
				return ReasonBadTag
			}
			x.tags0, x.tags1 = s+1, i
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
				return ReasonBadSampleRate
			}
			x.rate = r
		case 'T':
			ts, ok := parseUnixSeconds(line[s+1 : i])
			if !ok {
				return ReasonBadTimestamp
			}
			x.timestamp = ts
		case 'c':
			if i-s > 1 && line[s+1] == ':' {
				x.cid0, x.cid1 = s+2, i
			}
			// Extensions we do not know are skipped.
		}
	}
	return 0
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

// scanTags scans the tag section that starts with '#' at line[s] and returns
// where it ends (at the next '|', or the end of the line). It rejects a tag
// with an empty key (":v"). Empty tags are tolerated (and skipped by
// TagIter): Gunicorn passes --dogstatsd-tags through as typed, trailing comma
// included.
func scanTags(line []byte, s int) (end int, ok bool) {
	end = len(line)
	if k := bytes.IndexByte(line[s:], '|'); k >= 0 {
		end = s + k
	}
	tags := line[s+1 : end]
	if len(tags) > 0 && tags[0] == ':' || bytes.Contains(tags, commaColon) {
		return 0, false
	}
	return end, true
}

var commaColon = []byte(",:")

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

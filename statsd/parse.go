package statsd

import (
	"bytes"
	"strconv"
	"unicode/utf8"
	"unsafe"
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
func appendLine(dst []Sample, line []byte) ([]Sample, Reason) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return dst, ReasonMalformedLine
	}
	if colon == 0 {
		return dst, ReasonEmptyName
	}
	pipe := bytes.IndexByte(line[colon+1:], '|')
	if pipe < 0 {
		return dst, ReasonMalformedLine
	}
	pipe += colon + 1
	if !utf8.Valid(line) {
		return dst, ReasonInvalidUTF8
	}
	name, values, rest := line[:colon], line[colon+1:pipe], line[pipe+1:]

	var typ []byte
	if i := bytes.IndexByte(rest, '|'); i >= 0 {
		typ, rest = rest[:i], rest[i+1:]
	} else {
		typ, rest = rest, nil
	}
	t, ok := parseType(typ)
	if !ok {
		return dst, ReasonBadType
	}

	s := Sample{Name: name, Rate: 1, Type: t}
	for len(rest) > 0 {
		sec := rest
		if i := bytes.IndexByte(rest, '|'); i >= 0 {
			sec, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if len(sec) == 0 {
			continue
		}
		switch sec[0] {
		case '@':
			r, ok := parseNumber(sec[1:])
			if !ok || !(r > 0 && r <= 1) {
				return dst, ReasonBadSampleRate
			}
			s.Rate = r
		case '#':
			if !validTags(sec[1:]) {
				return dst, ReasonBadTag
			}
			s.Tags = sec[1:]
		case 'T':
			ts, ok := parseUnixSeconds(sec[1:])
			if !ok {
				return dst, ReasonBadTimestamp
			}
			s.Timestamp = ts
		case 'c':
			if len(sec) > 1 && sec[1] == ':' {
				s.ContainerID = sec[2:]
			}
			// Any other section is an extension we do not know: skipped.
		}
	}

	if t == Set {
		if len(values) == 0 {
			return dst, ReasonBadValue
		}
		s.Member = values
		return append(dst, s), 0
	}
	n := len(dst)
	for {
		v := values
		if i := bytes.IndexByte(values, ':'); i >= 0 {
			v, values = values[:i], values[i+1:]
		} else {
			values = nil
		}
		f, ok := parseNumber(v)
		if !ok {
			return dst[:n], ReasonBadValue
		}
		s.Value = f
		s.Delta = t == Gauge && (v[0] == '+' || v[0] == '-')
		dst = append(dst, s)
		if values == nil {
			return dst, 0
		}
	}
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

// validTags rejects a tag with an empty key (":v"). Empty tags are tolerated
// (and skipped by TagIter): Gunicorn passes --dogstatsd-tags through as typed,
// trailing comma included.
func validTags(tags []byte) bool {
	for len(tags) > 0 {
		if tags[0] == ':' {
			return false
		}
		i := bytes.IndexByte(tags, ',')
		if i < 0 {
			return true
		}
		tags = tags[i+1:]
	}
	return true
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseNumber parses a finite decimal number: an optional sign, digits, an
// optional fraction and exponent. It refuses what strconv.ParseFloat would
// otherwise take but StatsD does not mean: NaN, Inf, hex floats, underscores,
// and values that overflow to ±Inf.
//
// Numbers of up to 15 significant digits without an exponent (all that
// Gunicorn sends but float noise such as 1016.0360000000001) are converted
// exactly by one division (Clinger's fast path); the rest go to strconv.
func parseNumber(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	i, neg := 0, false
	switch b[0] {
	case '+':
		i = 1
	case '-':
		i, neg = 1, true
	}
	var mant uint64
	digits, frac, dot := 0, 0, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
			continue
		case c == '.' && !dot:
			dot = true
			continue
		}
		break
	}
	if i == len(b) && digits > 0 && digits <= 15 {
		f := float64(mant) / pow10[frac] // frac <= digits <= 15: exact operands
		if neg {
			f = -f
		}
		return f, true
	}
	return parseSlow(b)
}

func parseSlow(b []byte) (float64, bool) {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil { // syntax error, or overflow to ±Inf
		return 0, false
	}
	return f, true
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

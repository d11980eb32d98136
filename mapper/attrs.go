package mapper

import (
	"bytes"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// This file builds a series' attribute set from the mapping's own
// attributes and the sample's DogStatsD tags, so that no input can make a
// Prometheus exposition invalid, and counts what it leaves out.

// DefaultMaxTags is the number of DogStatsD tags of a sample the mapper
// reads when WithMaxTags is not given. Real clients send a handful (a
// DogStatsD client's constant tags plus a few per metric); 32 leaves room
// for them while bounding what one line can add to every series it makes.
const DefaultMaxTags = 32

// DefaultMaxTagBytes is the longest tag key, and the longest tag value, in
// bytes, when WithMaxTagBytes is not given. Datadog itself cuts a tag at 200
// characters; 256 bytes keeps any real tag whole, and with DefaultMaxTags
// bounds the tags of one series at 16 KiB.
const DefaultMaxTagBytes = 256

// TagStats counts the attributes the mapper left out of, or cut in, the
// attribute sets it built. Each count is of attributes, once per mapping
// computed (a new series, or one whose cache entry was evicted), not per
// sample: a series seen again comes from the cache and is not counted again.
// The comment of each field gives its stable reason name, for a metric
// attribute.
type TagStats struct {
	// Reserved ("reserved"): the key is, or becomes, a label name the
	// Prometheus exposition sets itself or reserves: le and quantile (the
	// labels of histogram buckets and summary quantiles), any name starting
	// with "__" (__name__), otel_scope_* (the OpenTelemetry Prometheus
	// exporter's scope labels). A mapping
	// file's label with such a key is left out too (and its file warned
	// about).
	Reserved uint64
	// Conflict ("conflict"): another attribute of the series has the same
	// Prometheus label name ("a.b" beside "a_b", a tag "app" beside the
	// prefix attribute, a tag given twice): the precedence rules of the
	// package documentation keep one.
	Conflict uint64
	// Invalid ("invalid"): the key is empty or becomes no label name at all
	// (only underscores: "_", "."), or the key or value is not UTF-8 (the
	// parser refuses such lines; a Sample made by hand may hold them, and a
	// rule's label may capture them from its name).
	Invalid uint64
	// Bare ("bare"): a tag without a value ("canary", "canary:"), left out
	// under WithDropBareTags.
	Bare uint64
	// TooMany ("too_many"): tags past the first WithMaxTags of a sample.
	TooMany uint64
	// KeyTooLong ("key_too_long"): a key longer than WithMaxTagBytes.
	KeyTooLong uint64
	// ValueTruncated ("value_truncated"): a value longer than
	// WithMaxTagBytes, cut to it (at a character boundary) and kept.
	ValueTruncated uint64
}

type tagReason int

const (
	reasonReserved tagReason = iota
	reasonConflict
	reasonInvalid
	reasonBare
	reasonTooMany
	reasonKeyTooLong
	reasonValueTruncated
	numReasons
)

var reasonNames = [numReasons]string{"reserved", "conflict", "invalid", "bare", "too_many", "key_too_long", "value_truncated"}

// Plus returns s and o added up, field by field: the stats of several
// Mappers, or of the Mappers a program replaced on reloads.
func (s TagStats) Plus(o TagStats) TagStats {
	return TagStats{
		Reserved: s.Reserved + o.Reserved, Conflict: s.Conflict + o.Conflict, Invalid: s.Invalid + o.Invalid,
		Bare: s.Bare + o.Bare, TooMany: s.TooMany + o.TooMany, KeyTooLong: s.KeyTooLong + o.KeyTooLong,
		ValueTruncated: s.ValueTruncated + o.ValueTruncated,
	}
}

// ByReason returns the counts that are not zero, by the reason names the
// fields' comments give ("reserved", "conflict", ...).
func (s TagStats) ByReason() map[string]uint64 {
	out := make(map[string]uint64)
	for i, n := range [numReasons]uint64{s.Reserved, s.Conflict, s.Invalid, s.Bare, s.TooMany, s.KeyTooLong, s.ValueTruncated} {
		if n != 0 {
			out[reasonNames[i]] = n
		}
	}
	return out
}

// TagStats returns the counts of attributes left out or cut since the
// Mapper was made.
func (m *Mapper) TagStats() TagStats {
	c := &m.tagDrops
	return TagStats{
		Reserved: c[reasonReserved].Load(), Conflict: c[reasonConflict].Load(), Invalid: c[reasonInvalid].Load(),
		Bare: c[reasonBare].Load(), TooMany: c[reasonTooMany].Load(), KeyTooLong: c[reasonKeyTooLong].Load(),
		ValueTruncated: c[reasonValueTruncated].Load(),
	}
}

// note counts an attribute left out or cut, and logs it at most once a
// minute per reason.
func (m *Mapper) note(r tagReason, n int, key string, s *statsd.Sample) {
	total := m.tagDrops[r].Add(uint64(n))
	since, ok := m.tagLogs[r].Due(time.Now().UnixNano(), total)
	if !ok {
		return
	}
	m.logger.Warn("mapper: a tag was left out of a series or cut (logged once a minute per reason)",
		slog.String("reason", reasonNames[r]), slog.String("key", clip(key, 64)),
		slog.String("metric", clip(string(s.Name), 128)), slog.Uint64("count", since), slog.Uint64("total", total))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// ownAttr is an attribute a mapping sets itself (prefix, status code, level,
// a rule's label), with its Prometheus label name.
type ownAttr struct {
	kv    attribute.KeyValue
	label string
}

func own(key string, v attribute.Value) ownAttr {
	return ownAttr{kv: attribute.KeyValue{Key: attribute.Key(key), Value: v}, label: promLabel(key)}
}

// attributes returns the set of the mapping's own attributes and the
// sample's tags. The mapping's attributes win over tags with the same
// Prometheus label name unless override is set; among tags the last wins.
// What would make an exposition invalid is left out and counted.
func (m *Mapper) attributes(s *statsd.Sample, owns []ownAttr, override bool) attribute.Set {
	if len(s.Tags) == 0 && len(owns) == 0 {
		return *attribute.EmptySet()
	}
	n := len(owns)
	if len(s.Tags) > 0 {
		n += min(bytes.Count(s.Tags, comma)+1, m.maxTags)
	}
	b := attrBuilder{m: m, s: s, kvs: make([]attribute.KeyValue, 0, n), labels: make([]string, 0, n)}
	if override {
		b.addOwn(owns)
	}
	it := s.TagIter()
	read := 0
	for it.Next() {
		if read == m.maxTags {
			rest := 1
			for it.Next() {
				rest++
			}
			m.note(reasonTooMany, rest, "", s)
			break
		}
		read++
		k, v := it.Key(), it.Value()
		switch {
		case len(k) == 0:
			m.note(reasonInvalid, 1, "", s)
			continue
		case len(v) == 0 && m.dropBare:
			// The bare-tag check: a tag with no value ("canary" or
			// "canary:"), dropped as statsd_exporter drops both forms. A
			// parser that tells the two apart (it.Bare()) would plug in
			// here, should only the colon-less form be dropped.
			m.note(reasonBare, 1, string(k), s)
			continue
		case len(k) > m.maxTagBytes:
			m.note(reasonKeyTooLong, 1, string(k), s)
			continue
		case !utf8.Valid(k) || !utf8.Valid(v):
			m.note(reasonInvalid, 1, string(k), s)
			continue
		}
		key := string(k)
		if len(v) > m.maxTagBytes {
			v = cutUTF8(v, m.maxTagBytes)
			m.note(reasonValueTruncated, 1, key, s)
		}
		label := promLabel(key)
		if onlyUnderscores(label) {
			m.note(reasonInvalid, 1, key, s)
			continue
		}
		if reservedLabel(key, label) != "" {
			m.note(reasonReserved, 1, key, s)
			continue
		}
		b.add(ownAttr{kv: attribute.String(key, string(v)), label: label})
	}
	if !override {
		b.addOwn(owns)
	}
	return attribute.NewSet(b.kvs...)
}

var comma = []byte{','}

// attrBuilder holds the attributes kept so far and their label names.
type attrBuilder struct {
	m      *Mapper
	s      *statsd.Sample
	kvs    []attribute.KeyValue
	labels []string
}

// add adds an attribute; one already there with the same label name is
// replaced (and counted).
func (b *attrBuilder) add(a ownAttr) {
	for i, l := range b.labels {
		if l == a.label {
			b.m.note(reasonConflict, 1, string(b.kvs[i].Key), b.s)
			b.kvs[i] = a.kv
			return
		}
	}
	b.kvs = append(b.kvs, a.kv)
	b.labels = append(b.labels, a.label)
}

func (b *attrBuilder) addOwn(owns []ownAttr) {
	for _, a := range owns {
		switch {
		case onlyUnderscores(a.label) || reservedLabel(string(a.kv.Key), a.label) != "":
			b.m.note(reasonReserved, 1, string(a.kv.Key), b.s)
		case a.kv.Value.Type() == attribute.STRING && !utf8.ValidString(a.kv.Value.AsString()):
			// A capture of a name that is not UTF-8: the parser refuses
			// such lines, but a Sample may be made by hand.
			b.m.note(reasonInvalid, 1, string(a.kv.Key), b.s)
		default:
			b.add(a)
		}
	}
}

// cutUTF8 cuts v to at most n bytes, at a character boundary.
func cutUTF8(v []byte, n int) []byte {
	i := n
	for i > 0 && !utf8.RuneStart(v[i]) {
		i--
	}
	return v[:i]
}

// promLabel returns the Prometheus label name that the OpenTelemetry
// Prometheus exporter makes of an attribute key when it escapes names (its
// default, and statsd_exporter's alphabet): each run of characters other
// than ASCII letters and digits becomes one '_' ("a.b", "a_b" and "a__b"
// are all "a_b"), "__x__" keeps its underscores around x, and a leading
// digit gets "key_". Where the exporter lets names through unescaped
// (UTF-8), fewer keys collide, never more, so collisions found on these
// names hold for both.
func promLabel(key string) string {
	if plainLabel(key) {
		return key
	}
	inner, reserved := key, false
	if len(key) >= 4 && strings.HasPrefix(key, "__") && strings.HasSuffix(key, "__") {
		inner, reserved = key[2:len(key)-2], true
	}
	var b strings.Builder
	b.Grow(len(key) + 4)
	under := false
	for _, r := range inner {
		if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	l := b.String()
	switch {
	case reserved:
		return "__" + l + "__"
	case l != "" && l[0] >= '0' && l[0] <= '9':
		return "key_" + l
	}
	return l
}

// plainLabel reports whether the key is its own label name: letters, digits
// and single underscores, not starting with a digit.
func plainLabel(key string) bool {
	if key == "" || key[0] >= '0' && key[0] <= '9' {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == '_' {
			if i > 0 && key[i-1] == '_' {
				return false
			}
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func onlyUnderscores(label string) bool {
	return strings.Trim(label, "_") == ""
}

// reservedLabel says why a key (and its label name) must not be an
// attribute of a series, or "". le and quantile are reserved on every
// kind: a histogram's exposition sets le itself (a second one makes the
// scrape fail), and promtool refuses either on any other metric.
func reservedLabel(key, label string) string {
	switch {
	case strings.HasPrefix(key, "__") || strings.HasPrefix(label, "__"):
		return "Prometheus reserves names starting with \"__\""
	case strings.HasPrefix(label, "otel_scope_"):
		return "the OpenTelemetry Prometheus exporter sets otel_scope_* itself"
	case label == "le" || label == "quantile":
		return "a Prometheus exposition sets " + label + " itself (on histogram buckets, summary quantiles)"
	}
	return ""
}

package statsd

import (
	"fmt"
)

// Reason says why a line was rejected. Its String form is stable, meant to be
// used as a metric attribute (for example "bad_value").
type Reason uint8

// The reasons a line is rejected (Batch.Errors), a tag dropped
// (Batch.TagErrors: ReasonBadTag), or a line kept that the default dialect
// rejects (Batch.Forgiven: ReasonBadSampleRate, ReasonBadTimestamp).
const (
	ReasonMalformedLine  Reason = iota + 1 // "malformed_line": no ':' or no '|' where one belongs (in DialectStatsdExporter, also over four sections)
	ReasonEmptyName                        // "empty_name": nothing before the ':'
	ReasonBadValue                         // "bad_value": not a finite decimal number (NaN, Inf, 0x1p3, "")
	ReasonBadType                          // "bad_type": not one of c, g, ms, h, d, s
	ReasonBadSampleRate                    // "bad_sample_rate": not a number in (0, 1]
	ReasonBadTag                           // "bad_tag": a malformed tag; the tag is dropped, the line kept (Batch.TagErrors)
	ReasonBadTimestamp                     // "bad_timestamp": "|T" not followed by unix seconds
	ReasonTooLong                          // "too_long": longer than the parser's or server's limit
	ReasonInvalidUTF8                      // "invalid_utf8": name or tags are not valid UTF-8
	ReasonMixedTags                        // "mixed_tags": name-embedded and DogStatsD tags on one line, with Parser.RejectMixedTags or DialectStatsdExporter
	ReasonPackedType                       // "packed_type": packed values (name:1:2|c) of a type other than ms, h and d, in DialectStatsdExporter
	ReasonEmptySection                     // "empty_section": an empty '|' section (name:1|c||#k:v, name:1|c|), in DialectStatsdExporter
	ReasonUnknownSection                   // "unknown_section": a section that is not @rate, #tags, c:id nor T<ts>, in DialectStatsdExporter
	ReasonBadContainerID                   // "bad_container_id": a 'c' section that is not "c:<id>", in DialectStatsdExporter

	// NumReasons is one more than the largest Reason: the length of a table
	// indexed by Reason (index 0 is unused).
	NumReasons
)

var reasonNames = [...]string{
	ReasonMalformedLine:  "malformed_line",
	ReasonEmptyName:      "empty_name",
	ReasonBadValue:       "bad_value",
	ReasonBadType:        "bad_type",
	ReasonBadSampleRate:  "bad_sample_rate",
	ReasonBadTag:         "bad_tag",
	ReasonBadTimestamp:   "bad_timestamp",
	ReasonTooLong:        "too_long",
	ReasonInvalidUTF8:    "invalid_utf8",
	ReasonMixedTags:      "mixed_tags",
	ReasonPackedType:     "packed_type",
	ReasonEmptySection:   "empty_section",
	ReasonUnknownSection: "unknown_section",
	ReasonBadContainerID: "bad_container_id",
}

// String returns the stable name of the reason, such as "bad_value"; "unknown"
// for a value that is not one of the declared reasons.
func (r Reason) String() string {
	if r > 0 && r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons returns every declared Reason, in order. Callers that count
// rejections by reason can size a table with it.
func Reasons() []Reason {
	rs := make([]Reason, 0, NumReasons-1)
	for r := Reason(1); r < NumReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// ParseError is a rejected line and the reason it was rejected; in
// Batch.TagErrors, a tag dropped from a kept line and the reason.
//
// In a Batch, Line is a view into the read buffer, valid only during the
// Handler call. The error returned by Parser.ParseLine holds its own copy.
type ParseError struct {
	Reason Reason
	Line   []byte
}

// maxErrorLine bounds how much of a rejected line an error message quotes.
const maxErrorLine = 256

// Error returns a message that names the reason and quotes the line (up to
// 256 bytes of it).
func (e *ParseError) Error() string {
	line := e.Line
	more := ""
	if len(line) > maxErrorLine {
		line, more = line[:maxErrorLine], fmt.Sprintf(" (%d bytes in all)", len(e.Line))
	}
	return fmt.Sprintf("statsd: %s: line %q%s", e.Reason, line, more)
}

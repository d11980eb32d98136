package statsd

import (
	"bytes"
	"math"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// FuzzParse feeds arbitrary datagrams to the parser. The seed corpus in
// testdata/fuzz/FuzzParse holds every datagram of the real Gunicorn captures
// and the DogStatsD forms. Whatever the input, the parser must not panic, and
// what it returns must hold the promises of Sample and ParseError.
func FuzzParse(f *testing.F) {
	f.Add([]byte("a:1|c\nb:2:3|ms|@0.5|#k:v,t|c:id|T12|xext\r\n"))
	f.Fuzz(func(t *testing.T, datagram []byte) {
		var p Parser
		var b Batch
		p.Parse(&b, datagram)
		if b.Datagrams != 1 {
			t.Fatalf("Datagrams = %d", b.Datagrams)
		}
		lines := bytes.Count(datagram, []byte("\n")) + 1
		if len(b.Errors) > lines {
			t.Fatalf("%d errors from %d lines", len(b.Errors), lines)
		}
		for _, s := range b.Samples {
			if len(s.Name) == 0 || !within(s.Name, datagram) || !within(s.Tags, datagram) {
				t.Fatalf("sample name %q / tags %q not a view into the datagram", s.Name, s.Tags)
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
				if len(it.Key()) == 0 {
					t.Fatalf("sample %q: empty tag key in %q", s.Name, s.Tags)
				}
			}
		}
		for _, e := range b.Errors {
			if e.Reason.String() == "unknown" || len(e.Line) == 0 || !within(e.Line, datagram) {
				t.Fatalf("bad ParseError %+v", e)
			}
		}
		// A single line parses the same through ParseLine.
		if !bytes.ContainsAny(datagram, "\r\n") && len(datagram) > 0 {
			got, err := p.ParseLine(nil, datagram)
			if (err != nil) != (len(b.Errors) == 1) || len(got) != len(b.Samples) {
				t.Fatalf("ParseLine gave %d samples, err %v; Parse gave %d samples, %d errors", len(got), err, len(b.Samples), len(b.Errors))
			}
		}
	})
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

package main

import (
	"bytes"
	"strconv"
	"time"

	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// Which extra datagram, if any, each simulated request is followed by.
const (
	extraNone  = iota
	extraNames // a counter with a metric name never sent before
	extraTags  // one counter name, with a tag value never sent before
	extraWide  // one of a few names, with many tags whose values are new
)

// Names of the extra datagrams of the memory modes, after the prefix.
const (
	distinctNamePrefix = "statsdload.distinct." // + index: "statsdload.distinct.17:1|c"
	distinctTagName    = "statsdload.tagged"    // "statsdload.tagged:1|c|#statsdload_id:17"
	distinctTagKey     = "statsdload_id"        // the tag whose value changes
	wideNamePrefix     = "statsdload.wide."     // + index: "statsdload.wide.17:1|c|#w0:5,w1:5"
	wideTagKey         = "w"                    // + index: the keys of the wide tags
	poolRequests       = 1024                   // distinct Gunicorn requests cycled through
	requestDatagrams   = 3                      // duration, requests, status
	requestsDatagram   = 1                      // position of gunicorn.requests in a request
	maxDatagramLen     = 512                    // room for one extra datagram but a wide one
	distinctUnitExtra  = 1                      // extra datagrams per request in the memory modes
)

// traffic produces the datagrams of a run: a sequence of units, each one
// Gunicorn request (its three datagrams, as the statsdtest Emitter writes
// them) and, in the memory modes, one extra datagram with a new name or a
// new tag value. Datagram i of the run is always the same bytes, so a
// receiver's count can be checked exactly.
type traffic struct {
	pool     [][]byte // poolRequests requests, requestDatagrams each
	unit     int      // datagrams per unit
	extra    int      // extraNone, extraNames, extraTags, extraWide
	distinct int64    // the extra datagram's name or tag index cycles modulo distinct
	prefix   string   // normalised Gunicorn prefix
	tags     string   // DogStatsD tags of every datagram ("" for none)
	scratch  []byte   // backing store of the extra datagrams of one batch
	extraLen int      // room for one extra datagram in scratch

	wideTags int    // extraWide: tags per line
	wideType string // extraWide: the StatsD type of the lines ("c", "ms", ...)
	maxExtra int    // the longest extra datagram written so far, in bytes
}

// newTraffic returns the traffic for Gunicorn started with --statsd-prefix
// prefix and --dogstatsd-tags tags. extra and distinct select a memory mode
// (for extraWide, newWideTraffic). prefix and tags must be ASCII (parseFlags
// checks): Gunicorn sends nothing otherwise.
func newTraffic(prefix, tags string, extra int, distinct int64) *traffic {
	e := statsdtest.NewEmitter(statsdtest.Config{Prefix: prefix, Tags: tags}, nil)
	t := &traffic{unit: requestDatagrams, extra: extra, distinct: distinct, tags: tags, extraLen: maxDatagramLen}
	if extra != extraNone {
		t.unit += distinctUnitExtra
	}
	statuses := statusCycle()
	var dst [][]byte
	for i := range poolRequests {
		dst = e.AppendRequest(dst[:0], statuses[i%len(statuses)], requestDuration(i))
		for _, d := range dst {
			t.pool = append(t.pool, append([]byte(nil), d...))
		}
	}
	// The prefix as Gunicorn normalises it ("app" becomes "app.") is what
	// the Emitter put before gunicorn.requests.
	req := t.pool[requestsDatagram]
	t.prefix = string(req[:bytes.Index(req, []byte("gunicorn.requests:"))])
	return t
}

// newWideTraffic returns the traffic of the wide-tag mode: each Gunicorn
// request followed by one line of type typ named statsdload.wide.<unit mod
// names>, with tags tags w0 to w<tags-1>, each valued with the unit's index:
// every line is a series never seen before, with as many attributes as the
// target keeps.
func newWideTraffic(prefix, dogTags string, tags int, names int64, typ string) *traffic {
	t := newTraffic(prefix, dogTags, extraWide, names)
	t.wideTags, t.wideType = tags, typ
	// The longest line: a 19-digit index in the name and in every tag.
	t.extraLen = len(t.prefix) + len(wideNamePrefix) + 19 + len(":1|") + len(typ) + len("|#") + len(dogTags) + 1 +
		tags*(len(wideTagKey)+len(strconv.Itoa(tags))+len(":,")+19)
	return t
}

// statusCycle returns the status codes of the simulated requests, in order:
// out of 100 requests 90 answer 200, 1 answers 201, 3 answer 304, 4 answer
// 404, 1 answers 500 and 1 answers 503.
func statusCycle() []int {
	s := make([]int, 0, 100)
	add := func(code, n int) {
		for range n {
			s = append(s, code)
		}
	}
	add(200, 90)
	add(201, 1)
	add(304, 3)
	add(404, 4)
	add(500, 1)
	add(503, 1)
	// Spread the rare codes instead of sending them in a row.
	out := make([]int, len(s))
	for i := range s {
		out[(i*37)%len(s)] = s[i]
	}
	return out
}

// requestDuration returns the duration of simulated request i: spread from
// about 0.3 ms to 2.5 s, most of them short, deterministically.
func requestDuration(i int) time.Duration {
	h := uint32(i)*2654435761 + 12345
	us := 300 + int64(h%20000) // 0.3 ms .. 20 ms
	if h%10 == 0 {
		us *= 25 // a slow tenth: up to 0.5 s
	}
	if h%97 == 0 {
		us *= 5
	}
	return time.Duration(us) * time.Microsecond
}

// unitsFor returns the number of whole units that hold at least n datagrams.
func (t *traffic) unitsFor(n int64) int64 { return (n + int64(t.unit) - 1) / int64(t.unit) }

// isRequests reports whether datagram i of the run is a gunicorn.requests
// counter.
func (t *traffic) isRequests(i int64) bool { return i%int64(t.unit) == requestsDatagram }

// requestsIn returns how many of the datagrams [from, from+n) are
// gunicorn.requests counters.
func (t *traffic) requestsIn(from, n int64) int64 {
	u := int64(t.unit)
	// Datagrams with index < x that are requests: ceil-ish count of k*u+1 < x.
	below := func(x int64) int64 {
		if x <= requestsDatagram {
			return 0
		}
		return (x-requestsDatagram-1)/u + 1
	}
	return below(from+n) - below(from)
}

// fill sets dst[k] to datagram from+k of the run, for every k < len(dst).
// The extra datagrams are written into t.scratch, valid until the next fill.
func (t *traffic) fill(dst [][]byte, from int64) {
	if cap(t.scratch) < len(dst)*t.extraLen {
		t.scratch = make([]byte, 0, len(dst)*t.extraLen)
	}
	t.scratch = t.scratch[:0]
	u := int64(t.unit)
	for k := range dst {
		i := from + int64(k)
		unit, pos := i/u, int(i%u)
		if pos < requestDatagrams {
			dst[k] = t.pool[int(unit%poolRequests)*requestDatagrams+pos]
			continue
		}
		start := len(t.scratch)
		t.scratch = t.appendExtra(t.scratch, unit)
		dst[k] = t.scratch[start:len(t.scratch):len(t.scratch)]
		t.maxExtra = max(t.maxExtra, len(dst[k]))
	}
}

// appendExtra appends the extra datagram of unit number unit of a memory
// mode.
func (t *traffic) appendExtra(b []byte, unit int64) []byte {
	n := unit % t.distinct
	b = append(b, t.prefix...)
	switch t.extra {
	case extraNames:
		b = append(b, distinctNamePrefix...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, ":1|c"...)
		if t.tags != "" {
			b = append(b, "|#"...)
			b = append(b, t.tags...)
		}
	case extraTags:
		b = append(b, distinctTagName...)
		b = append(b, ":1|c|#"...)
		if t.tags != "" {
			b = append(b, t.tags...)
			b = append(b, ',')
		}
		b = append(b, distinctTagKey...)
		b = append(b, ':')
		b = strconv.AppendInt(b, n, 10)
	case extraWide:
		b = append(b, wideNamePrefix...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, ":1|"...)
		b = append(b, t.wideType...)
		b = append(b, "|#"...)
		if t.tags != "" {
			b = append(b, t.tags...)
			b = append(b, ',')
		}
		for j := range t.wideTags {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, wideTagKey...)
			b = strconv.AppendInt(b, int64(j), 10)
			b = append(b, ':')
			b = strconv.AppendInt(b, unit, 10)
		}
	}
	return b
}

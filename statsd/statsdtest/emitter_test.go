package statsdtest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/internal/fixture"
)

const us = time.Microsecond

// Releases the tests name that the package does not.
var (
	gunicorn20_1 = V(20, 1, 0) // the release of the captures in testdata
	gunicorn21   = V(21, 0, 0)
)

// sliceSink returns a Sink that appends a copy of each datagram to *dst.
func sliceSink(dst *[][]byte) Sink {
	return SinkFunc(func(p []byte) error {
		*dst = append(*dst, bytes.Clone(p))
		return nil
	})
}

func readCapture(t *testing.T, name string) [][]byte {
	t.Helper()
	got, err := ReadCapture(fixture.CapturePath(name))
	if err != nil {
		t.Fatalf("ReadCapture: %v", err)
	}
	return got
}

func equalDatagrams(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d datagrams, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if string(got[i]) != string(want[i]) {
			t.Errorf("datagram %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// gunicorn-20.1-plain.statsd: one worker, no prefix, no tags; requests to
// 200, 404 and a 1.2 s request.
func TestCapturePlain(t *testing.T) {
	var got [][]byte
	e := NewEmitter(Config{Version: gunicorn20_1}, sliceSink(&got))
	must(t, e.Workers(1))
	must(t, e.Request(200, 550*us))
	must(t, e.Request(404, 1612*us))
	must(t, e.Request(200, 1200623*us))
	equalDatagrams(t, got, readCapture(t, "gunicorn-20.1-plain.statsd"))
}

// gunicorn-20.1-prefix-tags.statsd: -w 2 --statsd-prefix shop.web
// --dogstatsd-tags env:prod,team:web; 200, 404, an exception (500), 201,
// 200; TTIN to 3 workers, a worker killed on timeout (log.critical), TTOU
// back to 2 (log.warning).
func TestCapturePrefixTags(t *testing.T) {
	var got [][]byte
	e := NewEmitter(Config{Version: gunicorn20_1, Prefix: "shop.web", Tags: "env:prod,team:web"}, sliceSink(&got))
	must(t, e.Workers(2))
	must(t, e.Request(200, 493*us))
	must(t, e.Request(404, 908*us))
	must(t, e.Log(LogException))
	must(t, e.Request(500, 1730*us))
	must(t, e.Request(201, 241*us))
	must(t, e.Request(200, 1739*us))
	must(t, e.Workers(3))
	must(t, e.Log(LogCritical))
	must(t, e.Workers(2))
	must(t, e.Log(LogWarning))
	equalDatagrams(t, got, readCapture(t, "gunicorn-20.1-prefix-tags.statsd"))
}

func TestReadCaptureCounts(t *testing.T) {
	if n := len(readCapture(t, "gunicorn-20.1-plain.statsd")); n != 10 {
		t.Errorf("plain: %d datagrams, want 10", n)
	}
	if n := len(readCapture(t, "gunicorn-20.1-prefix-tags.statsd")); n != 21 {
		t.Errorf("prefix-tags: %d datagrams, want 21", n)
	}
	if _, err := ReadCapture(fixture.CapturePath("missing.statsd")); err == nil {
		t.Error("ReadCapture of a missing file: no error")
	}
}

func TestSplitCapture(t *testing.T) {
	got := splitCapture([]byte("a:1|c\n\nb:2|g\r\nc:3|ms"))
	want := []string{"a:1|c", "b:2|g\r", "c:3|ms"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("datagram %d = %q, want %q", i, got[i], want[i])
		}
	}
	// A datagram's capacity ends with it: appending cannot clobber the next.
	if cap(got[0]) != len(got[0]) {
		t.Errorf("cap = %d, want %d", cap(got[0]), len(got[0]))
	}
}

func strs(b [][]byte) []string {
	s := make([]string, len(b))
	for i := range b {
		s[i] = string(b[i])
	}
	return s
}

func expect(t *testing.T, what string, got [][]byte, want ...string) {
	t.Helper()
	g := strs(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, g, want)
	}
}

func TestVersions(t *testing.T) {
	for _, tt := range []struct {
		v    Version
		want map[string][]string
	}{
		{gunicorn19_1_1, map[string][]string{
			"workers0":   nil,
			"workers3":   {"gunicorn.workers:3|g"},
			"backlog0":   nil,
			"backlog5":   nil,
			"histogram":  {"app.h:2.5|ms"},
			"histogram0": nil,
			"timer":      nil,
			"counter":    {"app.c:3|c|@1.0"},
			"counter0":   nil,
			"gauge":      {"app.g:7|g"},
			"gaugeStr0":  {`app.g:0|g`},
			"gaugeEmpty": nil,
			"gaugeF0":    nil,
			"unknown":    nil,
			"tags":       {"gunicorn.requests:1|c|@1.0"},
		}},
		{gunicorn20, map[string][]string{
			"workers0":   nil,
			"workers3":   {"gunicorn.workers:3|g"},
			"backlog0":   nil,
			"backlog5":   nil,
			"histogram":  {"app.h:2.5|ms"},
			"histogram0": nil,
			"timer":      nil,
			"counter":    {"app.c:3|c|@1.0"},
			"counter0":   nil,
			"gauge":      {"app.g:7|g"},
			"gaugeStr0":  {`app.g:0|g`},
			"gaugeEmpty": nil,
			"gaugeF0":    nil,
			"unknown":    nil,
			"tags":       {"gunicorn.requests:1|c|@1.0|#a:b,c"},
		}},
		{gunicorn24_1, map[string][]string{
			"workers0":   nil,
			"workers3":   {"gunicorn.workers:3|g"},
			"backlog0":   nil,
			"backlog5":   {"gunicorn.backlog:5|h"},
			"histogram":  {"app.h:2.5|h"},
			"histogram0": nil,
			"timer":      {"app.t:12|ms"},
			"counter":    {"app.c:3|c|@1.0"},
			"counter0":   nil,
			"gauge":      {"app.g:7|g"},
			"gaugeStr0":  {`app.g:0|g`},
			"gaugeEmpty": nil,
			"gaugeF0":    nil,
			"unknown":    nil,
			"tags":       {"gunicorn.requests:1|c|@1.0|#a:b,c"},
		}},
		{gunicorn26_1, map[string][]string{
			"workers0":   {"gunicorn.workers:0|g"},
			"workers3":   {"gunicorn.workers:3|g"},
			"backlog0":   {"gunicorn.backlog:0|h"},
			"backlog5":   {"gunicorn.backlog:5|h"},
			"histogram":  {"app.h:2.5|h"},
			"histogram0": {"app.h:0|h"},
			"timer":      {"app.t:12|ms"},
			"counter":    {"app.c:3|c|@1.0"},
			"counter0":   {"app.c:0|c|@1.0"},
			"gauge":      {"app.g:7|g"},
			"gaugeStr0":  {`app.g:0|g`},
			"gaugeEmpty": {"app.g:|g"},
			"gaugeF0":    {"app.g:0.0|g"},
			"unknown":    nil,
			"tags":       {"gunicorn.requests:1|c|@1.0|#a:b,c"},
		}},
	} {
		t.Run(tt.v.String(), func(t *testing.T) {
			e := NewEmitter(Config{Version: tt.v}, nil)
			ep := NewEmitter(Config{Version: tt.v, Prefix: "app"}, nil)
			et := NewEmitter(Config{Version: tt.v, Tags: "a:b,c"}, nil)
			got := map[string][][]byte{
				"workers0":   e.appendWorkers(nil, 0),
				"workers3":   e.appendWorkers(nil, 3),
				"backlog0":   e.appendBacklog(nil, 0),
				"backlog5":   e.appendBacklog(nil, 5),
				"histogram":  ep.appendMetric(nil, "h", "histogram", 2.5),
				"histogram0": ep.appendMetric(nil, "h", "histogram", 0),
				"timer":      ep.appendMetric(nil, "t", "timer", 12),
				"counter":    ep.appendMetric(nil, "c", "counter", 3),
				"counter0":   ep.appendMetric(nil, "c", "counter", 0),
				"gauge":      ep.appendMetric(nil, "g", "gauge", 7),
				"gaugeStr0":  ep.appendMetric(nil, "g", "gauge", "0"),
				"gaugeEmpty": ep.appendMetric(nil, "g", "gauge", ""),
				"gaugeF0":    ep.appendMetric(nil, "g", "gauge", 0.0),
				"unknown":    ep.appendMetric(nil, "u", "meter", 1),
				"tags":       et.AppendRequest(nil, 200, time.Millisecond)[1:2],
			}
			for k, want := range tt.want {
				expect(t, k, got[k], want...)
			}
		})
	}
}

func TestMetricNeverSent(t *testing.T) {
	e := NewEmitter(Config{}, nil)
	if got := e.appendMetric(nil, "", "gauge", 1); len(got) != 0 {
		t.Errorf("empty name: %q", got)
	}
	if got := e.appendMetric(nil, "x", "", 1); len(got) != 0 {
		t.Errorf("empty mtype: %q", got)
	}
	if got := e.appendBacklog(nil, -1); len(got) != 0 {
		t.Errorf("negative backlog: %q", got)
	}
}

func TestRequestAndLogs(t *testing.T) {
	e := NewEmitter(Config{Prefix: "a"}, nil) // one character: no dot
	expect(t, "request", e.AppendRequest(nil, 599, -500*time.Millisecond),
		"agunicorn.request.duration:86399500.0|ms",
		"agunicorn.requests:1|c|@1.0",
		"agunicorn.request.status.599:1|c|@1.0")
	var logs [][]byte
	for _, l := range []LogLevel{LogCritical, LogError, LogWarning, LogException} {
		logs = e.appendLog(logs, l)
	}
	expect(t, "logs", logs,
		"agunicorn.log.critical:1|c|@1.0",
		"agunicorn.log.error:1|c|@1.0",
		"agunicorn.log.warning:1|c|@1.0",
		"agunicorn.log.exception:1|c|@1.0")

	e = NewEmitter(Config{Prefix: "a..", Tags: "x"}, nil)
	expect(t, "a..", e.AppendRequest(nil, 200, 7*time.Second)[:1], "a..gunicorn.request.duration:7000.0|ms|#x")
}

func TestNonASCIIIsNotSent(t *testing.T) {
	e := NewEmitter(Config{Prefix: "café"}, nil)
	if got := e.AppendRequest(nil, 200, time.Millisecond); len(got) != 0 {
		t.Errorf("non-ASCII prefix: %q", got)
	}
	e = NewEmitter(Config{Tags: "env:pröd"}, nil)
	if got := e.appendWorkers(nil, 2); len(got) != 0 {
		t.Errorf("non-ASCII tags: %q", got)
	}
	e = NewEmitter(Config{}, nil)
	got := e.appendMetric(nil, "naïve", "gauge", 1)
	got = e.appendMetric(got, "ok", "gauge", 1)
	expect(t, "mixed", got, "ok:1|g")
}

// A nil Sink discards; Config.Tags is ignored before 20.0.
func TestNilSinkAndOldTags(t *testing.T) {
	if err := NewEmitter(Config{}, nil).Request(200, time.Millisecond); err != nil {
		t.Error(err)
	}
	var got [][]byte
	must(t, NewEmitter(Config{Version: gunicorn19_1_1, Prefix: "app...", Tags: "t"}, sliceSink(&got)).Workers(2))
	expect(t, "19.1.1", got, "app.gunicorn.workers:2|g")
}

// Metric writes value as Python's str() and drops falsy values before 26.1.
func TestMetricValues(t *testing.T) {
	type count int32
	for _, tt := range []struct {
		value    any
		old, new string // before and from 26.1; "" for nothing sent
	}{
		{3, "x:3|g", "x:3|g"},
		{int8(-2), "x:-2|g", "x:-2|g"},
		{uint64(18446744073709551615), "x:18446744073709551615|g", "x:18446744073709551615|g"},
		{count(7), "x:7|g", "x:7|g"},
		{time.Millisecond, "x:1000000|g", "x:1000000|g"}, // an int64 to Python
		{2.5, "x:2.5|g", "x:2.5|g"},
		{3.0, "x:3.0|g", "x:3.0|g"},
		{float32(0.1), "x:0.10000000149011612|g", "x:0.10000000149011612|g"},
		{1e-05, "x:1e-05|g", "x:1e-05|g"},
		{"12", "x:12|g", "x:12|g"},
		{"0", "x:0|g", "x:0|g"}, // a non-empty str is truthy
		{true, "x:True|g", "x:True|g"},
		{0, "", "x:0|g"},
		{uint(0), "", "x:0|g"},
		{0.0, "", "x:0.0|g"},
		{"", "", "x:|g"},
		{false, "", "x:False|g"},
		{nil, "", ""},
		{struct{}{}, "", ""},
		{[]int{1}, "", ""},
	} {
		for _, v := range []Version{V(25, 0, 0), V(26, 1, 0)} {
			var got [][]byte
			must(t, NewEmitter(Config{Version: v}, sliceSink(&got)).Metric("x", "gauge", tt.value))
			want := tt.old
			if v >= gunicorn26_1 {
				want = tt.new
			}
			var w []string
			if want != "" {
				w = []string{want}
			}
			expect(t, fmt.Sprintf("%s %T(%v)", v, tt.value, tt.value), got, w...)
		}
	}
}

func TestAppendReusesBuffers(t *testing.T) {
	e := NewEmitter(Config{Prefix: "shop.web", Tags: "env:prod,team:web"}, nil)
	dst := e.AppendRequest(nil, 200, 550*us)
	dst = e.appendWorkers(dst, 3)
	allocs := testing.AllocsPerRun(100, func() {
		dst = e.AppendRequest(dst[:0], 404, 1016036*us)
		dst = e.appendWorkers(dst, 3)
	})
	if allocs != 0 {
		t.Errorf("allocs = %v, want 0", allocs)
	}
	expect(t, "reused", dst,
		"shop.web.gunicorn.request.duration:1016.0360000000001|ms|#env:prod,team:web",
		"shop.web.gunicorn.requests:1|c|@1.0|#env:prod,team:web",
		"shop.web.gunicorn.request.status.404:1|c|@1.0|#env:prod,team:web",
		"shop.web.gunicorn.workers:3|g|#env:prod,team:web")
}

func TestSinkErrorStillSendsRest(t *testing.T) {
	boom := errors.New("boom")
	var n int
	e := NewEmitter(Config{}, SinkFunc(func(p []byte) error {
		n++
		if n == 1 {
			return boom
		}
		return nil
	}))
	if err := e.Request(200, time.Millisecond); err != boom {
		t.Errorf("err = %v, want boom", err)
	}
	if n != 3 {
		t.Errorf("%d datagrams offered, want 3", n)
	}
}

func TestVersion(t *testing.T) {
	if s := V(24, 1, 2).String(); s != "24.1.2" {
		t.Errorf("String = %q", s)
	}
	if s := V(19, 1, 1).String(); s != "19.1.1" || V(19, 1, 1) != gunicorn19_1_1 {
		t.Errorf("V(19, 1, 1) = %s (%d)", s, V(19, 1, 1))
	}
	if !(gunicorn19_1_1 < gunicorn20 && gunicorn20 < gunicorn20_1 && gunicorn20_1 < gunicorn21 &&
		gunicorn21 < gunicorn24_1 && gunicorn24_1 < V(25, 2, 0) && V(25, 2, 0) < gunicorn26_1 &&
		V(26, 1, 0) == latest && V(1000, 0, 0) > latest) {
		t.Error("versions out of order")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestGunicornMix(t *testing.T) {
	got := GunicornMix(Config{Version: gunicorn20_1, Prefix: "myapp", Tags: "env:prod,service:web"})
	want := []string{
		"myapp.gunicorn.request.duration:1016.0360000000001|ms",
		"myapp.gunicorn.requests:1|c|@1.0",
		"myapp.gunicorn.request.status.200:1|c|@1.0",
		"myapp.gunicorn.request.duration:0.493|ms",
		"myapp.gunicorn.requests:1|c|@1.0",
		"myapp.gunicorn.request.status.404:1|c|@1.0",
		"myapp.gunicorn.request.duration:12.73|ms",
		"myapp.gunicorn.requests:1|c|@1.0",
		"myapp.gunicorn.request.status.500:1|c|@1.0",
		"myapp.gunicorn.workers:4|g",
		"myapp.gunicorn.log.critical:1|c|@1.0",
	}
	if len(got) != len(want) {
		t.Fatalf("%d datagrams, want %d", len(got), len(want))
	}
	for i := range want {
		if w := want[i] + "|#env:prod,service:web"; string(got[i]) != w {
			t.Errorf("datagram %d = %q, want %q", i, got[i], w)
		}
	}
}

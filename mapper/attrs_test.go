package mapper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// TestTagAttributes: tags that would make a Prometheus exposition invalid
// are left out, limits cut the rest, and each is counted under its reason.
func TestTagAttributes(t *testing.T) {
	long := strings.Repeat("k", DefaultMaxTagBytes+1)
	var many []string
	for i := range DefaultMaxTags + 8 {
		many = append(many, fmt.Sprintf("t%02d:v", i))
	}
	rs := mustRules(t, "mappings:\n- match: \"r.*\"\n  name: r\n  labels: {le: \"$1\", a.b: rule}\n")
	for _, tc := range []struct {
		name, line string
		opts       []Option
		want       string
		stats      TagStats
	}{
		{"hostile histogram", "api.latency:7|ms|#le:evil,quantile:x,__name__:y,a.b:1,a_b:2", nil,
			"api.latency histogram a_b=2", TagStats{Reserved: 3, Conflict: 1}},
		{"same tags on a counter", "api.hits:1|c|#le:evil,quantile:x,__name__:y,a.b:1,a_b:2", nil,
			"api.hits counter a_b=2", TagStats{Reserved: 3, Conflict: 1}},
		{"gunicorn histogram", "myapp.gunicorn.request.duration:7|ms|#le:evil,quantile:x,__name__:y,a.b:1,a_b:2", nil,
			"gunicorn.request.duration histogram a_b=2,app=myapp", TagStats{Reserved: 3, Conflict: 1}},
		{"tag beside the prefix attribute", "shop.gunicorn.requests:1|c|#app:x", nil,
			"gunicorn.requests counter app=shop", TagStats{Conflict: 1}},
		{"tag beside the prefix attribute, tags win", "shop.gunicorn.requests:1|c|#app:x", []Option{WithTagOverride(true)},
			"gunicorn.requests counter app=x", TagStats{Conflict: 1}},
		{"tag beside the status code", "shop.gunicorn.request.status.200:1|c|#http_response_status_code:x", nil,
			"gunicorn.responses counter app=shop,http.response.status_code=200", TagStats{Conflict: 1}},
		{"a tag given twice", "m:1|c|#env:a,env:b", nil, "m counter env=b", TagStats{Conflict: 1}},
		{"scope labels", "m:1|c|#otel.scope.name:x,otel_scope_version:y,otel:z", nil, "m counter otel=z", TagStats{Reserved: 2}},
		{"no label name", "m:1|c|#_:x,.:y,__:z,é:w,ok_:v", nil, "m counter ok_=v", TagStats{Invalid: 4}},
		{"leading digit is fine", "m:1|c|#1abc:x", nil, "m counter 1abc=x", TagStats{}},
		{"bare tags kept", "m:1|c|#env:prod,canary,flag:", nil, "m counter canary=,env=prod,flag=", TagStats{}},
		{"bare tags dropped", "m:1|c|#env:prod,canary,flag:", []Option{WithDropBareTags()}, "m counter env=prod", TagStats{Bare: 2}},
		{"too many tags", "m:1|c|#" + strings.Join(many, ","), nil, "", TagStats{TooMany: 8}},
		{"two tags at most", "m:1|c|#a:1,b:2,c:3,d:4", []Option{WithMaxTags(2)}, "m counter a=1,b=2", TagStats{TooMany: 2}},
		{"long key", "m:1|c|#" + long + ":x,k:v", nil, "m counter k=v", TagStats{KeyTooLong: 1}},
		{"long value", "m:1|c|#k:" + strings.Repeat("é", 5), []Option{WithMaxTagBytes(5)}, "m counter k=éé", TagStats{ValueTruncated: 1}},
		{"rule label le", "r.x:1|ms|#a_b:tag", nil, "r histogram a.b=rule", TagStats{Reserved: 1, Conflict: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustMapper(t, append([]Option{WithRules(rs)}, tc.opts...)...)
			got := mapLine(t, m, tc.line)
			if tc.want == "" {
				tc.want = "m counter " + strings.Join(many[:DefaultMaxTags], ",")
				tc.want = strings.ReplaceAll(tc.want, ":", "=")
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if st := m.TagStats(); st != tc.stats {
				t.Errorf("stats %+v, want %+v", st, tc.stats)
			}
			// The same series again comes from the cache: not counted again.
			mapLine(t, m, tc.line)
			if st := m.TagStats(); st != tc.stats {
				t.Errorf("stats after a cache hit %+v, want %+v", st, tc.stats)
			}
		})
	}
}

// Samples built by hand, with tags that are not UTF-8 (the parser refuses
// them) or have an empty key (TagIter skips those: not counted here).
func TestTagNotUTF8(t *testing.T) {
	m := mustMapper(t)
	s := &statsd.Sample{Name: []byte("m"), Type: statsd.Counter, Rate: 1, Tags: []byte("a:\xff,\xfe:b,:x,k:v")}
	if got := attrString(m.Map(s).Attributes); got != "k=v" {
		t.Errorf("got %q", got)
	}
	if st := m.TagStats(); st != (TagStats{Invalid: 2}) {
		t.Errorf("stats %+v", st)
	}
}

func TestPromLabel(t *testing.T) {
	for key, want := range map[string]string{
		"env": "env", "a_b": "a_b", "a.b": "a_b", "a__b": "a_b", "a._b": "a_b", "_a": "_a", "a_": "a_",
		"http.response.status_code": "http_response_status_code", "1abc": "key_1abc", "__name__": "__name__",
		"__a.b__": "__a_b__", "__x": "_x", "é": "_", "aé": "a_", "": "", "__": "_",
	} {
		if got := promLabel(key); got != want {
			t.Errorf("promLabel(%q) = %q, want %q", key, got, want)
		}
	}
}

// Every option given a value it cannot take makes New fail, naming each.
func TestNewRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want []string
	}{
		{[]Option{WithCacheSize(0)}, []string{"WithCacheSize(0): must be positive"}},
		{[]Option{WithMaxTags(0)}, []string{"WithMaxTags(0): must be positive"}},
		{[]Option{WithMaxTagBytes(-1)}, []string{"WithMaxTagBytes(-1): must be positive"}},
		{[]Option{WithLogger(nil)}, []string{"WithLogger(nil): a logger is required"}},
		{[]Option{WithPrefixKey("le")}, []string{`prefix key "le": a Prometheus exposition sets le itself`}},
		{[]Option{WithPrefixKey("__app")}, []string{`prefix key "__app": Prometheus reserves names starting with "__"`}},
		{[]Option{WithPrefixKey("otel.scope.app")}, []string{`prefix key "otel.scope.app": the OpenTelemetry Prometheus exporter sets otel_scope_* itself`}},
		{[]Option{WithPrefixKey(".")}, []string{`prefix key "." becomes no Prometheus label name`}},
		{[]Option{WithPrefixKey("level")}, []string{`prefix key "level": the Gunicorn profile sets "level", the same Prometheus label name`}},
		{[]Option{WithPrefixKey("http_response.status_code")}, []string{`the Gunicorn profile sets "http.response.status_code"`}},
		{[]Option{WithCacheSize(-5), WithMaxTags(-1), WithPrefixKey("quantile")},
			[]string{"WithCacheSize(-5): must be positive", "WithMaxTags(-1): must be positive", `prefix key "quantile"`}},
	} {
		m, err := New(tc.opts...)
		if err == nil || m != nil {
			t.Errorf("%v: no error", tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q, want it to contain %q", err, w)
			}
		}
	}
	for _, key := range []string{"", "service", "app.name", "quantile_x"} {
		if _, err := New(WithPrefixKey(key)); err != nil {
			t.Errorf("WithPrefixKey(%q): %v", key, err)
		}
	}
}

type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// With a logger, what is left out is logged at most once a minute per
// reason, with the reason, the key and the metric.
func TestTagLog(t *testing.T) {
	h := &recordHandler{}
	m := mustMapper(t, WithLogger(slog.New(h)))
	for i := range 5 {
		mapLine(t, m, fmt.Sprintf("m%d:1|ms|#le:%d,a.b:1,a_b:2", i, i))
	}
	if st := m.TagStats(); st.Reserved != 5 || st.Conflict != 5 {
		t.Fatalf("stats %+v", st)
	}
	if len(h.recs) != 2 {
		t.Fatalf("%d log records, want 2 (one per reason)", len(h.recs))
	}
	var b bytes.Buffer
	for _, r := range h.recs {
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%s", a.Key, a.Value)
			return true
		})
		b.WriteByte('\n')
	}
	const want = "mapper: a tag was left out of a series or cut (logged once a minute per reason) reason=reserved key=le metric=m0 count=1 total=1\n" +
		"mapper: a tag was left out of a series or cut (logged once a minute per reason) reason=conflict key=a.b metric=m0 count=1 total=1\n"
	if b.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", b.String(), want)
	}
}

// Without WithLogger, the mapper logs to slog.Default(), as it is when New
// is called.
func TestTagLogDefault(t *testing.T) {
	h := &recordHandler{}
	old := slog.Default()
	slog.SetDefault(slog.New(h))
	m := mustMapper(t)
	slog.SetDefault(old)
	mapLine(t, m, "m:1|c|#le:1")
	if len(h.recs) != 1 || h.recs[0].Level != slog.LevelWarn {
		t.Fatalf("%d records in slog.Default()'s handler, want 1 warning", len(h.recs))
	}
}

func TestBadOptionErrorIsJoined(t *testing.T) {
	_, err := New(WithCacheSize(0), WithMaxTags(0))
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 2 {
		t.Fatalf("got %v, want two errors joined", err)
	}
}

func TestTagStatsPlusByReason(t *testing.T) {
	a := TagStats{Reserved: 1, Bare: 2, ValueTruncated: 3}
	b := TagStats{Reserved: 4, Conflict: 5, TooMany: 6, KeyTooLong: 7, Invalid: 8}
	got := a.Plus(b).ByReason()
	want := map[string]uint64{"reserved": 5, "conflict": 5, "invalid": 8, "bare": 2, "too_many": 6, "key_too_long": 7, "value_truncated": 3}
	if !maps.Equal(got, want) {
		t.Errorf("ByReason %v, want %v", got, want)
	}
	if got := (TagStats{}).ByReason(); len(got) != 0 {
		t.Errorf("zero stats: %v", got)
	}
}

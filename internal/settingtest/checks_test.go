package settingtest

import (
	"strings"
	"testing"
)

// The lines of promslog's two formats, as the programs write them.
const (
	jsonLine   = `{"time":"2026-12-07T12:02:47.143Z","level":"WARN","source":"limits.go:332","msg":"otelbridge: a limit dropped data","limit":"series_limit","count":1}`
	logfmtLine = `time=2026-12-07T12:02:47.143Z level=WARN source=limits.go:332 msg="otelbridge: a limit dropped data" limit=series_limit option=WithMaxSeries value=1 count=1 effect="new series in the overflow series (otel.metric.overflow=true)"`
)

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(*Observed) error
		log   []string
		ok    bool
	}{
		{"json", eachLine(jsonRecord), []string{jsonLine}, true},
		{"json, a logfmt line", eachLine(jsonRecord), []string{jsonLine, logfmtLine}, false},
		{"json, a plain line", eachLine(jsonRecord), []string{"2026/12/07 12:02:47 something"}, false},
		{"json without msg", eachLine(jsonRecord), []string{`{"level":"INFO"}`}, false},
		{"logfmt", eachLine(logfmtRecord), []string{logfmtLine}, true},
		{"logfmt, a JSON line", eachLine(logfmtRecord), []string{jsonLine}, false},
		{"logfmt, a plain line", eachLine(logfmtRecord), []string{"2026/12/07 12:02:47 something"}, false},
		{"logged json", logged("warn", limitMessage), []string{jsonLine}, true},
		{"logged logfmt", logged("warn", limitMessage), []string{logfmtLine}, true},
		{"logged at another level", logged("error", limitMessage), []string{jsonLine, logfmtLine}, false},
		{"level at least warn", eachLine(levelAtLeast("warn")), []string{jsonLine}, true},
		{"level at least error", eachLine(levelAtLeast("error")), []string{jsonLine}, false},
		{"series", series(Key("a.b", "k=v"), 2), nil, false},
		{"no series", noSeries(Key("a.b", "k=v")), nil, true},
	} {
		o := &Observed{Log: tc.log, Series: map[string]float64{}}
		if err := tc.check(o); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	o := &Observed{Series: map[string]float64{Key("a_b_total", "k=v"): 2}}
	if err := all(series(Key("a.b", "k=v"), 2), noSeries(Key("a.b"))); err(o) != nil {
		t.Errorf("all: %v", err(o))
	}
	if err := all(series(Key("a.b", "k=v"), 3), noSeries(Key("a.b", "k=v")))(o); err == nil || !strings.Contains(err.Error(), "; ") {
		t.Errorf("all of two failing checks: %v, want both", err)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// The differential test: the same datagrams sent to the real statsd_exporter
// v0.31.0 and to this program, with and without a mapping file; both scraped
// and compared sample by sample. Every sample statsd_exporter serves must be
// served identically (name, labels, value), and nothing more, except the
// differences listed below, each with its reason.

// statsdExporterModule is the statsd_exporter the program replaces.
const statsdExporterModule = "github.com/prometheus/statsd_exporter@v0.31.0"

// deliberate are the differences the README lists, by the families they touch
// (space-separated, on either side), one line each. Summaries served as
// histograms are handled by the comparison itself (summaryAsHistogram).
var deliberate = map[string]string{
	// A tag le (or quantile, __*) is left out of every series: on a histogram
	// it would break the exposition (statsd_exporter panics on it there), and
	// promtool refuses it elsewhere; statsd_exporter keeps it on a summary's
	// _sum and _count.
	"diff_api_latency": "mapper: reserved label names (le, quantile, __*) are left out of every series",
	// A timer sampled at 0.3 counts 1/0.3 observations, the fraction carried
	// to the next sample (3, 3, 4); statsd_exporter counts int(1/0.3) = 3
	// each time.
	"diff_sampled": "weights: sampled observations weigh 1/rate with the fraction carried",
	// A value that is not finite is rejected (reason bad_value):
	// statsd_exporter records NaN and Inf.
	"diff_nan diff_inf": "non-finite: NaN and Inf values are rejected",
	// A sample rate over 1 or negative rejects the line (reason
	// bad_sample_rate): statsd_exporter divides the counter by it. One that
	// is not a number, or 0, is read as 1 as there, under the default
	// --statsd.dialect=statsd_exporter (and counted as forgiven).
	"diff_bigrate": "rates: a sample rate over 1 (or negative) rejects the line, in both dialects",
	// A line may end with "\r\n": statsd_exporter rejects such a line ("c\r"
	// is not a type).
	"diff_multi_crlf": "CRLF: a '\\r' before the newline is not part of the line",
}

// profileFamilies are the families that differ when the built-in Gunicorn
// profile is on (no mapping file, no --no-gunicorn.profile): Gunicorn's own
// metrics under the profile's names here, generic names there. They are
// compared like every other family in the other cases.
var profileFamilies = strings.Fields(`
	gunicorn_requests_total gunicorn_responses_total gunicorn_request_duration_seconds gunicorn_workers gunicorn_log_messages_total
	gunicorn_requests gunicorn_request_status_200 gunicorn_request_status_404 gunicorn_request_duration
	shop_gunicorn_requests shop_gunicorn_request_status_200 shop_gunicorn_request_status_404 shop_gunicorn_request_duration
	shop_gunicorn_workers shop_gunicorn_log_critical
	shop_web_gunicorn_requests shop_web_gunicorn_request_status_200 shop_web_gunicorn_request_status_201
	shop_web_gunicorn_request_status_404 shop_web_gunicorn_request_status_500 shop_web_gunicorn_request_duration
	shop_web_gunicorn_workers shop_web_gunicorn_log_critical shop_web_gunicorn_log_exception shop_web_gunicorn_log_warning`)

// ownFamilies are the families of the programs' own telemetry, left out of the
// comparison.
var ownFamilies = []string{"go_", "process_", "promhttp_", "statsd_exporter_", "statsd_metric_mapper_", "gunicornotel_"}

// differentialTraffic is what both programs are sent, one datagram a string
// (several lines in some), in this order, followed by Gunicorn's.
var differentialTraffic = []string{
	// Counters, with sample rates and tags.
	"diff.orders.sold:1|c",
	"diff.orders.sold:2|c",
	"diff.orders.sold:3|c|@0.5",
	"diff.orders.sold:1|c|@0.1|#env:prod",
	// Gauges, with signs.
	"diff.temp:20|g", "diff.temp:+5|g", "diff.temp:-3|g", "diff.temp:2.5|g|@0.5", "diff.temp:+1.5|g",
	"diff.level:-4|g",
	"diff.level.set:10|g", "diff.level.set:-10|g", "diff.level.set:+0.5|g",
	// Timers, histograms, distributions.
	"diff.api.latency:12|ms", "diff.api.latency:8.5|ms|@0.1", "diff.api.latency:1500|ms|#route:/x",
	"diff.payload:512|h", "diff.payload:0.25|h|@0.5",
	"diff.dist:3|d", "diff.dist:-7.5|d",
	// A timer and a histogram of one name are one metric.
	"diff.mixed.obs:100|ms", "diff.mixed.obs:2|h",
	// Packed values.
	"diff.packed.ms:1:2:3|ms", "diff.packed.h:4:5|h|#env:prod", "diff.packed.d:6:7|d",
	// DogStatsD tags.
	"diff.tagged:1|c|#env:prod,team:web", "diff.tagged:1|c|#team:web,env:prod", "diff.tagged:1|c|#env:dev",
	"diff.tagkeys:1|c|#my-key:v,1st:w,dotted.key:x,a--b:y",
	"diff.emptyval:1|c|#env:", "diff.emptyval:2|c",
	"diff.tagcolon:1|c|#url:http://x:80/",
	// Malformed and bare tags.
	"diff.badtag:1|c|#:x,env:prod",
	"diff.bare:1|c|#env:prod,canary", "diff.bare:2|c|#env:prod",
	// The other tag formats.
	"diff.influx,env=prod,team=web:1|c",
	"diff.librato#env=prod:1|c",
	"diff.sfx[env=prod]:1|c",
	"diff.sfx.mid[env=prod].rest:1|c",
	"diff.mixedstyles,env=prod:1|c|#team:web",
	// Names that need escaping.
	"diff.name-with-dash:1|c", "diff.a--b---c:1|c", "diff.ünïcode:2|c", "diff/slash:1|c", "9lives.x:1|c",
	"diff.UPPER.Case:1|c", "diff_already_escaped:1|c", "diff.trailing.:1|c",
	// Several lines in one datagram.
	"diff.multi.a:1|c\ndiff.multi.b:2|g\ndiff.multi.c:3|ms",
	"diff.multi.crlf:1|c\r\ndiff.multi.crlf:2|c\n\n",
	"diff.multi.partial:1|c\nthis is not statsd\ndiff.multi.partial:2|c",
	// Container id and timestamp.
	"diff.cid:1|c|c:abc123", "diff.cid.tagged:1|c|#env:prod|c:abc123",
	"diff.ts:1|c|T1656581400",
	// Rejected, by both.
	"diff.set:user1|s", "diff.negative:-1|c", "diff.badtype:1|x", "diff.noval|c", ":1|c", "diff.badvalue:abc|c",
	// Rejected here, recorded there (deliberate).
	"diff.nan:NaN|g", "diff.inf:+Inf|g",
	"diff.bigrate:1|c|@2",
	// Read as statsd_exporter reads them (--statsd.dialect=statsd_exporter).
	"diff.badrate:1|c|@x", "diff.zerorate:1|c|@0", "diff.badts:1|c|#k:v|Tsoon",
	"diff.etsy:1|c:2|c|@0.5", "diff.etsy.mixed:1|c:250|ms", "diff.packed.counter:1:2|c",
	"diff.empty.section:1|c||#k:v", "diff.unknown.section:1|c|xext", "diff.cid.empty:1|c|#k:v|c:",
	// One name, two types: the first wins.
	"diff.conflict:1|c", "diff.conflict:2|g",
	// One name, two label sets.
	"diff.labelsets:1|c", "diff.labelsets:1|c|#env:prod",
	// Sampled timers, three times.
	"diff.sampled:1|ms|@0.3", "diff.sampled:1|ms|@0.3", "diff.sampled:1|ms|@0.3",
	// Names the mapping files below map.
	"diff.glob.shop.requests:1|c|#env:prod", "diff.glob.shop.requests:2|c", "diff.glob.api.requests:5|c",
	"diff.regex.checkout.latency:20|ms", "diff.regex.search.latency:40|ms|#env:prod",
	"diff.drop.this:1|c", "diff.drop.that:7|g",
	"diff.ttl.a:3|g",
	"diff.hist.a:0.05|h", "diff.hist.a:0.5|h", "diff.hist.b:5|ms",
	"diff.honor.x:1|c|#app:fromtag", "diff.override.x:1|c|#app:fromtag",
	"diff.typed.x:1|c", "diff.typed.x:1|g",
	"diff.scaled:4|g",
	"diff.summary.x:30|ms",
}

// gunicornTrafficFor returns Gunicorn's datagrams: the two real captures
// (no prefix; prefix shop.web with tags) and an emitter's with the prefix
// shop, which the mapping file of Gunicorn's documentation matches.
func gunicornTrafficFor(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range []string{fixture.PlainCapture, fixture.PrefixTagsCapture} {
		d, err := statsdtest.ReadCapture(fixture.CapturePath(name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d...)
	}
	sink := statsdtest.SinkFunc(func(d []byte) error { out = append(out, bytes.Clone(d)); return nil })
	em := statsdtest.NewEmitter(statsdtest.Config{Version: statsdtest.V(20, 1, 0), Prefix: "shop", Tags: "env:prod,team:web"}, sink)
	for _, err := range []error{
		em.Workers(2),
		em.Request(200, 20*time.Millisecond),
		em.Request(200, 300*time.Millisecond),
		em.Request(404, 2*time.Second),
		em.Log(statsdtest.LogCritical),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// ownMapping is a mapping file of this test's own, with what both programs
// load: globs, a regex, labels, drop, ttl, histogram options, honor_labels,
// match_metric_type, scale, defaults.
const ownMapping = `defaults:
  ttl: 1h
  observer_type: summary
mappings:
  - match: "diff.glob.*.requests"
    name: "diff_glob_requests"
    help: "Requests by app."
    labels:
      app: "$1"
  - match: 'diff\.regex\.(\w+)\.latency'
    match_type: regex
    name: "diff_regex_latency"
    labels:
      svc: "$1"
      kind: "regex"
  - match: "diff.drop.*"
    action: drop
    name: "dropped"
  - match: "diff.ttl.*"
    name: "diff_ttl"
    ttl: 30m
    labels:
      which: "$1"
  - match: "diff.hist.*"
    observer_type: histogram
    histogram_options:
      buckets: [0.01, 0.1, 1]
    name: "diff_hist"
    labels:
      which: "$1"
  - match: "diff.honor.*"
    name: "diff_honor"
    honor_labels: true
    labels:
      app: "fromrule"
  - match: "diff.override.*"
    name: "diff_override"
    labels:
      app: "fromrule"
  - match: "diff.typed.*"
    match_metric_type: gauge
    name: "diff_typed_gauge"
  - match: "diff.scaled"
    name: "diff_scaled"
    scale: 0.25
  - match: "diff.summary.*"
    name: "diff_summary"
`

// lenientMapping is a mapping file statsd_exporter v0.31.0 loads, with what
// it tolerates: $0, references to missing captures, an empty bucket list,
// YAML anchors and merge keys.
const lenientMapping = `defaults:
  histogram_options: &buckets
    buckets: [0.5, 1]
mappings:
  - match: "diff.glob.*.requests"
    name: "lenient_$0"
    labels:
      missing: "$3"
      whole: "$0"
  - match: "diff.hist.*"
    observer_type: histogram
    histogram_options:
      buckets: []
    name: "lenient_hist"
  - match: "diff.api.*"
    observer_type: histogram
    histogram_options: *buckets
    name: "lenient_api"
`

// differentialCases are the test's runs: the flags both programs get, the
// flags only this program gets, and the mapping file (none, a fixture, or one
// written from a constant).
var differentialCases = []struct {
	name    string
	ours    []string // flags for this program only
	mapping string   // "fixture:<name>" or the file's contents; "" for none
	profile bool     // the built-in Gunicorn profile is on: profileFamilies differ
	traffic []string // instead of differentialTraffic and Gunicorn's
}{
	{name: "no-mapping", profile: true},
	{name: "no-mapping-no-profile", ours: []string{"--no-gunicorn.profile"}},
	{name: "gunicorn-monitoring", mapping: "fixture:" + fixture.DemoMapping},
	{name: "own", mapping: ownMapping},
	{name: "lenient", mapping: lenientMapping},
	// Not sent: a tag le on a histogram's sample, or quantile on a summary's
	// (any timer's, by default), makes statsd_exporter v0.31.0 panic
	// ("x:1|ms|#quantile:y" ends the process); a tag __name__ makes its
	// /metrics answer 500 from then on.
	{name: "reserved-labels", traffic: []string{"diff.api.latency:12|ms|#le:evil", "diff.orders.sold:1|c"}},
}

func TestStatsdExporterDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs statsd_exporter")
	}
	bin := statsdExporterBinary(t)
	var allTraffic [][]byte
	for _, d := range differentialTraffic {
		allTraffic = append(allTraffic, []byte(d))
	}
	allTraffic = append(allTraffic, gunicornTrafficFor(t)...)
	used := map[string]bool{}
	for _, tc := range differentialCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var mappingArgs []string
			switch {
			case strings.HasPrefix(tc.mapping, "fixture:"):
				mappingArgs = []string{"--statsd.mapping-config=" + fixture.MappingPath(strings.TrimPrefix(tc.mapping, "fixture:"))}
			case tc.mapping != "":
				path := filepath.Join(dir, tc.name+".yml")
				must(t, os.WriteFile(path, []byte(tc.mapping), 0o644))
				mappingArgs = []string{"--statsd.mapping-config=" + path}
			}
			se := startStatsdExporter(t, bin, filepath.Join(dir, "se.sock"), mappingArgs)

			ourSock := filepath.Join(dir, "our.sock")
			args := append([]string{"--statsd.listen-udp=", "--statsd.listen-tcp=", "--statsd.listen-unixgram=" + ourSock,
				"--web.listen-address=127.0.0.1:0", "--log.level=warn"}, mappingArgs...)
			args = append(args, tc.ours...)
			ours := startRun(t, args...)

			traffic := allTraffic
			if tc.traffic != nil {
				traffic = nil
				for _, d := range tc.traffic {
					traffic = append(traffic, []byte(d))
				}
			}
			seFams, ourFams := sendBoth(t, se, ourSock, ours.url("/metrics"), traffic)
			diffs, agreed := compareExpositions(seFams, ourFams)
			if min := min(20, len(traffic)/4); agreed < min {
				t.Errorf("only %d families agree: is the traffic reaching both?", agreed)
			}
			for _, d := range diffs {
				if tc.profile && slices.Contains(profileFamilies, d.family) {
					t.Logf("%s (profile): %s", d.family, d.detail)
					continue
				}
				if key, reason := explain(d.family); key != "" {
					used[key] = true
					t.Logf("%s (%s): %s", d.family, reason, d.detail)
					continue
				}
				t.Errorf("%s differs: %s", d.family, d.detail)
			}
		})
	}
	if t.Failed() {
		return
	}
	for key, reason := range deliberate {
		if !used[key] {
			t.Errorf("%q (%s): no case differs any more: delete the entry", key, reason)
		}
	}
}

// explain returns the entry of deliberate that lists family, and its
// reason; "" when none does.
func explain(family string) (key, reason string) {
	for k, r := range deliberate {
		if slices.Contains(strings.Fields(k), family) {
			return k, r
		}
	}
	return "", ""
}

// io0 discards what is written to it.
type io0 struct{}

func (io0) Write(p []byte) (int, error) { return len(p), nil }

// statsdExporterBinary builds statsd_exporter v0.31.0 once per test binary,
// from the module proxy (or the module cache), and returns its path. It
// skips the test only when the build fails for want of network.
func statsdExporterBinary(t *testing.T) string {
	t.Helper()
	seOnce.Do(func() {
		dir, err := os.MkdirTemp("", "statsd_exporter-")
		if err != nil {
			seErr = err
			return
		}
		seDir = dir
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.Command(goTool, "install", statsdExporterModule)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOWORK=off", "GOFLAGS=-buildvcs=false")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			seErr = fmt.Errorf("go install %s: %w\n%s", statsdExporterModule, err, out)
			seOffline = offlineRE.Match(out)
			return
		}
		seBin = filepath.Join(dir, "statsd_exporter")
	})
	if seErr != nil {
		if seOffline {
			t.Skipf("statsd_exporter cannot be built without network: %v", seErr)
		}
		t.Fatal(seErr)
	}
	return seBin
}

var (
	seOnce    sync.Once
	seDir     string
	seBin     string
	seErr     error
	seOffline bool
	// offlineRE matches the go command's errors when the module proxy cannot
	// be reached.
	offlineRE = regexp.MustCompile(`dial tcp|no such host|connection refused|i/o timeout|network is unreachable|GOPROXY=off|proxyconnect|TLS handshake timeout`)
)

// seProcess is a running statsd_exporter.
type seProcess struct {
	sock string // its Unix datagram socket
	url  string // its /metrics
}

// startStatsdExporter runs statsd_exporter on a Unix datagram socket and a
// loopback web port, with extra flags, and returns once it is ready.
func startStatsdExporter(t *testing.T, bin, sock string, extra []string) seProcess {
	t.Helper()
	web := startListening(t, "statsd_exporter ready", 20*time.Second, func(web string) *exec.Cmd {
		// statsd_exporter refuses a socket file that exists, and one that
		// lost its web port exits leaving its file: remove it.
		if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		args := append([]string{"--statsd.listen-udp=", "--statsd.listen-tcp=", "--statsd.listen-unixgram=" + sock,
			"--web.listen-address=" + web, "--log.level=warn"}, extra...)
		return exec.Command(bin, args...)
	}, func(web string) error {
		if err := statsdExporterReady(web); err != nil {
			return err
		}
		_, err := os.Stat(sock)
		return err
	})
	p := seProcess{sock: sock, url: "http://" + web + "/metrics"}
	return p
}

// statsdExporterReady says whether the statsd_exporter serving web answers
// /-/ready with 200.
func statsdExporterReady(web string) error {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + web + "/-/ready")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errorf("/-/ready: %s", resp.Status)
	}
	return nil
}

// sendBoth sends traffic, then a sentinel, over unixgram to statsd_exporter
// (se) and to our daemon (ourSock, served at ourURL), and returns both
// expositions once each shows the sentinel.
func sendBoth(t *testing.T, se seProcess, ourSock, ourURL string, traffic [][]byte) (seFams, ourFams families) {
	t.Helper()
	for _, target := range []string{se.sock, ourSock} {
		sendUnixgram(t, target, traffic)
		sendUnixgram(t, target, [][]byte{[]byte("diff.sentinel:1|c")})
	}
	seFams = waitSentinel(t, se.url)
	ourFams, err := waitSentinelParsed(t, ourURL)
	must(t, err)
	return seFams, ourFams
}

// sendUnixgram sends each datagram to the Unix datagram socket at path. The
// sender waits rather than drop when the receiver lags.
func sendUnixgram(t *testing.T, path string, datagrams [][]byte) {
	t.Helper()
	conn, err := net.Dial("unixgram", path)
	must(t, err)
	defer conn.Close()
	for _, d := range datagrams {
		if _, err := conn.Write(d); err != nil {
			t.Fatalf("sending %q to %s: %v", d, path, err)
		}
	}
}

// waitSentinel scrapes url until diff_sentinel is 1 (everything sent before
// it has been handled: both programs handle a socket's datagrams in order),
// and returns that scrape.
func waitSentinel(t *testing.T, url string) families {
	t.Helper()
	var fams families
	waitFor(t, 20*time.Second, "diff_sentinel at "+url, func() error {
		body := scrapeText(t, url)
		p := expfmt.NewTextParser(model.UTF8Validation)
		var err error
		if fams, err = p.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
			return fmt.Errorf("parsing %s: %w", url, err)
		}
		if v := fams.values(t, "diff_sentinel", dto.MetricType_COUNTER)[""]; v != 1 {
			return errorf("diff_sentinel %v", v)
		}
		return nil
	})
	return fams
}

// waitSentinelParsed waits until url serves diff_sentinel 1, then parses
// that scrape, returning the parse error if it does not parse.
func waitSentinelParsed(t *testing.T, url string) (families, error) {
	t.Helper()
	var body []byte
	waitFor(t, 20*time.Second, "diff_sentinel at "+url, func() error {
		body = scrapeText(t, url)
		if !bytes.Contains(body, []byte("\ndiff_sentinel 1\n")) {
			return errorf("no diff_sentinel 1")
		}
		return nil
	})
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", url, err)
	}
	return fams, nil
}

// famDiff is a family that is not served alike.
type famDiff struct {
	family, detail string
}

// flatSamples returns a family's samples by name suffix and labels
// ("_sum{a=1}", "{a=1,quantile=0.5}", "_bucket{le=0.1}"), labels sorted and
// those with an empty value left out (Prometheus reads k="" as no k). Two
// series that are one for Prometheus (m{k=""} and m) are both kept, the
// second with " (duplicate)" after its key.
func flatSamples(fam *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	key := func(suffix string, m *dto.Metric, extra ...string) string {
		k := series(suffix, m, extra...)
		for {
			if _, dup := out[k]; !dup {
				return k
			}
			k += " (duplicate)"
		}
	}
	for _, m := range fam.GetMetric() {
		switch fam.GetType() {
		case dto.MetricType_COUNTER:
			out[key("", m)] = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			out[key("", m)] = m.GetGauge().GetValue()
		case dto.MetricType_UNTYPED:
			out[key("", m)] = m.GetUntyped().GetValue()
		case dto.MetricType_SUMMARY:
			s := m.GetSummary()
			out[key("_sum", m)] = s.GetSampleSum()
			out[key("_count", m)] = float64(s.GetSampleCount())
			for _, q := range s.GetQuantile() {
				out[key("", m, fmt.Sprintf("quantile=%v", q.GetQuantile()))] = q.GetValue()
			}
		case dto.MetricType_HISTOGRAM:
			h := m.GetHistogram()
			out[key("_sum", m)] = h.GetSampleSum()
			out[key("_count", m)] = float64(h.GetSampleCount())
			for _, b := range h.GetBucket() {
				out[key("_bucket", m, fmt.Sprintf("le=%v", b.GetUpperBound()))] = float64(b.GetCumulativeCount())
			}
		}
	}
	return out
}

// series returns a sample's key for flatSamples.
func series(suffix string, m *dto.Metric, extra ...string) string {
	var parts []string
	for _, lp := range m.GetLabel() {
		if lp.GetValue() != "" {
			parts = append(parts, lp.GetName()+"="+lp.GetValue())
		}
	}
	parts = append(parts, extra...)
	slices.Sort(parts)
	return suffix + "{" + strings.Join(parts, ",") + "}"
}

// summaryAsHistogram drops what only one side can have when statsd_exporter
// serves a summary and this program a histogram (the README's first
// deliberate difference): the quantile lines there, the buckets here.
func summaryAsHistogram(se, ours map[string]float64) {
	for k := range se {
		if strings.Contains(k, "quantile=") {
			delete(se, k)
		}
	}
	for k := range ours {
		if strings.HasPrefix(k, "_bucket{") {
			delete(ours, k)
		}
	}
}

// sameValue compares two sample values: equal, both NaN, or within a relative
// 1e-12 (statsd_exporter divides milliseconds by 1000, the bridge multiplies
// by 0.001).
func sameValue(a, b float64) bool {
	if a == b || math.IsNaN(a) && math.IsNaN(b) {
		return true
	}
	return math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}

// compareExpositions compares the traffic's families of two expositions and
// returns those that differ, and how many agree.
func compareExpositions(se, ours families) (diffs []famDiff, agreed int) {
	names := map[string]bool{}
	for _, f := range []families{se, ours} {
		for name := range f {
			if !slices.ContainsFunc(ownFamilies, func(p string) bool { return strings.HasPrefix(name, p) }) {
				names[name] = true
			}
		}
	}
	for _, name := range slices.Sorted(mapsKeys(names)) {
		sf, of := se[name], ours[name]
		switch {
		case sf == nil:
			diffs = append(diffs, famDiff{name, fmt.Sprintf("served only here: %v", flatSamples(of))})
			continue
		case of == nil:
			diffs = append(diffs, famDiff{name, fmt.Sprintf("served only by statsd_exporter: %v", flatSamples(sf))})
			continue
		}
		ss, os := flatSamples(sf), flatSamples(of)
		st, ot := sf.GetType(), of.GetType()
		if st == dto.MetricType_SUMMARY && ot == dto.MetricType_HISTOGRAM {
			summaryAsHistogram(ss, os)
		} else if st != ot {
			diffs = append(diffs, famDiff{name, fmt.Sprintf("type %v there, %v here", st, ot)})
			continue
		}
		var detail []string
		for _, k := range slices.Sorted(mapsKeys(ss)) {
			v, ok := os[k]
			switch {
			case !ok:
				detail = append(detail, fmt.Sprintf("%s%s %v there, missing here", name, k, ss[k]))
			case !sameValue(v, ss[k]):
				detail = append(detail, fmt.Sprintf("%s%s %v there, %v here", name, k, ss[k], v))
			}
		}
		for _, k := range slices.Sorted(mapsKeys(os)) {
			if _, ok := ss[k]; !ok {
				detail = append(detail, fmt.Sprintf("%s%s %v here, missing there", name, k, os[k]))
			}
		}
		if len(detail) > 0 {
			diffs = append(diffs, famDiff{name, strings.Join(detail, "; ")})
			continue
		}
		agreed++
	}
	return diffs, agreed
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestMain keeps the test process's memory limit (run would set it from
// --otel.max-memory) and removes the statsd_exporter the tests built.
func TestMain(m *testing.M) {
	setMemoryLimit = func(int64) int64 { return 0 }
	code := m.Run()
	if seDir != "" {
		os.RemoveAll(seDir)
	}
	os.Exit(code)
}

// TestStatsdExporterFlags checks that every flag statsd_exporter's usage lists
// is one of ours: the command lines it accepts are accepted here.
func TestStatsdExporterFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds statsd_exporter")
	}
	bin := statsdExporterBinary(t)
	out, err := exec.CommandContext(context.Background(), bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("statsd_exporter --help: %v\n%s", err, out)
	}
	var ours bytes.Buffer
	if _, err := parseFlags([]string{"--help"}, &ours, io0{}); err == nil {
		t.Fatal("--help: no errExit")
	}
	flagRE := regexp.MustCompile(`(?m)^\s+(?:-\w, )?--(\[no-\])?([a-z][a-z0-9.\-]*)`)
	theirs := flagRE.FindAllStringSubmatch(string(out), -1)
	if len(theirs) < 25 {
		t.Fatalf("only %d flags in statsd_exporter's usage:\n%s", len(theirs), out)
	}
	mine := map[string]bool{}
	for _, m := range flagRE.FindAllStringSubmatch(ours.String(), -1) {
		mine[m[1]+m[2]] = true
	}
	for _, m := range theirs {
		if !mine[m[1]+m[2]] {
			t.Errorf("statsd_exporter's --%s%s is not a flag here (or not a boolean alike)", m[1], m[2])
		}
	}
}

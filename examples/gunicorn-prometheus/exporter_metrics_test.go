package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gunicornotel/gunicornotel/statsd"
)

// TestSECounts: the counts statsd_exporter's names need, on parsed
// datagrams: a packed line is one line, a sample with a valid tag is
// labelled, tags without a value are errors, rejected lines by
// statsd_exporter's reasons, in the dialect the daemon parses in by default
// (a multi-metric line is one line; a rate it cannot read is a sample error
// of a sample kept).
func TestSECounts(t *testing.T) {
	p := statsd.Parser{RejectMixedTags: true, Dialect: statsd.DialectStatsdExporter}
	c := &seCounts{next: handlerFunc(func(*statsd.Batch) {})}
	var b statsd.Batch
	for _, d := range []string{
		"a:1|c",
		"p:1:2:3|ms|#env:prod",         // 1 line, 3 samples, 3 labelled
		"t:1|c|#env:prod,canary,team:", // 2 tag errors, labelled
		"u:1|c|#canary",                // 1 tag error, not labelled
		"v:1|c|#:x",                    // the parser's tag error
		"nocolon\nx:1\nx:abc|c\nx:1|zz\nx,a=b:1|c|#c:d\n:1|c",
		"e:1|c:x|c\nr:2|c|@bad\nz:2|c|@0\nk:1:2|c\nq:1|c|xext\nw:1|c|#k:v|c:",
	} {
		b.Reset()
		p.Parse(&b, []byte(d))
		c.Handle(&b)
	}
	got := map[string]uint64{
		"lines": c.lines.Load(), "samples": c.samples.Load(), "tagged": c.tagged.Load(),
		"tagErrors": c.tagErrors.Load(), "sampleErrs": c.sampleErrs.Load(), "batches": c.batches.Load(),
	}
	for r := range c.errs {
		if v := c.errs[r].Load(); v != 0 {
			got[seReasonNames[r]] = v
		}
	}
	want := map[string]uint64{
		"lines": 17, "samples": 10, "tagged": 4, "tagErrors": 4, "sampleErrs": 5, "batches": 7,
		"malformed_line": 2, "not_enough_parts_after_colon": 1, "malformed_value": 2, "illegal_event": 1,
		"mixed_tagging_styles": 1, "invalid_sample_factor": 2, "invalid_extended_aggregate_type": 1, "malformed_container_id": 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts\n got %v\nwant %v", got, want)
	}
}

type handlerFunc func(*statsd.Batch)

func (f handlerFunc) Handle(b *statsd.Batch) { f(b) }

// TestTelemetryNames: --telemetry.names serves both name sets by default,
// and either alone on request; Gunicorn's own metrics stay in every case.
func TestTelemetryNames(t *testing.T) {
	for _, tc := range []struct {
		flag          string
		ours, theirs  bool
		extraFamilies []string
	}{
		{"", true, true, []string{"statsd_exporter_build_info"}},
		{"--telemetry.names=statsd_exporter", false, true, []string{"statsd_exporter_build_info"}},
		{"--telemetry.names=gunicornotel", true, false, nil},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			var args []string
			if tc.flag != "" {
				args = append(args, tc.flag)
			}
			r := startRun(t, loopback(append(args, "--log.level=warn")...)...)
			conn, err := net.Dial("udp", r.addrs.UDP)
			must(t, err)
			_, err = conn.Write([]byte("shop.gunicorn.requests:1|c"))
			must(t, err)
			conn.Close()
			var fams families
			waitFor(t, 10*time.Second, "gunicorn_requests_total", func() error {
				fams = scrape(t, r.url("/metrics"))
				if fams["gunicorn_requests_total"] == nil {
					return errorf("no gunicorn_requests_total")
				}
				return nil
			})
			hasPrefix := func(p string) bool {
				return slices.ContainsFunc(fams.names(), func(n string) bool { return strings.HasPrefix(n, p) })
			}
			if got := hasPrefix("gunicornotel_"); got != tc.ours {
				t.Errorf("gunicornotel_* served: %v, want %v", got, tc.ours)
			}
			if got := hasPrefix("statsd_exporter_"); got != tc.theirs {
				t.Errorf("statsd_exporter_* served: %v, want %v", got, tc.theirs)
			}
			for _, f := range tc.extraFamilies {
				if fams[f] == nil {
					t.Errorf("no %s", f)
				}
			}
			if v := fams.values(t, "statsd_exporter_samples_total", dto.MetricType_COUNTER)[""]; tc.theirs && v != 1 {
				t.Errorf("statsd_exporter_samples_total %v, want 1", v)
			}
		})
	}
}

// seExceptions are the statsd_exporter_* and statsd_metric_mapper_* series
// (by family) that TestStatsdExporterOwnMetrics lets differ, and why (the
// README's table says the same). Every other series statsd_exporter serves
// must be served here with the same labels and value.
var seExceptions = map[string]struct {
	what   string // "absent": not served; "labels": other label values; "value": another value
	reason string
}{
	"statsd_exporter_metrics_total":             {"absent", "the bridge counts its instruments, not by type"},
	"statsd_exporter_events_unmapped_total":     {"absent", "with mapping rules, the bridge does not count samples by whether a rule matched"},
	"statsd_exporter_events_actions_total":      {"labels", `action="map" is not served, for the same reason; action="drop" is`},
	"statsd_exporter_events_conflict_total":     {"labels", "the bridge counts type conflicts without their type and metric name: one series, both labels empty"},
	"statsd_exporter_events_total":              {"value", "the bridge does not count recorded samples by type: samples dropped by a rule or rejected as a type conflict are counted in their type here; a sampled observation counts once here, int(1/rate) times there"},
	"statsd_exporter_event_queue_flushed_total": {"value", "no event queue: the batches handed to the bridge"},
	"statsd_metric_mapper_cache_gets_total":     {"value", "the series table, looked up once per sample: statsd_exporter looks up once per observation of a sampled timer"},
	"statsd_metric_mapper_cache_hits_total":     {"value", "the series table: keyed by tags too, and emptied by a reload"},
	"statsd_metric_mapper_cache_length":         {"value", "the series tracked, not (name, type) entries"},
	"statsd_exporter_relay_lines_relayed_total": {"value", "only valid lines are relayed here; statsd_exporter relays every non-empty line"},
	"statsd_exporter_relay_packets_total":       {"value", "datagrams are filled and sent on another schedule (statsd_exporter: every second, or when full)"},
}

// seAfterTCP are the exceptions once a TCP connection has been accepted.
var seAfterTCP = map[string]string{
	"statsd_exporter_udp_packets_total": "the server counts UDP datagrams and TCP lines together: not served once a TCP connection was accepted",
}

// seFamilies returns the series of statsd_exporter's own families (by
// family, then labelKey) in fams.
func seFamilies(fams families) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for name, fam := range fams {
		if !strings.HasPrefix(name, "statsd_exporter_") && !strings.HasPrefix(name, "statsd_metric_mapper_") {
			continue
		}
		s := map[string]float64{}
		for _, m := range fam.GetMetric() {
			var v float64
			switch fam.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			}
			var parts []string
			for _, lp := range m.GetLabel() {
				if lp.GetValue() != "" { // Prometheus reads k="" as no k
					parts = append(parts, lp.GetName()+"="+lp.GetValue())
				}
			}
			slices.Sort(parts)
			s[strings.Join(parts, ",")] = v
		}
		out[name+" "+fam.GetType().String()] = s
	}
	return out
}

// compareSE checks that every statsd_exporter_* series of se is in ours,
// with the same labels and value, but for the exceptions; it returns the
// exceptions that were needed.
func compareSE(t *testing.T, phase string, se, ours families, afterTCP bool) map[string]bool {
	t.Helper()
	used := map[string]bool{}
	theirs, here := seFamilies(se), seFamilies(ours)
	for _, key := range slices.Sorted(mapsKeys(theirs)) {
		family, _, _ := strings.Cut(key, " ")
		exc, excepted := seExceptions[family]
		if family == "statsd_exporter_build_info" {
			continue // checked by the caller
		}
		if r, ok := seAfterTCP[family]; ok && afterTCP {
			exc, excepted = struct{ what, reason string }{"absent", r}, true
		}
		ss, os := theirs[key], here[key]
		if os == nil {
			if excepted && exc.what == "absent" {
				used[family] = true
				t.Logf("%s: %s not served (%s)", phase, family, exc.reason)
				continue
			}
			t.Errorf("%s: %s not served here (statsd_exporter: %v); here: %v", phase, key, ss, slices.Sorted(mapsKeys(here)))
			continue
		}
		for _, lk := range slices.Sorted(mapsKeys(ss)) {
			v, ok := os[lk]
			switch {
			case !ok && excepted && exc.what != "value":
				used[family] = true
				t.Logf("%s: %s{%s} %v there, not here (%s); here: %v", phase, family, lk, ss[lk], exc.reason, os)
			case !ok:
				t.Errorf("%s: %s{%s} %v there, missing here; here: %v", phase, family, lk, ss[lk], os)
			case v != ss[lk] && excepted:
				used[family] = true
				t.Logf("%s: %s{%s} %v there, %v here (%s)", phase, family, lk, ss[lk], v, exc.reason)
			case v != ss[lk]:
				t.Errorf("%s: %s{%s} %v there, %v here", phase, family, lk, ss[lk], v)
			}
		}
	}
	return used
}

// seMapping is the mapping file of TestStatsdExporterOwnMetrics, and what it
// is rewritten to before the reload.
const (
	seMapping = `mappings:
- match: "app.*.hits"
  name: "app_hits"
  labels:
    svc: "$1"
- match: "drop.*"
  action: drop
  name: "dropped"
`
	seMappingReloaded = seMapping + `- match: "app.*.misses"
  name: "app_misses"
  labels:
    svc: "$1"
`
)

// seTraffic is what TestStatsdExporterOwnMetrics sends both programs over
// UDP, a datagram a string: good lines of every type, tags good and bad,
// lines both reject, a drop rule, a type conflict, a negative counter, a set.
var seTraffic = []string{
	"app.web.hits:1|c", "app.web.hits:2|c", "app.api.hits:1|c|@0.5",
	"plain.counter:1|c", "plain.timer:7|ms|@0.5", "plain.gauge:5|g", "plain.gauge:+2|g", "plain.timer:12|ms", "plain.hist:3|h", "plain.dist:4|d",
	"packed.timer:1:2:3|ms",
	"two.lines:1|c\ntwo.lines:2|c",
	"tagged:1|c|#env:prod,team:web", "tagged:1|c|#env:dev", "influx,env=prod:1|c", "librato#env=prod:1|c", "sfx[env=prod]:1|c",
	"badtag:1|c|#:x,env:prod", "bare:1|c|#env:prod,canary", "emptyval:1|c|#env:", "onlybare:1|c|#canary",
	"drop.me:1|c", "drop.me.too:5|g",
	"conf.x:1|c", "conf.x:1|g",
	"neg.counter:-1|c",
	"a.set:member|s",
	// Read as statsd_exporter reads them (--statsd.dialect=statsd_exporter):
	// lenient rates and timestamps, multi-metric lines, container ids; and
	// what it refuses that the default dialect reads.
	"lenient.rate:2|c|@bad", "lenient.zero:2|c|@0", "lenient.ts:1|c|#k:v|Tsoon", "etsy:1|c:2|c|@0.5", "etsy.bad:1|c:x|c",
	"cid:1|c|#k:v|c:abc", "packed.counter:1:2|c", "empty.section:1|c||#k:v", "unknown.section:1|c|xext", "cid.empty:1|c|#k:v|c:",
	// Rejected by both.
	"nocolon", "x.parts:1", "x.value:abc|c", "x.type:1|zz", "x.mixed,a=b:1|c|#c:d", ":1|c", "bad.utf8\xff:1|c",
}

// TestStatsdExporterOwnMetrics runs statsd_exporter v0.31.0 and the daemon
// on the same traffic (UDP, bad lines included; a mapping file reloaded
// once well and once not; then a TCP connection) and checks after each
// phase that every statsd_exporter_* series statsd_exporter serves is
// served here with the same labels and value, but for seExceptions.
func TestStatsdExporterOwnMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs statsd_exporter")
	}
	bin := statsdExporterBinary(t)
	dir := t.TempDir()
	mapping := filepath.Join(dir, "mapping.yml")
	must(t, os.WriteFile(mapping, []byte(seMapping), 0o644))
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	must(t, err)
	defer sink.Close()
	go func() { // keep the relay target's buffer empty
		buf := make([]byte, 65536)
		for {
			if _, _, err := sink.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	common := []string{"--statsd.mapping-config=" + mapping, "--web.enable-lifecycle", "--log.level=warn",
		"--statsd.relay.address=" + sink.LocalAddr().String()}

	var seStatsd string
	seWeb := startListening(t, "statsd_exporter ready", 20*time.Second, func(web string) *exec.Cmd {
		seStatsd = freePort(t)
		args := append([]string{"--statsd.listen-udp=" + seStatsd, "--statsd.listen-tcp=" + seStatsd,
			"--web.listen-address=" + web}, common...)
		return exec.Command(bin, args...)
	}, statsdExporterReady)
	ours := startRun(t, append([]string{"--statsd.listen-udp=127.0.0.1:0", "--statsd.listen-tcp=127.0.0.1:0",
		"--web.listen-address=127.0.0.1:0"}, common...)...)
	seURL, ourURL := "http://"+seWeb, ours.url("")

	udp := func(addr string, datagrams []string) {
		conn, err := net.Dial("udp", addr)
		must(t, err)
		defer conn.Close()
		for _, d := range datagrams {
			_, err := conn.Write([]byte(d))
			must(t, err)
			time.Sleep(200 * time.Microsecond) // no drops on a busy machine
		}
	}
	sentinel := 0
	both := func(send func(addr string)) (se, here families) {
		sentinel++
		send(seStatsd)
		send(ours.addrs.UDP)
		return waitSentinelValue(t, seURL+"/metrics", sentinel), waitSentinelValue(t, ourURL+"/metrics", sentinel)
	}
	used := map[string]bool{}
	record := func(u map[string]bool) {
		for k := range u {
			used[k] = true
		}
	}

	// 1. UDP traffic under the first mapping file.
	se, here := both(func(addr string) { udp(addr, append(seTraffic, "diff.sentinel:1|c")) })
	record(compareSE(t, "udp", se, here, false))

	// 2. A reload with one more rule, then one of a broken file (the rules
	// in use are kept), then traffic for the new rule.
	reload := func() {
		for _, u := range []string{seURL, ourURL} {
			resp, err := http.Post(u+"/-/reload", "text/plain", nil)
			must(t, err)
			resp.Body.Close()
		}
	}
	must(t, os.WriteFile(mapping, []byte(seMappingReloaded), 0o644))
	reload()
	must(t, os.WriteFile(mapping, []byte("mappings: [\n"), 0o644))
	reload()
	se, here = both(func(addr string) {
		udp(addr, []string{"app.web.misses:1|c", "app.web.hits:1|c", "x.value:abc|c", "diff.sentinel:1|c"})
	})
	record(compareSE(t, "reload", se, here, false))
	for _, fams := range []families{se, here} {
		if got := fams.values(t, "statsd_exporter_config_reloads_total", dto.MetricType_COUNTER); fmt.Sprint(got) != "map[outcome=failure:1 outcome=success:1]" {
			t.Errorf("statsd_exporter_config_reloads_total %v", got)
		}
		if got := fams.values(t, "statsd_exporter_loaded_mappings", dto.MetricType_GAUGE)[""]; got != 3 {
			t.Errorf("statsd_exporter_loaded_mappings %v, want 3", got)
		}
	}

	// 3. A TCP connection: lines, then the sentinel.
	ourTCP := ours.addrs.TCP
	se, here = both(func(addr string) {
		if addr == ours.addrs.UDP {
			addr = ourTCP
		}
		conn, err := net.Dial("tcp", addr)
		must(t, err)
		_, err = conn.Write([]byte("tcp.counter:1|c\ntcp.gauge:2|g\nx.type:1|zz\ndiff.sentinel:1|c\n"))
		must(t, err)
		must(t, conn.Close())
	})
	record(compareSE(t, "tcp", se, here, true))
	if got := here.values(t, "statsd_exporter_tcp_connections_total", dto.MetricType_COUNTER)[""]; got != 1 {
		t.Errorf("statsd_exporter_tcp_connections_total %v here, want 1", got)
	}
	// statsd_exporter_build_info: the labels of this program's build; the
	// same as statsd_exporter's only for two builds without version
	// information by one Go.
	for _, fams := range []families{se, here} {
		if fams["statsd_exporter_build_info"] == nil {
			t.Error("no statsd_exporter_build_info")
		}
	}
	if t.Failed() {
		return
	}
	for family, exc := range seExceptions {
		if !used[family] {
			t.Errorf("%s (%s): no phase differs any more: delete the exception", family, exc.reason)
		}
	}
}

// waitSentinelValue scrapes url until diff_sentinel is want, and returns
// that scrape.
func waitSentinelValue(t *testing.T, url string, want int) families {
	t.Helper()
	var fams families
	waitFor(t, 20*time.Second, fmt.Sprintf("diff_sentinel %d at %s", want, url), func() error {
		body := scrapeText(t, url)
		p := expfmt.NewTextParser(model.UTF8Validation)
		var err error
		if fams, err = p.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
			return fmt.Errorf("parsing %s: %w", url, err)
		}
		if v := fams.values(t, "diff_sentinel", dto.MetricType_COUNTER)[""]; v != float64(want) {
			return errorf("diff_sentinel %v", v)
		}
		return nil
	})
	return fams
}

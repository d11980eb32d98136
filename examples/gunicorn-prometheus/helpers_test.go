package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes: the program logs
// from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loopbackArgs are the flags that keep a test's listeners on 127.0.0.1 with
// ports the system chooses; TCP StatsD is on too.
var loopbackArgs = []string{
	"--statsd.listen-udp=127.0.0.1:0",
	"--statsd.listen-tcp=127.0.0.1:0",
	"--web.listen-address=127.0.0.1:0",
	"--log.level=debug",
}

// loopback returns loopbackArgs with extra after them, a flag of extra
// replacing the one of the same name in loopbackArgs: kingpin, as
// statsd_exporter, refuses a flag given twice. Flags are in the --name=value
// form.
func loopback(extra ...string) []string {
	name := func(f string) string { n, _, _ := strings.Cut(f, "="); return n }
	var out []string
	for _, f := range loopbackArgs {
		if !slices.ContainsFunc(extra, func(e string) bool { return name(e) == name(f) }) {
			out = append(out, f)
		}
	}
	return append(out, extra...)
}

// running is a program started in-process by startRun.
type running struct {
	addrs  listenAddrs
	stdout *syncBuffer
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// stop cancels the program and returns what run returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return within 20s of its context ending")
		return nil
	}
}

// url returns the address of path on the program's web server.
func (r *running) url(path string) string { return "http://" + r.addrs.Web + path }

// startRun starts run(ctx, args) in a goroutine and returns once it called
// ready. It stops the program at the end of the test and logs its output if
// the test failed.
func startRun(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: new(syncBuffer), logs: new(syncBuffer), cancel: cancel, done: make(chan error, 1)}
	readyc := make(chan listenAddrs, 1)
	go func() {
		r.done <- run(ctx, args, r.stdout, r.logs, func(a listenAddrs) { readyc <- a })
	}()
	select {
	case r.addrs = <-readyc:
	case err := <-r.done:
		cancel()
		t.Fatalf("run returned before it was ready: %v\nlogs:\n%s", err, r.logs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("run not ready within 10s\nlogs:\n%s", r.logs)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Error("run did not return within 20s")
		}
		if t.Failed() {
			t.Logf("program logs:\n%s", r.logs)
		}
	})
	return r
}

// get GETs url and returns the status code and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// scrapeText GETs url in the classic text exposition format and returns
// the raw bytes.
func scrapeText(t *testing.T, url string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return body
}

// families is a parsed exposition, by metric family name.
type families map[string]*dto.MetricFamily

// scrape GETs url and parses it with expfmt.
func scrape(t *testing.T, url string) families {
	t.Helper()
	body := scrapeText(t, url)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing %s: %v\n%s", url, err, body)
	}
	return fams
}

// labelKey renders a metric's labels as "k=v,k=v", sorted, leaving out le.
func labelKey(m *dto.Metric) string {
	var parts []string
	for _, lp := range m.GetLabel() {
		if lp.GetName() == "le" {
			continue
		}
		parts = append(parts, lp.GetName()+"="+lp.GetValue())
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// values returns the series of a counter or gauge family by labelKey, or nil
// when the family does not exist. It fails the test when the family has
// another type.
func (f families) values(t *testing.T, name string, typ dto.MetricType) map[string]float64 {
	t.Helper()
	fam, ok := f[name]
	if !ok {
		return nil
	}
	if fam.GetType() != typ {
		t.Fatalf("%s: type %v, want %v", name, fam.GetType(), typ)
	}
	out := make(map[string]float64)
	for _, m := range fam.GetMetric() {
		switch typ {
		case dto.MetricType_COUNTER:
			out[labelKey(m)] = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			out[labelKey(m)] = m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			out[labelKey(m)] = float64(m.GetHistogram().GetSampleCount())
		case dto.MetricType_SUMMARY:
			out[labelKey(m)] = float64(m.GetSummary().GetSampleCount())
		default:
			t.Fatalf("%s: type %v", name, typ)
		}
	}
	return out
}

// names returns the family names, sorted, for failure messages.
func (f families) names() []string {
	var out []string
	for n := range f {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// sum adds up a map's values.
func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// equalSeries fails the test unless got and want hold the same series.
func equalSeries(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	if !mapsEqual(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// waitFor calls cond until it returns nil or timeout passes, then fails the
// test with cond's last error. It returns how long it took.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	delay := 10 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(delay)
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// freePort returns a TCP address on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// errorf is fmt.Errorf, short for the conditions of waitFor.
var errorf = fmt.Errorf

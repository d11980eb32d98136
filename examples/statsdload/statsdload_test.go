package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gunicornotel/gunicornotel/statsd/statsdtest"
)

// wantDatagrams returns the first n datagrams of a run without extras,
// made afresh by the statsdtest Emitter.
func wantDatagrams(prefix, tags string, n int) [][]byte {
	e := statsdtest.NewEmitter(statsdtest.Config{Prefix: prefix, Tags: tags}, nil)
	statuses := statusCycle()
	var out, dst [][]byte
	for i := 0; len(out) < n; i++ {
		j := i % poolRequests
		dst = e.AppendRequest(dst[:0], statuses[j%len(statuses)], requestDuration(j))
		for _, d := range dst {
			out = append(out, append([]byte(nil), d...))
		}
	}
	return out[:n]
}

// receiveAll reads datagrams from c until it has want of them or quiet
// passes without one; it returns copies.
func receiveAll(t *testing.T, c net.PacketConn, want int, quiet time.Duration) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 65536)
	for len(got) < want {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			break
		}
		got = append(got, append([]byte(nil), buf[:n]...))
	}
	// Nothing more may come.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _, err := c.ReadFrom(buf); err == nil {
		t.Errorf("a datagram beyond the %d expected: %q", want, buf[:n])
	}
	return got
}

// listenAll listens on network ("udp" on loopback, or "unixgram" in
// t.TempDir()) for the test to read, closed when the test ends, and returns
// the socket and the tool's -target for it. Every one of n datagrams must
// arrive: over UDP the receive buffer must hold them all, however late the
// test's reader runs (a unixgram sender waits instead), or the test skips.
func listenAll(t *testing.T, network string, n int) (net.PacketConn, string) {
	t.Helper()
	if network == "unixgram" {
		path := filepath.Join(t.TempDir(), "s.sock")
		ln, err := net.ListenPacket("unixgram", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln, "unixgram://" + path
	}
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if holds := udpHolds(t, ln, 16<<20); holds < n {
		t.Skipf("the UDP receive buffer surely holds %d datagrams, not %d: loopback may drop some", holds, n)
	}
	return ln, "udp://" + ln.LocalAddr().String()
}

// TestSendCountsWhatItSends sends over UDP and unixgram to sockets the test
// reads, and checks that the tool's counts are exact and every datagram is
// byte for byte what the statsdtest Emitter writes.
func TestSendCountsWhatItSends(t *testing.T) {
	for _, network := range []string{"udp", "unixgram"} {
		t.Run(network, func(t *testing.T) {
			ln, target := listenAll(t, network, 3003)

			const count = 3001 // rounded up to 1001 requests
			const prefix, tags = "shop.web", "env:prod"
			var got [][]byte
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				got = receiveAll(t, ln, 3003, 2*time.Second)
			}()
			w, err := dialTarget(target, 16)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			tr := newTraffic(prefix, tags, extraNone, 1)
			// Paced well under what a reading test keeps up with, in
			// batches of 16.
			res := send(context.Background(), w, tr, sendPlan{count: count, rate: 30_000, batch: 16})
			wg.Wait()
			if res.Datagrams != 3003 || res.Requests != 1001 || res.Errors != 0 {
				t.Fatalf("sent %d datagrams, %d requests, %d errors (%v); want 3003, 1001, 0",
					res.Datagrams, res.Requests, res.Errors, res.FirstErr)
			}
			want := wantDatagrams(prefix, tags, 3003)
			if len(got) != len(want) {
				t.Fatalf("received %d datagrams, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("datagram %d: got %q, want %q", i, got[i], want[i])
				}
			}
			if !bytes.HasPrefix(got[1], []byte("shop.web.gunicorn.requests:1|c|@1.0|#env:prod")) {
				t.Errorf("datagram 1 = %q, want the requests counter", got[1])
			}
		})
	}
}

// TestSendDuration checks a timed run ends on a whole request and is
// paced near the rate asked.
func TestSendDuration(t *testing.T) {
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := ln.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	w, err := dialTarget("udp://"+ln.LocalAddr().String(), 64)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	res := send(context.Background(), w, newTraffic("", "", extraNone, 1),
		sendPlan{duration: 500 * time.Millisecond, rate: 20_000, batch: 64})
	if res.Datagrams%3 != 0 || res.Requests != res.Datagrams/3 {
		t.Errorf("sent %d datagrams, %d requests: not whole requests", res.Datagrams, res.Requests)
	}
	// 10,000 at the rate asked; a loaded machine may fall behind, never ahead.
	if res.Datagrams > 10_000+64+3 || res.Datagrams < 2_000 {
		t.Errorf("sent %d datagrams in %v at 20,000/s", res.Datagrams, res.Elapsed)
	}
}

func TestTrafficExtras(t *testing.T) {
	names := newTraffic("app", "", extraNames, 1000)
	batch := make([][]byte, 12)
	names.fill(batch, 0)
	for i, want := range map[int]string{
		1:  "app.gunicorn.requests:1|c|@1.0",
		3:  "app.statsdload.distinct.0:1|c",
		7:  "app.statsdload.distinct.1:1|c",
		11: "app.statsdload.distinct.2:1|c",
	} {
		if string(batch[i]) != want {
			t.Errorf("names datagram %d = %q, want %q", i, batch[i], want)
		}
	}
	names.fill(batch[:1], 4*1000+3) // the index cycles
	if string(batch[0]) != "app.statsdload.distinct.0:1|c" {
		t.Errorf("datagram 4003 = %q", batch[0])
	}
	tags := newTraffic("", "env:prod", extraTags, 5)
	tags.fill(batch[:8], 0)
	if got, want := string(batch[7]), "statsdload.tagged:1|c|#env:prod,statsdload_id:1"; got != want {
		t.Errorf("tags datagram 7 = %q, want %q", got, want)
	}
	// requestsIn agrees with isRequests everywhere.
	for _, tr := range []*traffic{names, newTraffic("", "", extraNone, 1)} {
		for from := int64(0); from < 20; from++ {
			for n := int64(0); n < 20; n++ {
				var brute int64
				for i := from; i < from+n; i++ {
					if tr.isRequests(i) {
						brute++
					}
				}
				if got := tr.requestsIn(from, n); got != brute {
					t.Fatalf("unit %d: requestsIn(%d, %d) = %d, want %d", tr.unit, from, n, got, brute)
				}
			}
		}
	}
}

// exposition is a fixed Prometheus text exposition: the request counter in
// three series (one the SDK's overflow series), statsd_exporter's name
// without _total, a histogram and the Go collector's goroutines.
const exposition = `# HELP gunicorn_requests_total Requests.
# TYPE gunicorn_requests_total counter
gunicorn_requests_total{app="shop.web"} 1234
gunicorn_requests_total{app="shop.api"} 1000.5
gunicorn_requests_total{otel_metric_overflow="true"} 65.5
# HELP myapp_gunicorn_requests Requests, as statsd_exporter names them.
# TYPE myapp_gunicorn_requests counter
myapp_gunicorn_requests 42
# HELP gunicorn_request_duration_seconds Durations.
# TYPE gunicorn_request_duration_seconds histogram
gunicorn_request_duration_seconds_bucket{le="0.1"} 5
gunicorn_request_duration_seconds_bucket{le="+Inf"} 7
gunicorn_request_duration_seconds_sum 1.5
gunicorn_request_duration_seconds_count 7
# HELP gunicornotel_samples_rejected_total Rejected.
# TYPE gunicornotel_samples_rejected_total counter
gunicornotel_samples_rejected_total{reason="name_limit"} 998
gunicornotel_samples_rejected_total{reason="bad_value"} 2
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 17
`

func TestReadsExposition(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprint(w, exposition)
	}))
	defer srv.Close()
	sc := newScraper(srv.URL + "/metrics")
	ctx := context.Background()
	mf, err := sc.families(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		want float64
		ok   bool
	}{
		{"gunicorn_requests_total", 2300, true},
		{"gunicorn_requests", 2300, true},
		{"myapp_gunicorn_requests", 42, true},
		{"myapp_gunicorn_requests_total", 42, true},
		{"gunicorn_request_duration_seconds", 7, true},
		{"go_goroutines", 17, true},
		{"nothing_total", 0, false},
	} {
		got, ok := sumMetric(mf, c.name)
		if got != c.want || ok != c.ok {
			t.Errorf("sumMetric(%s) = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
	if got := sumWhere(mf, "gunicornotel_samples_rejected_total", "reason", "name_limit"); got != 998 {
		t.Errorf("name_limit rejections = %v, want 998", got)
	}
	// settle returns at once when the counter is already at the value
	// wanted (not after its quiet time), and after the quiet time (not at
	// its deadline) when it never gets there. The bounds are settle's own
	// times, not a guess at how fast a loaded machine scrapes.
	start := time.Now()
	if v, err := sc.settle(ctx, "gunicorn_requests_total", 2300, 20*time.Second, 40*time.Second); err != nil || v != 2300 {
		t.Errorf("settle = %v, %v; want 2300", v, err)
	}
	if d := time.Since(start); d >= 20*time.Second {
		t.Errorf("settling on a counter already at the value took %v: it waited for the quiet time", d)
	}
	start = time.Now()
	if v, err := sc.settle(ctx, "gunicorn_requests_total", 9999, 300*time.Millisecond, 20*time.Second); err != nil || v != 2300 {
		t.Errorf("settle = %v, %v; want 2300", v, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d >= 20*time.Second {
		t.Errorf("settling on a counter that never gets there took %v, want the quiet time (300ms) or a little more", d)
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer bad.Close()
	if _, err := newScraper(bad.URL).families(ctx); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("scraping a 503: err = %v", err)
	}
}

// TestProc reads a fake /proc tree whose command name holds spaces and
// parentheses, even ") ", then this process's own entries.
func TestProc(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "4242")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := "4242 (gunicorn (prom) x) S y) R 1 4242 4242 0 -1 4194560 2000 0 3 0 1234 567 8 9 20 0 12 0 " +
		"100 123456789 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	status := "Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t12\n"
	for name, data := range map[string]string{"stat": stat, "status": status} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := procRoot
	procRoot = root
	t.Cleanup(func() { procRoot = old })

	// utime 1234 + stime 567 ticks of 10 ms; the children's 8 + 9 do not count.
	if cpu, err := procCPU(4242); err != nil || cpu != 18010*time.Millisecond {
		t.Errorf("procCPU = %v, %v; want 18.01s", cpu, err)
	}
	if m, err := procMemory(4242); err != nil || m != (procMem{RSS: 10 << 20, HWM: 20 << 20, Threads: 12}) {
		t.Errorf("procMemory = %+v, %v", m, err)
	}
	if _, err := procCPU(4243); err == nil {
		t.Error("procCPU of a missing process: no error")
	}
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte("4242 gunicorn S 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := procCPU(4242); err == nil {
		t.Error("procCPU of a stat without (comm): no error")
	}

	if runtime.GOOS != "linux" {
		return
	}
	procRoot = old
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	if m, err := procMemory(os.Getpid()); err != nil || m.RSS <= 0 || m.HWM < m.RSS || m.Threads < 1 {
		t.Errorf("own memory %+v, %v", m, err)
	}
}

func TestFlags(t *testing.T) {
	c, err := parseFlags([]string{"-distinct-names", "1000"}, new(bytes.Buffer))
	if err != nil || c.count != 4000 {
		t.Errorf("-distinct-names 1000: count %v, %v; want 4000", c, err)
	}
	c, err = parseFlags([]string{"-wide-tags", "500", "-wide-names", "900", "-wide-type", "ms"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if tr := c.traffic(); tr.extra != extraWide || tr.wideTags != 500 || tr.distinct != 900 || tr.wideType != "ms" || tr.unit != 4 {
		t.Errorf("-wide-tags 500 -wide-names 900 -wide-type ms: traffic %+v", tr)
	}
	for _, args := range [][]string{
		{"-rate", "-1"},
		{"-counts", "bytes"},
		{"-soak", "10s", "-rate", "0"},
		{"-soak", "10s", "-warmup", "20s", "-pid", "1", "-metrics-url", "http://x/"},
		{"-distinct-names", "1", "-distinct-tags", "1"},
		{"-distinct-names", "1", "-wide-tags", "500"},
		{"-wide-tags", "-1"},
		{"-wide-names", "900"},
		{"-wide-tags", "500", "-wide-names", "0"},
		{"-wide-tags", "500", "-wide-type", "s"},
		{"-scrape-every", "15s"},
		{"-scrape-timeout", "0s"},
		{"extra"},
	} {
		if _, err := parseFlags(args, new(bytes.Buffer)); err == nil {
			t.Errorf("parseFlags(%q) did not fail", args)
		}
	}
	for args, want := range map[[2]string]string{
		{"-prefix", "café"}:   `-prefix "café": not ASCII at byte 3`,
		{"-tags", "env:prød"}: `-tags "env:prød": not ASCII at byte 6`,
	} {
		if _, err := parseFlags(args[:], new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseFlags(%q) = %v, want %s", args, err, want)
		}
	}
}

// TestSendParallel checks that senders share a run exactly: together they
// send every datagram of it once.
func TestSendParallel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var got [][]byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = receiveAll(t, ln, 3003, 2*time.Second)
	}()
	res, err := sendParallel(context.Background(),
		func() (batchWriter, error) { return dialTarget("unixgram://"+path, 32) },
		func() *traffic { return newTraffic("", "", extraNone, 1) },
		sendPlan{count: 3001, rate: 30_000, batch: 32}, 3)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if res.Datagrams != 3003 || res.Requests != 1001 {
		t.Fatalf("sent %d datagrams, %d requests; want 3003, 1001", res.Datagrams, res.Requests)
	}
	count := map[string]int{}
	for _, d := range wantDatagrams("", "", 3003) {
		count[string(d)]++
	}
	for _, d := range got {
		count[string(d)]--
	}
	for d, n := range count {
		if n != 0 {
			t.Errorf("datagram %q: %d more expected than received", d, n)
		}
	}
}

func TestReportFormats(t *testing.T) {
	r := &report{}
	r.add("mode", "run")
	r.add("offered_datagrams", int64(600000))
	r.add("loss_pct", 0.05)
	r.add("first_send_error", "write: connection refused")
	r.Samples = []soakSample{{At: time.Second, RSS: 1 << 20, Goroutines: 10, HeapGoal: 4 << 20, Mallocs: 7}}
	var kv, js bytes.Buffer
	if err := r.writeKV(&kv); err != nil {
		t.Fatal(err)
	}
	want := `mode=run offered_datagrams=600000 loss_pct=0.05 first_send_error="write: connection refused" ` +
		"sample_1.0s=rss:1048576,goroutines:10,heap_goal:4194304\n"
	if kv.String() != want {
		t.Errorf("key=value:\n got %q\nwant %q", kv.String(), want)
	}
	if err := r.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("JSON %s: %v", js.String(), err)
	}
	if got["offered_datagrams"] != 600000.0 || got["loss_pct"] != 0.05 || got["mode"] != "run" {
		t.Errorf("JSON %s", js.String())
	}
	if !strings.HasPrefix(js.String(), `{"mode":"run","offered_datagrams":600000,`) {
		t.Errorf("JSON keys out of order: %s", js.String())
	}
}

// wideLine is the wide-tag line of unit u, written out independently of the
// traffic code.
func wideLine(prefix, dogTags string, tags int, names int64, typ string, u int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%sstatsdload.wide.%d:1|%s|#", prefix, u%names, typ)
	if dogTags != "" {
		b.WriteString(dogTags + ",")
	}
	for j := range tags {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "w%d:%d", j, u)
	}
	return b.String()
}

// TestSendWideTags sends the wide-tag mode over UDP and unixgram to sockets
// the test reads, and checks every datagram byte for byte: each Gunicorn
// request as the statsdtest Emitter writes it, then its wide line, whose
// name cycles and whose tag values are the unit's index.
func TestSendWideTags(t *testing.T) {
	for _, network := range []string{"udp", "unixgram"} {
		t.Run(network, func(t *testing.T) {
			const prefix, dogTags = "shop.web", "env:prod"
			const units = 250 // 1,000 datagrams
			ln, target := listenAll(t, network, 4*units)
			var got [][]byte
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				got = receiveAll(t, ln, 4*units, 2*time.Second)
			}()
			w, err := dialTarget(target, 16)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			tr := newWideTraffic(prefix, dogTags, 5, 3, "ms")
			res := send(context.Background(), w, tr, sendPlan{count: 4*units - 3, rate: 20_000, batch: 16})
			wg.Wait()
			if res.Datagrams != 4*units || res.Requests != units || res.Errors != 0 {
				t.Fatalf("sent %d datagrams, %d requests, %d errors (%v); want %d, %d, 0",
					res.Datagrams, res.Requests, res.Errors, res.FirstErr, 4*units, units)
			}
			if len(got) != 4*units {
				t.Fatalf("received %d datagrams, want %d", len(got), 4*units)
			}
			// Literally, the first lines and one further on.
			for i, want := range map[int]string{
				3:   "shop.web.statsdload.wide.0:1|ms|#env:prod,w0:0,w1:0,w2:0,w3:0,w4:0",
				7:   "shop.web.statsdload.wide.1:1|ms|#env:prod,w0:1,w1:1,w2:1,w3:1,w4:1",
				15:  "shop.web.statsdload.wide.0:1|ms|#env:prod,w0:3,w1:3,w2:3,w3:3,w4:3",
				999: "shop.web.statsdload.wide.0:1|ms|#env:prod,w0:249,w1:249,w2:249,w3:249,w4:249",
			} {
				if string(got[i]) != want {
					t.Errorf("datagram %d = %q, want %q", i, got[i], want)
				}
			}
			requests := wantDatagrams(prefix, dogTags, 3*units)
			longest := 0
			for u := range int64(units) {
				for k := range int64(3) {
					if g, w := got[4*u+k], requests[3*u+k]; !bytes.Equal(g, w) {
						t.Fatalf("unit %d, datagram %d: got %q, want %q", u, k, g, w)
					}
				}
				want := wideLine(prefix+".", dogTags, 5, 3, "ms", u)
				if g := got[4*u+3]; string(g) != want {
					t.Fatalf("unit %d: wide line %q, want %q", u, g, want)
				}
				longest = max(longest, len(want))
			}
			if res.MaxExtra != longest {
				t.Errorf("MaxExtra = %d, want %d", res.MaxExtra, longest)
			}
		})
	}
}

// TestWideLineFits checks the shape (500 tags over 900 names) stays
// under gunicorn-prometheus's default line length (8,192 bytes) for the
// first ten million lines, and that the scratch space holds the longest
// line the tool can write.
func TestWideLineFits(t *testing.T) {
	tr := newWideTraffic("shop.web", "env:prod", 500, 900, "ms")
	for _, u := range []int64{0, 9_999_999, math.MaxInt64} {
		b := tr.appendExtra(nil, u)
		if want := wideLine("shop.web.", "env:prod", 500, 900, "ms", u); string(b) != want {
			t.Fatalf("unit %d: %.80q..., want %.80q...", u, b, want)
		}
		if len(b) > tr.extraLen {
			t.Errorf("unit %d: %d bytes, over the %d of scratch space", u, len(b), tr.extraLen)
		}
		if u < 10_000_000 && len(b) > 8192 {
			t.Errorf("unit %d: %d bytes, over 8,192", u, len(b))
		}
	}
}

// TestScrapeStats checks every scrape is counted, timed and sized, failures
// included, and that reading a counter out of a huge exposition (a label
// value longer than the reader's buffer) keeps only its family.
func TestScrapeStats(t *testing.T) {
	huge := `# HELP wide_total Wide.
# TYPE wide_total counter
wide_total{w0="` + strings.Repeat("x", 200_000) + `"} 5
`
	body := exposition + huge
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	sc := newScraper(srv.URL)
	ctx := context.Background()
	for name, want := range map[string]float64{
		"gunicorn_requests_total":           2300,
		"myapp_gunicorn_requests":           42,
		"gunicorn_request_duration_seconds": 7,
		"wide_total":                        5,
		"go_goroutines":                     17,
	} {
		if got, err := sc.counter(ctx, name); err != nil || got != want {
			t.Errorf("counter(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	if err := sc.scrape(ctx); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if err := sc.scrape(ctx); err == nil {
		t.Error("a 503 scrape: no error")
	}
	st := sc.snapshot()
	if st.Scrapes != 6 || st.Errors != 1 || st.LastBytes != int64(len(body)) || st.MaxBytes != int64(len(body)) ||
		st.LastTime <= 0 || st.MaxTime < st.LastTime {
		t.Errorf("stats %+v; want 6 scrapes, 1 error, %d bytes", st, len(body))
	}
	// Only the family asked for is kept, whole.
	var kept bytes.Buffer
	if err := filterLines(&kept, strings.NewReader(body), familyFilter("wide_total")); err != nil {
		t.Fatal(err)
	}
	if kept.String() != huge {
		t.Errorf("filtered %d bytes, want the %d of the wide family", kept.Len(), len(huge))
	}
	kept.Reset()
	filterLines(&kept, strings.NewReader(body), familyFilter("gunicorn_request_duration_seconds"))
	if want := "# HELP gunicorn_request_duration_seconds Durations.\n# TYPE gunicorn_request_duration_seconds histogram\n" +
		"gunicorn_request_duration_seconds_bucket{le=\"0.1\"} 5\ngunicorn_request_duration_seconds_bucket{le=\"+Inf\"} 7\n" +
		"gunicorn_request_duration_seconds_sum 1.5\ngunicorn_request_duration_seconds_count 7\n"; kept.String() != want {
		t.Errorf("histogram filtered:\n%s\nwant\n%s", kept.String(), want)
	}
}

// fakeExporter reads datagrams on a Unix datagram socket, counts the
// gunicorn.requests lines and the wide lines (checking each byte for byte),
// and serves the request count at /metrics padded with pad bytes of
// comments, so that a scrape's size is known.
type fakeExporter struct {
	requests, wide atomic.Int64
	bad            atomic.Value // the first unexpected datagram
	pad            string
}

func (f *fakeExporter) serve(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%s# TYPE gunicorn_requests_total counter\ngunicorn_requests_total %d\n", f.pad, f.requests.Load())
}

func (f *fakeExporter) size() int {
	return len(fmt.Sprintf("%s# TYPE gunicorn_requests_total counter\ngunicorn_requests_total %d\n", f.pad, f.requests.Load()))
}

// TestLoadWide runs the tool's code in-process in the wide-tag mode against
// the fake exporter, scraping while it sends: the report counts every
// request and wide line sent, and says what the scrapes took.
func TestLoadWide(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := &fakeExporter{pad: "# " + strings.Repeat("p", 10_000) + "\n"}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := ln.ReadFrom(buf)
			if err != nil {
				return
			}
			d := string(buf[:n])
			switch {
			case strings.HasPrefix(d, "app.gunicorn.requests:1|c"):
				f.requests.Add(1)
			case strings.HasPrefix(d, "app.statsdload.wide."):
				u := f.wide.Add(1) - 1
				if want := wideLine("app.", "", 20, 7, "c", u); d != want {
					f.bad.CompareAndSwap(nil, d)
				}
			}
		}
	}()
	// The endpoint fails its first answers, as a target still starting.
	var starting atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if starting.Add(1) <= 2 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		f.serve(w, r)
	}))
	defer srv.Close()

	cfg, err := parseFlags([]string{"-target", "unixgram://" + path, "-metrics-url", srv.URL + "/metrics",
		"-prefix", "app", "-wide-tags", "20", "-wide-names", "7", "-count", "2000", "-rate", "4000",
		"-scrape-every", "20ms", "-settle", "2s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logw bytes.Buffer
	rep, err := load(context.Background(), cfg, &logw)
	if err != nil {
		t.Fatalf("%v\n%s", err, logw.String())
	}
	var kv bytes.Buffer
	rep.writeKV(&kv)
	t.Log(kv.String())
	if d := f.bad.Load(); d != nil {
		t.Errorf("unexpected wide line %q", d)
	}
	for key, want := range map[string]int64{
		"datagrams_per_request": 4,
		"offered_datagrams":     2000,
		"offered_requests":      500,
		"wide_lines":            500,
		"wide_line_bytes_max":   int64(len(wideLine("app.", "", 20, 7, "c", 499))),
		"counted_requests":      500,
		"loss_pct":              0,
		"scrape_errors":         0,
		"scrape_bytes_last":     int64(f.size()),
		"scrape_bytes_max":      int64(f.size()),
	} {
		if got, ok := rep.get(key); !ok || got != want {
			t.Errorf("%s = %d (%v), want %d", key, got, ok, want)
		}
	}
	if f.wide.Load() != 500 {
		t.Errorf("the fake exporter received %d wide lines, want 500", f.wide.Load())
	}
	// One scrape at the start of sending at least, one to read the counter
	// before and after, and the last whole one.
	during, _ := rep.get("scrapes_during_send")
	scrapes, _ := rep.get("scrapes")
	if during < 1 || scrapes < during+3 {
		t.Errorf("scrapes %d, during the send %d", scrapes, during)
	}
	for _, k := range []string{"scrape_max_s", "scrape_last_s"} {
		if v := rep.value(k); v == nil || v.(float64) <= 0 {
			t.Errorf("%s = %v, want a positive time", k, v)
		}
	}
}

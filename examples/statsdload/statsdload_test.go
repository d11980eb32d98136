package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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

// TestSendCountsWhatItSends sends over UDP and unixgram to sockets the test
// reads, and checks that the tool's counts are exact and every datagram is
// byte for byte what the statsdtest Emitter writes.
func TestSendCountsWhatItSends(t *testing.T) {
	for _, network := range []string{"udp", "unixgram"} {
		t.Run(network, func(t *testing.T) {
			var (
				ln     net.PacketConn
				target string
				err    error
			)
			if network == "udp" {
				ln, err = net.ListenPacket("udp", "127.0.0.1:0")
				target = "udp://" + ln.LocalAddr().String()
			} else {
				path := filepath.Join(t.TempDir(), "s.sock")
				ln, err = net.ListenPacket("unixgram", path)
				target = "unixgram://" + path
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if u, ok := ln.(interface{ SetReadBuffer(int) error }); ok {
				u.SetReadBuffer(1 << 20)
			}

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
	// wanted, and after the quiet time when it never gets there.
	start := time.Now()
	if v, err := sc.settle(ctx, "gunicorn_requests_total", 2300, 5*time.Second, 10*time.Second); err != nil || v != 2300 {
		t.Errorf("settle = %v, %v; want 2300", v, err)
	}
	if v, err := sc.settle(ctx, "gunicorn_requests_total", 9999, 300*time.Millisecond, 10*time.Second); err != nil || v != 2300 {
		t.Errorf("settle = %v, %v; want 2300", v, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("settling took %v", d)
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
	for _, args := range [][]string{
		{"-rate", "-1"},
		{"-counts", "bytes"},
		{"-soak", "10s", "-rate", "0"},
		{"-soak", "10s", "-warmup", "20s", "-pid", "1", "-metrics-url", "http://x/"},
		{"-distinct-names", "1", "-distinct-tags", "1"},
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

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// field is one entry of a report, in the order printed.
type field struct {
	Key   string
	Value any
}

// report is what a run measured, in print order.
type report struct {
	Fields   []field
	Samples  []soakSample // soak only
	Failures []string     // checks that failed: exit status 1
}

func (r *report) add(k string, v any) { r.Fields = append(r.Fields, field{k, v}) }

// writeKV prints the report as one line of key=value pairs.
func (r *report) writeKV(w io.Writer) error {
	var b strings.Builder
	for i, f := range r.Fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", f.Key, kvValue(f.Value))
	}
	for _, s := range r.Samples {
		fmt.Fprintf(&b, " sample_%.1fs=rss:%d,goroutines:%d,heap_goal:%d", s.At.Seconds(), s.RSS, s.Goroutines, s.HeapGoal)
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func kvValue(v any) string {
	switch v := v.(type) {
	case float64:
		return fmt.Sprintf("%.6g", v)
	case string:
		if v == "" || strings.ContainsAny(v, " \t\"=") {
			return fmt.Sprintf("%q", v)
		}
		return v
	default:
		return fmt.Sprint(v)
	}
}

// writeJSON prints the report as one JSON object, keys in print order.
func (r *report) writeJSON(w io.Writer) error {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range r.Fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Key)
		v, err := json.Marshal(f.Value)
		if err != nil {
			return err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	if r.Samples != nil {
		s, _ := json.Marshal(r.Samples)
		b.WriteString(`,"samples":`)
		b.Write(s)
	}
	if len(r.Failures) > 0 {
		s, _ := json.Marshal(r.Failures)
		b.WriteString(`,"failures":`)
		b.Write(s)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// soakSample is the target's state at one moment of a soak.
type soakSample struct {
	At         time.Duration `json:"at_ns"`
	RSS        int64         `json:"rss_bytes"`
	Goroutines int64         `json:"goroutines"`               // or threads, without go_goroutines
	HeapGoal   int64         `json:"heap_goal_bytes"`          // go_memstats_next_gc_bytes; -1 if not exposed
	Mallocs    int64         `json:"mallocs"`                  // go_memstats_mallocs_total; -1 if not exposed
	Datagrams  int64         `json:"datagrams_sent,omitempty"` // sent by the time of the sample
}

// load sends as cfg says and measures the target. Progress and warnings go
// to logw. The report is returned with what was measured even on an error.
func load(ctx context.Context, cfg *config, logw io.Writer) (*report, error) {
	mk := cfg.traffic
	t := mk()
	rep := &report{}
	mode := "run"
	if cfg.soak > 0 {
		mode = "soak"
	}
	rep.add("mode", mode)
	rep.add("target", cfg.target)
	rep.add("rate_asked", rateString(cfg.rate))
	rep.add("datagrams_per_request", t.unit)
	rep.add("senders", cfg.senders)

	var sc *scraper
	var base float64
	if cfg.metricsURL != "" {
		sc = newScraper(cfg.metricsURL)
		sc.client.Timeout = cfg.scrapeTimeout
		var err error
		if base, err = waitCounter(ctx, sc, cfg.metric, cfg.waitTarget); err != nil {
			return nil, fmt.Errorf("reading %s before sending: %w", cfg.metricsURL, err)
		}
		sc.forgetErrors() // the tries while the target was starting
	}
	var cpu0 time.Duration
	if cfg.pid != 0 {
		// Let the scrape's own work finish before the CPU time is taken.
		waitCPUQuiet(ctx, cfg.pid, 100*time.Millisecond, 2*time.Second)
		var err error
		if cpu0, err = procCPU(cfg.pid); err != nil {
			return nil, fmt.Errorf("-pid %d: %w", cfg.pid, err)
		}
	}

	// Soak: sample the target while sending.
	var samples []soakSample
	var progress atomic.Int64
	var wg sync.WaitGroup
	sctx, stopSampling := context.WithCancel(ctx)
	if cfg.soak > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			samples = sampleLoop(sctx, cfg, sc, &progress, logw)
		}()
	}
	// Scrape as Prometheus would, while sending.
	var scrapesDuringSend int64
	if cfg.scrapeEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scrapesDuringSend = scrapeLoop(sctx, ctx, sc, cfg.scrapeEvery, logw)
		}()
	}
	res, err := sendParallel(ctx,
		func() (batchWriter, error) { return dialTarget(cfg.target, cfg.batch) },
		mk,
		sendPlan{count: cfg.count, duration: cfg.duration, rate: cfg.rate, batch: cfg.batch, progress: &progress},
		cfg.senders)
	if err != nil {
		stopSampling()
		wg.Wait()
		return nil, fmt.Errorf("-target %s: %w", cfg.target, err)
	}
	stopSampling()
	wg.Wait()
	if cfg.soak > 0 {
		// One last sample as the sending ends.
		if s, err := takeSample(ctx, cfg, sc, res.Elapsed); err == nil {
			s.Datagrams = res.Datagrams
			samples = append(samples, s)
		} else {
			fmt.Fprintf(logw, "statsdload: soak sample: %v\n", err)
		}
	}

	rep.add("offered_datagrams", res.Datagrams)
	rep.add("offered_requests", res.Requests)
	if cfg.wideTags > 0 {
		rep.add("wide_lines", res.Datagrams-res.Requests*requestDatagrams)
		rep.add("wide_line_bytes_max", res.MaxExtra)
	}
	rep.add("send_errors", res.Errors)
	if res.FirstErr != nil {
		rep.add("first_send_error", res.FirstErr.Error())
	}
	secs := res.Elapsed.Seconds()
	rep.add("send_s", secs)
	if secs > 0 {
		rep.add("send_rate", float64(res.Datagrams)/secs)
	}

	var cpu1 time.Duration
	if cfg.pid != 0 {
		// The target is done when its CPU time stops rising.
		waitCPUQuiet(ctx, cfg.pid, 300*time.Millisecond, cfg.deadline)
		if cpu1, err = procCPU(cfg.pid); err != nil {
			return rep, fmt.Errorf("-pid %d: %w", cfg.pid, err)
		}
	}

	if sc != nil {
		perCount := int64(1)
		offered := res.Requests
		if cfg.counts == countsDatagrams {
			offered = res.Datagrams
		} else {
			perCount = int64(t.unit)
		}
		last, err := sc.settle(ctx, cfg.metric, base+float64(offered), cfg.settle, cfg.deadline)
		if err != nil {
			return rep, fmt.Errorf("reading %s after sending: %w", cfg.metricsURL, err)
		}
		counted := round(last - base)
		rep.add("metric", cfg.metric)
		rep.add("counts", cfg.counts)
		rep.add("counted", counted)
		if cfg.counts == countsDatagrams {
			rep.add("counted_requests", counted/int64(t.unit))
			rep.add("counted_datagrams", counted)
		} else {
			rep.add("counted_requests", counted)
			rep.add("counted_datagrams", counted*perCount)
		}
		loss := 0.0
		if offered > 0 {
			loss = 100 * float64(offered-counted) / float64(offered)
		}
		rep.add("loss_pct", loss)
		if cfg.maxLoss >= 0 && loss > cfg.maxLoss {
			rep.Failures = append(rep.Failures, fmt.Sprintf("loss %.4g%% over -max-loss %.4g%% (offered %d, counted %d %s)",
				loss, cfg.maxLoss, offered, counted, cfg.counts))
		}
		// One whole scrape of what the run left, timed.
		if err := sc.scrape(ctx); err != nil {
			fmt.Fprintf(logw, "statsdload: the last scrape: %v\n", err)
		}
		st := sc.snapshot()
		rep.add("scrapes", st.Scrapes)
		rep.add("scrape_errors", st.Errors)
		if cfg.scrapeEvery > 0 {
			rep.add("scrapes_during_send", scrapesDuringSend)
		}
		rep.add("scrape_max_s", st.MaxTime.Seconds())
		rep.add("scrape_last_s", st.LastTime.Seconds())
		rep.add("scrape_bytes_max", st.MaxBytes)
		rep.add("scrape_bytes_last", st.LastBytes)
	}
	if cfg.pid != 0 {
		cpu := cpu1 - cpu0
		rep.add("cpu_s", cpu.Seconds())
		if res.Datagrams > 0 {
			rep.add("cpu_ns_per_datagram", float64(cpu.Nanoseconds())/float64(res.Datagrams))
		}
		if m, err := procMemory(cfg.pid); err == nil {
			rep.add("rss_bytes", m.RSS)
			rep.add("rss_peak_bytes", m.HWM)
			rep.add("threads", m.Threads)
		}
	}
	if cfg.soak > 0 {
		rep.Samples = samples
		soakVerdict(rep, cfg, samples)
	}
	return rep, nil
}

// scrapeLoop scrapes sc at once and then every interval until stop ends,
// each scrape under ctx (a scrape under way when stop ends is finished, so
// that it counts whole), and returns how many were answered.
func scrapeLoop(stop, ctx context.Context, sc *scraper, every time.Duration, logw io.Writer) int64 {
	var n int64
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		if err := sc.scrape(ctx); err != nil {
			fmt.Fprintf(logw, "statsdload: scrape while sending: %v\n", err)
		} else {
			n++
		}
		select {
		case <-stop.Done():
			return n
		case <-tk.C:
		}
	}
}

// waitCounter reads the counter, retrying until the endpoint answers or
// wait has passed.
func waitCounter(ctx context.Context, sc *scraper, metric string, wait time.Duration) (float64, error) {
	end := time.Now().Add(wait)
	for {
		v, err := sc.counter(ctx, metric)
		if err == nil || time.Now().After(end) || ctx.Err() != nil {
			return v, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitCPUQuiet waits until the CPU time of pid has not changed for quiet,
// or for at most deadline.
func waitCPUQuiet(ctx context.Context, pid int, quiet, deadline time.Duration) {
	end := time.Now().Add(deadline)
	last, err := procCPU(pid)
	if err != nil {
		return
	}
	since := time.Now()
	for time.Since(since) < quiet && time.Now().Before(end) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		cpu, err := procCPU(pid)
		if err != nil {
			return
		}
		if cpu != last {
			last, since = cpu, time.Now()
		}
	}
}

// sampleLoop takes a soak sample every cfg.sampleEvery until ctx ends.
func sampleLoop(ctx context.Context, cfg *config, sc *scraper, progress *atomic.Int64, logw io.Writer) []soakSample {
	var out []soakSample
	start := time.Now()
	tk := time.NewTicker(cfg.sampleEvery)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-tk.C:
		}
		sent := progress.Load()
		s, err := takeSample(ctx, cfg, sc, time.Since(start))
		s.Datagrams = sent
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(logw, "statsdload: soak sample: %v\n", err)
			}
			continue
		}
		out = append(out, s)
	}
}

// takeSample reads the target's VmRSS and goroutines: the least
// go_goroutines of three scrapes (a scrape runs goroutines of its own), or
// its thread count when the exposition has no go_goroutines.
func takeSample(ctx context.Context, cfg *config, sc *scraper, at time.Duration) (soakSample, error) {
	s := soakSample{At: at}
	m, err := procMemory(cfg.pid)
	if err != nil {
		return s, err
	}
	s.RSS = m.RSS
	s.Goroutines, s.HeapGoal, s.Mallocs = -1, -1, -1
	for i := range 3 {
		if i > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		mf, err := sc.families(ctx, "go_goroutines", "go_memstats_next_gc_bytes", "go_memstats_mallocs_total")
		if err != nil {
			return s, err
		}
		if i == 0 {
			if v, ok := sumMetric(mf, "go_memstats_next_gc_bytes"); ok {
				s.HeapGoal = round(v)
			}
			if v, ok := sumMetric(mf, "go_memstats_mallocs_total"); ok {
				s.Mallocs = round(v)
			}
		}
		v, ok := sumMetric(mf, "go_goroutines")
		if !ok {
			s.Goroutines = m.Threads
			break
		}
		if g := round(v); s.Goroutines < 0 || g < s.Goroutines {
			s.Goroutines = g
		}
	}
	return s, nil
}

// soakVerdict adds the soak's figures to rep and fails it on growth: from
// the first sample at or after the warm-up to the last.
func soakVerdict(rep *report, cfg *config, samples []soakSample) {
	var first *soakSample
	for i := range samples {
		if samples[i].At >= cfg.warmup {
			first = &samples[i]
			break
		}
	}
	if first == nil || first == &samples[len(samples)-1] {
		rep.Failures = append(rep.Failures, fmt.Sprintf("soak: %d samples, none after the %v warm-up but the last: nothing to compare", len(samples), cfg.warmup))
		return
	}
	last := samples[len(samples)-1]
	var peak int64
	for _, s := range samples {
		peak = max(peak, s.RSS)
	}
	growth := last.RSS - first.RSS
	allowed := max(int64(float64(first.RSS)*cfg.rssTolerance/100), cfg.rssSlack)
	rep.add("soak_warmup_s", cfg.warmup.Seconds())
	rep.add("soak_rss_after_warmup", first.RSS)
	rep.add("soak_rss_end", last.RSS)
	rep.add("soak_rss_peak", peak)
	rep.add("soak_rss_growth", growth)
	rep.add("soak_rss_allowed", allowed)
	rep.add("soak_goroutines_after_warmup", first.Goroutines)
	rep.add("soak_goroutines_end", last.Goroutines)
	if first.HeapGoal >= 0 && last.HeapGoal >= 0 {
		// The GC's heap goal is twice the live heap at the last collection:
		// a leak moves it, garbage does not.
		rep.add("soak_heap_goal_after_warmup", first.HeapGoal)
		rep.add("soak_heap_goal_end", last.HeapGoal)
		hg := last.HeapGoal - first.HeapGoal
		if hallowed := max(int64(float64(first.HeapGoal)*cfg.rssTolerance/100), cfg.heapSlack); hg > hallowed {
			rep.Failures = append(rep.Failures, fmt.Sprintf("soak: the GC heap goal grew %d bytes after the warm-up (%d to %d), over the %d allowed",
				hg, first.HeapGoal, last.HeapGoal, hallowed))
		}
	}
	if first.Mallocs >= 0 && last.Mallocs >= 0 && last.Datagrams > first.Datagrams {
		// Scrapes allocate too: this is an upper bound on the receive path's.
		rep.add("soak_mallocs_per_datagram", float64(last.Mallocs-first.Mallocs)/float64(last.Datagrams-first.Datagrams))
	}
	if growth > allowed {
		rep.Failures = append(rep.Failures, fmt.Sprintf("soak: VmRSS grew %d bytes after the warm-up (%d to %d), over the %d allowed",
			growth, first.RSS, last.RSS, allowed))
	}
	if g := last.Goroutines - first.Goroutines; g > cfg.goroutineSlack {
		rep.Failures = append(rep.Failures, fmt.Sprintf("soak: goroutines grew by %d after the warm-up (%d to %d)",
			g, first.Goroutines, last.Goroutines))
	}
}

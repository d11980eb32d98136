package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scraper reads a Prometheus text exposition over HTTP. One keep-alive
// connection is reused, so that scraping does not itself grow the target's
// connections or goroutines. Every scrape is timed and sized (stats).
type scraper struct {
	url    string
	client *http.Client

	mu    sync.Mutex
	stats scrapeStats
}

// scrapeStats is what the scrapes of a target took.
type scrapeStats struct {
	Scrapes   int64         // answered whole
	Errors    int64         // failed: no answer, not 200, cut short, timed out
	MaxTime   time.Duration // the longest, from the request to the last byte
	LastTime  time.Duration // the last one answered
	MaxBytes  int64         // the largest exposition
	LastBytes int64         // the last one's size
}

func newScraper(url string) *scraper {
	return &scraper{url: url, client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
	}}
}

// snapshot returns the scrape statistics so far.
func (s *scraper) snapshot() scrapeStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// forgetErrors sets the count of failed scrapes back to 0.
func (s *scraper) forgetErrors() {
	s.mu.Lock()
	s.stats.Errors = 0
	s.mu.Unlock()
}

// fetch scrapes once and writes the exposition to dst: every line, or with
// keep only the lines keep accepts. The time is taken from sending the
// request to reading the last byte (filtering is a byte scan for line ends,
// much faster than any exporter writes), and recorded in the stats with the
// size of the whole exposition. It asks for the text format.
func (s *scraper) fetch(ctx context.Context, dst io.Writer, keep func(line []byte) bool) (err error) {
	start := time.Now()
	defer func() {
		if err != nil {
			s.mu.Lock()
			s.stats.Errors++
			s.mu.Unlock()
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return fmt.Errorf("GET %s: %s", s.url, resp.Status)
	}
	body := &countingReader{r: resp.Body}
	if keep == nil {
		_, err = io.Copy(dst, body)
	} else {
		err = filterLines(dst, body, keep)
	}
	if err != nil {
		return fmt.Errorf("GET %s: reading the exposition: %w", s.url, err)
	}
	d := time.Since(start)
	s.mu.Lock()
	st := &s.stats
	st.Scrapes++
	st.LastTime, st.LastBytes = d, body.n
	st.MaxTime, st.MaxBytes = max(st.MaxTime, d), max(st.MaxBytes, body.n)
	s.mu.Unlock()
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// filterLines copies to dst the lines of r that keep accepts, whatever their
// length: keep sees the first 64 KiB of a line at most.
func filterLines(dst io.Writer, r io.Reader, keep func(line []byte) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	inLine, kept := false, false // within a line longer than the buffer
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if !inLine {
				kept = keep(chunk)
			}
			if kept {
				if _, werr := dst.Write(chunk); werr != nil {
					return werr
				}
			}
			inLine = chunk[len(chunk)-1] != '\n'
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			if kept && inLine {
				_, err := dst.Write([]byte{'\n'})
				return err
			}
			return nil
		default:
			return err
		}
	}
}

// familyFilter returns a line filter that keeps the lines of the families
// named in names, and nothing else: their HELP and TYPE comments and their
// samples. A name "x_total" also keeps family "x", and the reverse (parsers
// and exporters differ on the suffix); a histogram's or summary's _bucket,
// _sum and _count lines are kept with it.
func familyFilter(names ...string) func(line []byte) bool {
	want := map[string]bool{}
	for _, n := range names {
		base := strings.TrimSuffix(n, "_total")
		want[base], want[base+"_total"] = true, true
	}
	return func(line []byte) bool {
		var name []byte
		if rest, ok := bytes.CutPrefix(line, []byte("# ")); ok {
			if r, ok := bytes.CutPrefix(rest, []byte("TYPE ")); ok {
				rest = r
			} else if r, ok := bytes.CutPrefix(rest, []byte("HELP ")); ok {
				rest = r
			} else {
				return false
			}
			end := bytes.IndexAny(rest, " \n")
			if end < 0 {
				end = len(rest)
			}
			return want[string(rest[:end])]
		}
		end := bytes.IndexAny(line, "{ ")
		if end < 0 {
			return false
		}
		name = line[:end]
		if want[string(name)] {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count", "_created"} {
			if base, ok := bytes.CutSuffix(name, []byte(suffix)); ok && want[string(base)] {
				return true
			}
		}
		return false
	}
}

// families fetches and parses the whole exposition; with names, only those
// families (see familyFilter), which keeps a huge exposition's parse small.
func (s *scraper) families(ctx context.Context, names ...string) (map[string]*dto.MetricFamily, error) {
	var keep func([]byte) bool
	if len(names) > 0 {
		keep = familyFilter(names...)
	}
	var buf bytes.Buffer
	if err := s.fetch(ctx, &buf, keep); err != nil {
		return nil, err
	}
	return parseExposition(&buf)
}

// scrape fetches the exposition and throws it away, as a scrape whose time
// and size are all that matter.
func (s *scraper) scrape(ctx context.Context) error { return s.fetch(ctx, io.Discard, nil) }

// parseExposition parses a Prometheus text exposition.
func parseExposition(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing the exposition: %w", err)
	}
	return mf, nil
}

// sumMetric returns the sum over every series of the family named name,
// and whether the family exists. A counter named "x_total" is found under
// either name, as parsers and exporters differ on the suffix. Counters,
// gauges and untyped samples are summed; a histogram or summary gives its
// count.
func sumMetric(mf map[string]*dto.MetricFamily, name string) (float64, bool) {
	f, ok := mf[name]
	if !ok {
		if base, cut := strings.CutSuffix(name, "_total"); cut {
			f, ok = mf[base]
		} else {
			f, ok = mf[name+"_total"]
		}
	}
	if !ok {
		return 0, false
	}
	var sum float64
	for _, m := range f.GetMetric() {
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Summary != nil:
			sum += float64(m.GetSummary().GetSampleCount())
		}
	}
	return sum, true
}

// sumWhere is sumMetric over the series whose label key has value val.
func sumWhere(mf map[string]*dto.MetricFamily, name, key, val string) float64 {
	sub := map[string]*dto.MetricFamily{}
	for _, n := range []string{name, name + "_total", strings.TrimSuffix(name, "_total")} {
		f, ok := mf[n]
		if !ok {
			continue
		}
		g := &dto.MetricFamily{Name: f.Name, Type: f.Type}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == key && l.GetValue() == val {
					g.Metric = append(g.Metric, m)
				}
			}
		}
		sub[n] = g
		break
	}
	v, _ := sumMetric(sub, name)
	return v
}

// counter scrapes once and returns the sum of the metric. A family that
// is not there yet counts as 0 (a counter appears with its first sample).
func (s *scraper) counter(ctx context.Context, name string) (float64, error) {
	mf, err := s.families(ctx, name)
	if err != nil {
		return 0, err
	}
	v, _ := sumMetric(mf, name)
	return v, nil
}

// settle polls the counter until it reaches want, or stops changing for
// quiet, or deadline passes, and returns its last value.
func (s *scraper) settle(ctx context.Context, name string, want float64, quiet, deadline time.Duration) (float64, error) {
	end := time.Now().Add(deadline)
	last, err := s.counter(ctx, name)
	if err != nil {
		return 0, err
	}
	changed := time.Now()
	for last < want && time.Since(changed) < quiet && time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		v, err := s.counter(ctx, name)
		if err != nil {
			return last, err
		}
		if v != last {
			last, changed = v, time.Now()
		}
	}
	return last, nil
}

// round returns v rounded to the nearest integer, for counters exposed as
// floats.
func round(v float64) int64 { return int64(math.Round(v)) }

package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scraper reads a Prometheus text exposition over HTTP. One keep-alive
// connection is reused, so that scraping does not itself grow the target's
// connections or goroutines.
type scraper struct {
	url    string
	client *http.Client
}

func newScraper(url string) *scraper {
	return &scraper{url: url, client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
	}}
}

// families fetches and parses the exposition. It asks for the text format.
func (s *scraper) families(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, fmt.Errorf("GET %s: %s", s.url, resp.Status)
	}
	return parseExposition(resp.Body)
}

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
	mf, err := s.families(ctx)
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

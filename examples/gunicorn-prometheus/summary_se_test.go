package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/gunicornotel/gunicornotel/internal/fixture"
	"github.com/gunicornotel/gunicornotel/mapper"
)

// TestStatsdExporterSummaries: the same timer traffic (Gunicorn's request
// durations under the prefix shop, and a tagged generic timer, 3000
// observations each) sent to statsd_exporter v0.31.0 and to the daemon, with
// the Gunicorn demo's mapping file (no observer_type) and with none
// (--no-gunicorn.profile, so Gunicorn's names are generic on both sides):
// both serve summaries with the same series names and labels, the same
// quantiles, _count and _sum equal, and every quantile's value of a rank
// within its objective's error.
func TestStatsdExporterSummaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs statsd_exporter")
	}
	bin := statsdExporterBinary(t)
	r := rand.New(rand.NewPCG(7, 8))
	const n = 3000
	var traffic [][]byte
	obs := map[string][]float64{} // by StatsD name, in seconds
	for i := range n {
		for _, name := range []string{"shop.gunicorn.request.duration", "svc.api.latency"} {
			ms := math.Round(r.ExpFloat64()*40*1000) / 1000 // whole microseconds
			line := fmt.Sprintf("%s:%g|ms", name, ms)
			if name == "svc.api.latency" {
				line += fmt.Sprintf("|#route:/r%d", i%2)
			}
			traffic = append(traffic, []byte(line))
			obs[name] = append(obs[name], ms/1000)
		}
	}
	for _, tc := range []struct {
		name    string
		se, our []string
		fams    []string
	}{
		{name: "gunicorn-monitoring",
			se:   []string{"--statsd.mapping-config=" + fixture.MappingPath(fixture.DemoMapping)},
			our:  []string{"--statsd.mapping-config=" + fixture.MappingPath(fixture.DemoMapping)},
			fams: []string{"gunicorn_request_duration", "svc_api_latency"}},
		{name: "no-mapping", our: []string{"--no-gunicorn.profile"},
			fams: []string{"shop_gunicorn_request_duration", "svc_api_latency"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			se := startStatsdExporter(t, bin, filepath.Join(dir, "se.sock"), tc.se)
			ourSock := filepath.Join(dir, "our.sock")
			ours := startRun(t, append([]string{"--statsd.listen-udp=", "--statsd.listen-tcp=", "--statsd.listen-unixgram=" + ourSock,
				"--web.listen-address=127.0.0.1:0", "--log.level=warn"}, tc.our...)...)
			seFams, ourFams := sendBoth(t, se, ourSock, ours.url("/metrics"), traffic)
			for i, fam := range tc.fams {
				sf, of := seFams[fam], ourFams[fam]
				if sf == nil || of == nil {
					t.Fatalf("%s: served there %v, here %v", fam, sf != nil, of != nil)
				}
				if sf.GetType() != dto.MetricType_SUMMARY || of.GetType() != dto.MetricType_SUMMARY {
					t.Fatalf("%s: type %v there, %v here; want summaries", fam, sf.GetType(), of.GetType())
				}
				ss, os := flatSamples(sf), flatSamples(of)
				if !slices.Equal(slices.Sorted(mapsKeys(ss)), slices.Sorted(mapsKeys(os))) {
					t.Errorf("%s: series %v there, %v here", fam, slices.Sorted(mapsKeys(ss)), slices.Sorted(mapsKeys(os)))
				}
				vals := obs[[]string{"shop.gunicorn.request.duration", "svc.api.latency"}[i]]
				var total float64
				for _, v := range vals {
					total += v
				}
				var count, sum float64
				for _, m := range of.GetMetric() {
					sm := m.GetSummary()
					count += float64(sm.GetSampleCount())
					sum += sm.GetSampleSum()
				}
				if count != n || math.Abs(sum-total) > 1e-9*total {
					t.Errorf("%s: _count %v _sum %v here, sent %d summing %v", fam, count, sum, n, total)
				}
				for k, v := range ss {
					if strings.HasPrefix(k, "_sum{") || strings.HasPrefix(k, "_count{") {
						if !sameValue(os[k], v) {
							t.Errorf("%s%s: %v there, %v here", fam, k, v, os[k])
						}
					}
				}
				// Quantiles: ranks within the objectives, on both sides.
				for _, side := range []struct {
					who string
					f   *dto.MetricFamily
				}{{"statsd_exporter", sf}, {"here", of}} {
					for _, m := range side.f.GetMetric() {
						mine := vals
						if fam == "svc_api_latency" {
							mine = nil
							route := ""
							for _, lp := range m.GetLabel() {
								if lp.GetName() == "route" {
									route = lp.GetValue()
								}
							}
							for j, v := range vals {
								if fmt.Sprintf("/r%d", j%2) == route {
									mine = append(mine, v)
								}
							}
						}
						sorted := slices.Sorted(slices.Values(mine))
						for _, q := range m.GetSummary().GetQuantile() {
							if err := quantileRank(sorted, q.GetQuantile(), q.GetValue()); err != nil {
								t.Errorf("%s %s%v: %v", side.who, fam, labelKey(m), err)
							}
						}
					}
				}
				t.Logf("%s: %d series, quantiles %v here", fam, len(of.GetMetric()), os)
			}
		})
	}
}

// quantileRank returns nil when v, a summary's estimate of quantile q over
// the observations sorted, meets q's default objective
// (mapper.DefaultObjectives): the ranks of v among the observations,
// [lo, hi) over their count, reach into [q-error, q+error]. Observations
// equal to v within a relative 1e-12 count as v (the seconds of a timer are
// its milliseconds divided by 1000 there, multiplied by 0.001 here).
func quantileRank(sorted []float64, q, v float64) error {
	i := slices.IndexFunc(mapper.DefaultObjectives, func(o mapper.Objective) bool { return o.Quantile == q })
	if i < 0 {
		return fmt.Errorf("quantile %v: not one of the default objectives %v", q, mapper.DefaultObjectives)
	}
	eps := mapper.DefaultObjectives[i].Error
	if len(sorted) == 0 {
		return fmt.Errorf("quantile %v = %v: no observations", q, v)
	}
	tol := 1e-12 * math.Abs(v)
	lo, _ := slices.BinarySearch(sorted, v-tol)
	hi := lo
	for hi < len(sorted) && sorted[hi] <= v+tol {
		hi++
	}
	n := float64(len(sorted))
	if float64(hi)/n < q-eps || float64(lo)/n > q+eps {
		return fmt.Errorf("quantile %v = %v: ranks %v–%v of %d observations, want within %v of %v",
			q, v, float64(lo)/n, float64(hi)/n, len(sorted), eps, q)
	}
	return nil
}

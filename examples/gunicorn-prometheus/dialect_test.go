package main

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// TestDialectFlag: by default lines are read as statsd_exporter reads them
// (a rate it cannot read is 1, the container id a label, the line counted as
// forgiven); --statsd.dialect=default rejects such lines and keeps the
// container id out of the series.
func TestDialectFlag(t *testing.T) {
	lines := []string{"jobs:2|c|@bad", "jobs:1|c|#k:v|c:abc", "jobs:1:2|c", "etsy:1|c:2|c"}
	for _, tc := range []struct {
		args              []string
		jobs, etsy        map[string]float64
		forgiven, rejects map[string]float64
	}{
		{
			args:     nil,
			jobs:     map[string]float64{"": 2, "container_id=abc,k=v": 1},
			etsy:     map[string]float64{"": 3},
			forgiven: map[string]float64{"reason=bad_sample_rate": 1},
			rejects:  map[string]float64{"reason=packed_type": 1},
		},
		{
			args:     []string{"--statsd.dialect=default"},
			jobs:     map[string]float64{"": 3, "k=v": 1},
			etsy:     nil,
			forgiven: nil,
			rejects:  map[string]float64{"reason=bad_sample_rate": 1, "reason=bad_type": 1},
		},
	} {
		a := newTestApp(t, append([]string{"--no-gunicorn.profile"}, tc.args...)...)
		for _, l := range lines {
			a.bridge.HandleDatagram([]byte(l))
		}
		fams := scrape(t, a.url("/metrics"))
		equalSeries(t, "jobs", fams.values(t, "jobs", dto.MetricType_COUNTER), tc.jobs)
		if tc.etsy != nil {
			equalSeries(t, "etsy", fams.values(t, "etsy", dto.MetricType_COUNTER), tc.etsy)
		} else if _, ok := fams["etsy"]; ok {
			t.Errorf("%v: etsy served: %v", tc.args, fams.values(t, "etsy", dto.MetricType_COUNTER))
		}
		equalSeries(t, "gunicornotel_lines_forgiven_total", fams.values(t, "gunicornotel_lines_forgiven_total", dto.MetricType_COUNTER), tc.forgiven)
		equalSeries(t, "gunicornotel_samples_rejected_total", fams.values(t, "gunicornotel_samples_rejected_total", dto.MetricType_COUNTER), tc.rejects)
	}
}

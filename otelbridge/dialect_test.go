package otelbridge

import (
	"testing"

	"github.com/gunicornotel/gunicornotel/mapper"
	"github.com/gunicornotel/gunicornotel/statsd"
)

// TestDialectStatsdExporter checks what a bridge parsing in
// statsd.DialectStatsdExporter records: the lines the default dialect
// rejects for their rate or timestamp are recorded and counted as forgiven,
// and a container id becomes the attribute container_id.
func TestDialectStatsdExporter(t *testing.T) {
	m, err := mapper.New()
	if err != nil {
		t.Fatal(err)
	}
	b, r := newTestBridge(t, WithMapper(m), WithParser(statsd.Parser{Dialect: statsd.DialectStatsdExporter}))
	feed(b, "jobs:2|c|@bad", "jobs:3|c|#k:v|Tsoon", "jobs:1|c|#k:v|c:abc", "jobs:1:2|c", "jobs:1|c|@2")
	ms := metricsOf(collect(t, r), ScopeName)
	equalMaps(t, "forgiven", intSumValues(t, ms[MetricForgiven]), map[string]int64{
		"reason=bad_sample_rate": 1, "reason=bad_timestamp": 1,
	})
	equalMaps(t, "rejected", intSumValues(t, ms[MetricRejected]), map[string]int64{
		"reason=packed_type": 1, "reason=bad_sample_rate": 1,
	})
	st := b.Stats()
	if st.ForgivenByReason["bad_sample_rate"] != 1 || st.ForgivenByReason["bad_timestamp"] != 1 || len(st.ForgivenByReason) != 2 {
		t.Errorf("Stats().ForgivenByReason = %v", st.ForgivenByReason)
	}
	equalMaps(t, "jobs", sumValues(t, ms["jobs"], true), map[string]float64{
		"": 2, "k=v": 3, "container_id=abc,k=v": 1,
	})
}

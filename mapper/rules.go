package mapper

import "github.com/gunicornotel/gunicornotel/statsd"

// Rules are compiled statsd_exporter mapping rules.
type Rules struct{}

func (r *Rules) mapSample(s *statsd.Sample, override bool) (*Mapping, bool) { return nil, false }

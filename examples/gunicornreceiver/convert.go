package gunicornreceiver

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Convert turns what an OpenTelemetry Go SDK reader collected into the
// Collector's pmetric.Metrics: one ResourceMetrics, its scopes, and every
// metric with its name, description, unit and data points (attributes, start
// and end times). Gauges, sums (monotonic or not, with their temporality),
// explicit-bucket histograms (bounds, bucket counts, count, sum, min, max),
// exponential histograms and summaries are converted; exemplars are not
// (the receiver turns them off). Aggregations of other types are skipped.
//
// The Collector has no public converter from the SDK's metricdata to pdata
// (its own is internal to the service), hence this one.
func Convert(rm *metricdata.ResourceMetrics) pmetric.Metrics {
	md := pmetric.NewMetrics()
	out := md.ResourceMetrics().AppendEmpty()
	if rm.Resource != nil {
		putAttributes(out.Resource().Attributes(), rm.Resource.Iter())
		out.SetSchemaUrl(rm.Resource.SchemaURL())
	}
	for i := range rm.ScopeMetrics {
		sm := &rm.ScopeMetrics[i]
		outSM := out.ScopeMetrics().AppendEmpty()
		outSM.SetSchemaUrl(sm.Scope.SchemaURL)
		scope := outSM.Scope()
		scope.SetName(sm.Scope.Name)
		scope.SetVersion(sm.Scope.Version)
		putAttributes(scope.Attributes(), sm.Scope.Attributes.Iter())
		for j := range sm.Metrics {
			convertMetric(outSM.Metrics(), &sm.Metrics[j])
		}
	}
	return md
}

func convertMetric(dst pmetric.MetricSlice, m *metricdata.Metrics) {
	var out pmetric.Metric
	begin := func() pmetric.Metric {
		out = dst.AppendEmpty()
		out.SetName(m.Name)
		out.SetDescription(m.Description)
		out.SetUnit(m.Unit)
		return out
	}
	switch a := m.Data.(type) {
	case metricdata.Gauge[int64]:
		gaugePoints(begin().SetEmptyGauge().DataPoints(), a.DataPoints, pmetric.NumberDataPoint.SetIntValue)
	case metricdata.Gauge[float64]:
		gaugePoints(begin().SetEmptyGauge().DataPoints(), a.DataPoints, pmetric.NumberDataPoint.SetDoubleValue)
	case metricdata.Sum[int64]:
		s := begin().SetEmptySum()
		s.SetIsMonotonic(a.IsMonotonic)
		s.SetAggregationTemporality(temporality(a.Temporality))
		gaugePoints(s.DataPoints(), a.DataPoints, pmetric.NumberDataPoint.SetIntValue)
	case metricdata.Sum[float64]:
		s := begin().SetEmptySum()
		s.SetIsMonotonic(a.IsMonotonic)
		s.SetAggregationTemporality(temporality(a.Temporality))
		gaugePoints(s.DataPoints(), a.DataPoints, pmetric.NumberDataPoint.SetDoubleValue)
	case metricdata.Histogram[int64]:
		histogram(begin().SetEmptyHistogram(), a)
	case metricdata.Histogram[float64]:
		histogram(begin().SetEmptyHistogram(), a)
	case metricdata.ExponentialHistogram[int64]:
		expHistogram(begin().SetEmptyExponentialHistogram(), a)
	case metricdata.ExponentialHistogram[float64]:
		expHistogram(begin().SetEmptyExponentialHistogram(), a)
	case metricdata.Summary:
		summary(begin().SetEmptySummary(), a)
	}
}

func temporality(t metricdata.Temporality) pmetric.AggregationTemporality {
	switch t {
	case metricdata.CumulativeTemporality:
		return pmetric.AggregationTemporalityCumulative
	case metricdata.DeltaTemporality:
		return pmetric.AggregationTemporalityDelta
	}
	return pmetric.AggregationTemporalityUnspecified
}

func timestamp(t time.Time) pcommon.Timestamp {
	if t.IsZero() {
		return 0
	}
	return pcommon.NewTimestampFromTime(t)
}

func gaugePoints[N int64 | float64, V int64 | float64](dst pmetric.NumberDataPointSlice, pts []metricdata.DataPoint[N], set func(pmetric.NumberDataPoint, V)) {
	dst.EnsureCapacity(len(pts))
	for i := range pts {
		p := &pts[i]
		dp := dst.AppendEmpty()
		putAttributes(dp.Attributes(), p.Attributes.Iter())
		dp.SetStartTimestamp(timestamp(p.StartTime))
		dp.SetTimestamp(timestamp(p.Time))
		set(dp, V(p.Value))
	}
}

func histogram[N int64 | float64](h pmetric.Histogram, a metricdata.Histogram[N]) {
	h.SetAggregationTemporality(temporality(a.Temporality))
	dst := h.DataPoints()
	dst.EnsureCapacity(len(a.DataPoints))
	for i := range a.DataPoints {
		p := &a.DataPoints[i]
		dp := dst.AppendEmpty()
		putAttributes(dp.Attributes(), p.Attributes.Iter())
		dp.SetStartTimestamp(timestamp(p.StartTime))
		dp.SetTimestamp(timestamp(p.Time))
		dp.SetCount(p.Count)
		dp.SetSum(float64(p.Sum))
		dp.ExplicitBounds().FromRaw(p.Bounds)
		dp.BucketCounts().FromRaw(p.BucketCounts)
		if v, ok := p.Min.Value(); ok {
			dp.SetMin(float64(v))
		}
		if v, ok := p.Max.Value(); ok {
			dp.SetMax(float64(v))
		}
	}
}

func expHistogram[N int64 | float64](h pmetric.ExponentialHistogram, a metricdata.ExponentialHistogram[N]) {
	h.SetAggregationTemporality(temporality(a.Temporality))
	dst := h.DataPoints()
	dst.EnsureCapacity(len(a.DataPoints))
	for i := range a.DataPoints {
		p := &a.DataPoints[i]
		dp := dst.AppendEmpty()
		putAttributes(dp.Attributes(), p.Attributes.Iter())
		dp.SetStartTimestamp(timestamp(p.StartTime))
		dp.SetTimestamp(timestamp(p.Time))
		dp.SetCount(p.Count)
		dp.SetSum(float64(p.Sum))
		dp.SetScale(p.Scale)
		dp.SetZeroCount(p.ZeroCount)
		dp.SetZeroThreshold(p.ZeroThreshold)
		dp.Positive().SetOffset(p.PositiveBucket.Offset)
		dp.Positive().BucketCounts().FromRaw(p.PositiveBucket.Counts)
		dp.Negative().SetOffset(p.NegativeBucket.Offset)
		dp.Negative().BucketCounts().FromRaw(p.NegativeBucket.Counts)
		if v, ok := p.Min.Value(); ok {
			dp.SetMin(float64(v))
		}
		if v, ok := p.Max.Value(); ok {
			dp.SetMax(float64(v))
		}
	}
}

func summary(s pmetric.Summary, a metricdata.Summary) {
	dst := s.DataPoints()
	dst.EnsureCapacity(len(a.DataPoints))
	for i := range a.DataPoints {
		p := &a.DataPoints[i]
		dp := dst.AppendEmpty()
		putAttributes(dp.Attributes(), p.Attributes.Iter())
		dp.SetStartTimestamp(timestamp(p.StartTime))
		dp.SetTimestamp(timestamp(p.Time))
		dp.SetCount(p.Count)
		dp.SetSum(p.Sum)
		qs := dp.QuantileValues()
		qs.EnsureCapacity(len(p.QuantileValues))
		for _, q := range p.QuantileValues {
			qv := qs.AppendEmpty()
			qv.SetQuantile(q.Quantile)
			qv.SetValue(q.Value)
		}
	}
}

func putAttributes(dst pcommon.Map, it attribute.Iterator) {
	dst.EnsureCapacity(it.Len())
	for it.Next() {
		kv := it.Attribute()
		putValue(dst.PutEmpty(string(kv.Key)), kv.Value)
	}
}

func putValue(dst pcommon.Value, v attribute.Value) {
	switch v.Type() {
	case attribute.BOOL:
		dst.SetBool(v.AsBool())
	case attribute.INT64:
		dst.SetInt(v.AsInt64())
	case attribute.FLOAT64:
		dst.SetDouble(v.AsFloat64())
	case attribute.STRING:
		dst.SetStr(v.AsString())
	case attribute.BOOLSLICE:
		s := dst.SetEmptySlice()
		for _, b := range v.AsBoolSlice() {
			s.AppendEmpty().SetBool(b)
		}
	case attribute.INT64SLICE:
		s := dst.SetEmptySlice()
		for _, n := range v.AsInt64Slice() {
			s.AppendEmpty().SetInt(n)
		}
	case attribute.FLOAT64SLICE:
		s := dst.SetEmptySlice()
		for _, f := range v.AsFloat64Slice() {
			s.AppendEmpty().SetDouble(f)
		}
	case attribute.STRINGSLICE:
		s := dst.SetEmptySlice()
		for _, str := range v.AsStringSlice() {
			s.AppendEmpty().SetStr(str)
		}
	case attribute.BYTESLICE:
		dst.SetEmptyBytes().FromRaw(v.AsByteSlice())
	case attribute.SLICE:
		s := dst.SetEmptySlice()
		for _, e := range v.AsSlice() {
			putValue(s.AppendEmpty(), e)
		}
	case attribute.MAP:
		m := dst.SetEmptyMap()
		for _, kv := range v.AsMap() {
			putValue(m.PutEmpty(string(kv.Key)), kv.Value)
		}
	}
}

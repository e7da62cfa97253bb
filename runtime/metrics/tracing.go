package metrics

import "github.com/prometheus/client_golang/prometheus"

// SpansDropped registers sluice_trace_spans_dropped_total{reason} and
// returns the function that counts spans the tracer dropped (reason
// queue_full or export_failed: tracing.Options.Dropped). Call it once,
// when tracing is on. A nil Metrics counts nothing.
func (m *Metrics) SpansDropped() func(reason string, n int) {
	if m == nil {
		return nil
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_trace_spans_dropped_total",
		Help: "Spans not exported: the export queue was full (queue_full) or the collector did not take their batch (export_failed)."},
		[]string{"reason"})
	m.reg.MustRegister(c)
	return func(reason string, n int) { c.WithLabelValues(reason).Add(float64(n)) }
}

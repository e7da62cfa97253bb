package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSpansDropped(t *testing.T) {
	m := New("test", []string{"r"}, nil)
	drop := m.SpansDropped()
	drop("queue_full", 3)
	drop("export_failed", 512)
	drop("queue_full", 1)
	want := `# HELP sluice_trace_spans_dropped_total Spans not exported: the export queue was full (queue_full) or the collector did not take their batch (export_failed).
# TYPE sluice_trace_spans_dropped_total counter
sluice_trace_spans_dropped_total{reason="export_failed"} 512
sluice_trace_spans_dropped_total{reason="queue_full"} 4
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sluice_trace_spans_dropped_total"); err != nil {
		t.Fatal(err)
	}
	var nilM *Metrics
	if nilM.SpansDropped() != nil {
		t.Fatal("a nil Metrics returned a counter")
	}
}

// Package charts draws a benchmark report as SVG charts with gonum.org/v1/plot:
// the throughput of every server next to its suite's ceiling, and one
// latency distribution chart per suite.
//
// It reads only a report.Report (the summaries' medians and percentiles), so
// a chart can be redrawn from a results JSON. Render is a pure function and
// safe for concurrent use.
package charts

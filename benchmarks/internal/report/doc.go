// Package report holds the ingest benchmark's results as plain data, derives
// the summary (per-round ratios against the baseline and their median), and
// renders it as a Markdown table and as JSON.
//
// Everything here is pure computation on a Report: no I/O except the writer
// passed in, no clocks. The JSON field names are the results file format
// (Schema names its version); change them only together with Schema.
package report

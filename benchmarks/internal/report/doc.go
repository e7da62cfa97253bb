// Package report holds the benchmark's results as plain data, derives the
// summaries (per-round ratios against each suite's baseline and their
// medians, latency percentiles, the restart suite's cold and warm medians)
// and the goals (G1, G2, G4, G9, G10, G11, the sender verification S1, and
// without a target the by-hand comparisons B*, the body sizes P1@*, the
// ordering modes O1 and O2 and the restart R1, each a median of per-round
// values with its verdict), and renders them as Markdown and JSON.
//
// Everything here is pure computation on a Report: no I/O except the writer
// passed in, no clocks. The JSON field names are the results file format
// (Schema names its version); change them only together with Schema.
package report

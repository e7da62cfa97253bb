// Package latency records request latencies in a fixed-size, log-linear
// histogram and answers quantile queries from it.
//
// It sits under the load generator (package load): every connection owns one
// Histogram and records into it without allocating or locking; the
// histograms are merged after the run.
//
// Buckets are exact below 32 ns and then split each power of two into 32
// equal sub-buckets, so a reported quantile is at most 1/32 (~3%) above the
// true value. Values at or above MaxValue are clamped into the last bucket.
// This is the layout of an HDR histogram with about 1.5 significant digits,
// without its auto-resizing. Coordinated-omission correction is the
// recorder's business, not the histogram's: the open-loop generator records
// each latency from the request's intended send time.
//
// A Histogram is not safe for concurrent use; give each goroutine its own and
// Merge them once the goroutines are done.
package latency

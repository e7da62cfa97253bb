// Package harness runs the ingest benchmark: it builds Sluice, starts the
// servers under test as child processes (the bare fasthttp baseline, Sluice
// with durability fsync, optionally Sluice with durability none), then for
// every connection count runs Rounds rounds, each round measuring every
// server once in the same order (A, B, C, A, B, C, ...), so slow drifts of a
// noisy machine hit all servers alike. Before each run it waits until all
// servers are idle, and while a run measures it samples the CPU time of the
// server under test and of the idle ones.
//
// Run returns a report.Report; rendering and writing it is the caller's job.
// Run is not safe for concurrent use (servers and the load generator would
// compete for the same cores and ports). It stops every child process and
// deletes its temporary directory before it returns, also on error and when
// its context is cancelled.
package harness

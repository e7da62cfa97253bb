// Package harness runs the benchmark suites. It builds Sluice, then for each
// load suite (ingest, e2e, sync, openloop, payload, verify, ordering) starts
// the suite's servers as child processes (the bare fasthttp ceiling or the sink,
// Sluice configured for the suite, the by-hand baseline), measures every
// load of the suite for Rounds rounds, each round measuring every server
// once in the same order (A, B, C, A, B, C, ...) so slow drifts of a noisy
// machine hit all servers alike, and stops the servers before the next
// suite. Before each run it waits until the suite's servers are idle; while
// a run measures it samples the CPU time of the server under test and of the
// idle ones, and for a route that delivers, the sink's POST count and
// Sluice's backlog (GET /v1/stats on the admin listener, which every Sluice
// of a load suite gets on a loopback port of its own). The sync suite also
// probes the disk (write + fdatasync) once per round. The verify suite sends
// every request, to both of its servers, with a valid GitHub signature of
// the fixed body, computed once per run. The payload, verify, ordering and
// restart suites run Config.ExtraRounds rounds of shorter windows. The restart suite has no
// load: each round starts Sluice on a fresh data dir (cold compilation
// cache), then on the same dir again (warm), and times each start to its
// first 200 on GET /healthz.
//
// Run returns a report.Report; rendering and writing it is the caller's job.
// Run is not safe for concurrent use (servers and the load generator would
// compete for the same cores and ports). It stops every child process and
// deletes its temporary directory before it returns, also on error and when
// its context is cancelled.
package harness

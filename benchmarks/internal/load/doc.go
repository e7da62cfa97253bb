// Package load is the closed-loop load generator of the ingest benchmark.
//
// Run opens Config.Conns keep-alive connections, one per goroutine, and each
// goroutine sends POSTs of a fixed body back to back: the next request leaves
// as soon as the previous answer arrived. After Config.Warmup it measures for
// Config.Measure, counting 202 answers, other status codes and transport
// errors, and recording the latency of every 202 in a per-connection
// histogram. Only requests that complete inside the measured window count.
//
// The load generator shares the machine with the server under test, so the
// request loop is kept lean: each goroutine owns its fasthttp.HostClient
// (MaxConns 1, so exactly Conns connections exist), Request, Response and
// histogram, and reuses them; a request allocates nothing in the harness
// (Result.AllocsPerRequest reports what the whole process allocated).
//
// Closed loop means a slow server slows the load down (coordinated omission):
// the latencies are those seen by Conns impatient clients, not by an open
// stream of independent arrivals. An open-loop generator is future work.
//
// Run is safe to call from one goroutine at a time; its Marker callback runs
// on the calling goroutine's control loop, not concurrently with itself.
package load

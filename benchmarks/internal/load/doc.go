// Package load is the load generator of the benchmarks: closed loop (as many
// requests as the server answers) and open loop (a fixed request rate).
//
// Run opens Config.Conns keep-alive connections, one per goroutine, each
// sending POSTs of a fixed body. After Config.Warmup it measures for
// Config.Measure, counting answers with Config.Status (202 by default),
// other status codes and transport errors, and recording the latency of
// every success in a per-connection histogram. Only requests that complete
// inside the measured window count.
//
// Closed loop (Rate 0): each connection sends the next request as soon as
// the previous answer arrived, so a slow server slows the load down
// (coordinated omission): the latencies are those of Conns impatient
// clients, not of an open stream of arrivals.
//
// Open loop (Rate > 0): a pacer goroutine on a locked OS thread releases one
// request every 1/Rate into a queue; the first free connection sends the
// oldest. Latency is measured from the request's intended send time, so a
// server that falls behind is charged for the whole wait (wrk2's correction);
// requests still due or on the wire when the window closes are recorded with
// the time they had waited by then (a lower bound) and counted as
// Result.Unfinished. Result.Service keeps the uncorrected latency from the
// actual send. The pacer wakes within ~0.1 ms (nanosleep), so the corrected
// latency includes up to about that much lag of the generator itself.
//
// The body is BodyBytes of letters, or with Config.JSONBody a JSON document
// of exactly that size (Body returns it, e.g. to sign it). Config.Headers go
// with every request unchanged. With Config.KeyHeader every request carries an
// ordering key: each connection cycles through Config.Keys values from its
// own starting point, so the keys interleave across connections. With
// Config.RejectBackoff a closed-loop connection pauses after an answer it
// did not expect (a 429 of a full backlog) instead of retrying at once.
//
// The load generator shares the machine with the server under test, so the
// request loop is kept lean: each goroutine owns its fasthttp.HostClient
// (MaxConns 1, so exactly Conns connections exist), Request, Response and
// histograms, and reuses them; a request allocates nothing in the harness
// (Result.AllocsPerRequest reports what the whole process allocated).
//
// Run is safe to call from one goroutine at a time; its Marker callback runs
// on the calling goroutine's control loop, not concurrently with itself.
package load

// Package bare is the ceiling every Sluice number is compared against: a
// plain fasthttp server that answers every POST with a fixed status and a
// small fixed JSON body shaped like Sluice's 202, without reading, storing or
// copying the body beyond what fasthttp itself does, and counts the POSTs.
//
// It plays two parts. With status 202 it is the ingest baseline ("bare").
// With status 200 it is the sink: the destination a Sluice route delivers to,
// and the server the destination-direct runs load straight. GET /v1/count
// returns how many POSTs it answered, so the harness can count deliveries.
//
// The harness runs it in a separate process (its own binary re-executed with
// a hidden subcommand) so it pays the same process and scheduling costs as
// the Sluice server. GET /healthz answers 200 for the readiness check.
//
// A Server is safe for concurrent use; its POST path does not allocate (one
// atomic add per request).
package bare

// Package bare is the baseline server of the ingest benchmark: a plain
// fasthttp server that answers every POST with 202 Accepted and a small fixed
// JSON body shaped like Sluice's, without reading, storing or copying the
// body beyond what fasthttp itself does. It is the ceiling Sluice's ingest is
// compared against.
//
// The harness runs it in a separate process (its own binary re-executed with
// a hidden subcommand) so it pays the same process and scheduling costs as
// the Sluice server. GET /healthz answers 200 for the readiness check.
//
// The handler is safe for concurrent use and does not allocate.
package bare

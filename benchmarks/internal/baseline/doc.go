// Package baseline is "what you would write by hand": the peer a reader
// would build instead of running Sluice, measured side by side with it. It is
// a baseline for comparison, not a design to copy.
//
// Per request, a net/http handler reads the body, instantiates a fresh
// wazero instance of the transform module (compiled once at start), calls
// sluice_alloc, writes the body into guest memory, calls sluice_transform and
// takes the output the guest passed to the host function sluice.set_output
// (Sluice ABI v1, sdk/ABI.md), closes the instance, then stores the output in
// Badger in a transaction of its own (SyncWrites: true, so the commit
// fsyncs) and answers 202 with a small JSON body. No queue, no worker, no
// group commit beyond what Badger does on its own, no delivery.
//
// The harness runs it in a separate process through a hidden subcommand of
// its own binary, like the bare server. GET /healthz answers 200.
//
// A Server is safe for concurrent use: net/http runs one goroutine per
// connection and every request gets its own instance and transaction.
package baseline

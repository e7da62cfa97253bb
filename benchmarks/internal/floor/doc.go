// Package floor is the least a durable ingest can do on this machine, the
// reference that says how much of a gap to bare fasthttp any design must
// leave: every POSTed body is written to one file by a group commit before
// the request is answered. The file is zero-filled and synced at start and
// then written round and round, so a sync commits no size or extent (as a
// log that recycles its files would: 40-120 µs less per sync at one
// connection than after an append, no difference at 64). The commit has no goroutine of its own (as
// LevelDB's writers): the request that finds no batch being written leads,
// and writes everything queued so far with one write and one fdatasync;
// the others wait, and a leader that leaves a queue hands the lead to its
// first waiter. So at one connection a request never changes goroutines
// (each hand-off wakes an idle core, ~20-50 µs on this VM), and under load
// the batches are as large as with a committer goroutine (two or four
// files synced in parallel did not do better). No correlation id, no record, no queue, no worker,
// no retention: everything Sluice does on top of this is what separates the
// two.
//
// With a forward URL it is also the least a delivering route can do:
//   - reply (a sync route): after the commit, on the same goroutine, the
//     body is POSTed to the destination and the request is answered with its
//     status and body (delivering while the body syncs, on another
//     goroutine, was slower at one connection: 540 against ~300 µs);
//   - otherwise (an async route): the request is answered 202 after the
//     commit and the body is POSTed to the destination by a pool of
//     forwarders, from memory.
//
// GET /healthz answers 200.
//
// The harness runs it in a separate process through a hidden subcommand of
// its own binary, like the bare server. It is a yardstick, not a design to
// copy: a crash loses the in-memory forwards of the async mode.
package floor

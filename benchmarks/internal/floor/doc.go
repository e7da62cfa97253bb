// Package floor is the least a durable ingest can do on this machine, the
// reference that says how much of a gap to bare fasthttp any design must
// leave: every POSTed body is appended to one file by a group commit (one
// goroutine takes whatever arrived while the last batch was written, writes
// it with one write and makes it durable with one fdatasync) before the
// request is answered. No correlation id, no record, no queue, no worker,
// no retention: everything Sluice does on top of this is what separates the
// two.
//
// With a forward URL it is also the least a delivering route can do:
//   - reply (a sync route): the body is POSTed to the destination while it
//     syncs, and the request is answered with the destination's status and
//     body once both are done;
//   - otherwise (an async route): the request is answered 202 after the
//     commit and the body is POSTed to the destination by a pool of
//     forwarders, from memory.
//
// The file is cut back to empty past 256 MiB (Sluice deletes its segments
// too), so a long run does not fill the disk. GET /healthz answers 200.
//
// The harness runs it in a separate process through a hidden subcommand of
// its own binary, like the bare server. It is a yardstick, not a design to
// copy: a crash loses the in-memory forwards of the async mode.
package floor

// Package queue is Sluice's durable message log: the stage between the ingress
// and the workers.
//
// The ingress calls [Queue.Append]; it returns only once the message is in the
// log (and, with [DurabilityFsync], once the batch holding it has been
// fsynced), so an acknowledged message survives a crash. Workers call
// [Queue.Next] to claim the next message that may run under its route's
// ordering rule and [Queue.Complete] to record its final state; completing a
// message and storing its record is one write, so a crash never leaves one
// without the other. On [Open] every message without a final record is handed
// out again (at-least-once).
//
// The embedded implementation ([Open]) keeps each message in Sluice's own
// append-only segment files and everything that changes in Badger
// (segment.go). One committer goroutine (committer.go) owns every write but
// one (an append to an idle log is written and synced by its caller, with
// no hand-off: lead): concurrent appends and completions are drained into
// one batch; the batch's messages
// are one frame appended to the active segment with one write and one
// fdatasync (group commit; the next batch collects meanwhile; the
// messages are scheduled once the frame is written, so they run while it
// syncs, but are acknowledged after the sync and their outcomes written
// after it too), then its
// outcomes, retry states, dead letters and idempotency keys are one Badger
// write, not synced: a segment is deleted only after a Badger sync covers
// the outcomes of all its messages, so a lost Badger write means a message
// runs again, never that one is lost. A final record whose body is its
// message's own body refers to the message's copy instead of holding a
// second one, and keeps its segment for the retention (retained.go). The
// committer's four operations
// (opAppend, opComplete, opRetry, opDead) are what another backend
// implements. Ordering and the bounded backlog live in memory in a
// scheduler that another backend (for example a replicated stream) can
// reuse.
//
// A full disk is an error, never a crash. Badger writes through mmap'd files
// and dies with SIGBUS when the file system runs out under a mapping, so the
// log keeps a free-space budget in front of it (disk.go): the committer
// charges every batch before writing it; appends fail with [ErrDiskFull]
// below the line (Stats.DiskMinFree, drain mode, reported by Ready);
// outcomes are still written down to the floor kept for Badger's own
// flushes and compactions (Stats.DiskFloor), and wait below it; Open and
// Close fail with ErrDiskFull instead of letting Badger flush into a disk
// without room.
//
// A Queue is safe for concurrent use. Messages returned by Next are owned by
// the caller until it passes them to Complete, Retry or Dead.
//
// Completion is a hand-off in two steps. Complete, Retry and Dead only
// queue the write and return (an error then means the log is closing: done
// is not called, and the message stays in the log and runs again after a
// restart); the done function passed with them is the way back. When the
// call returned nil, the committer goroutine calls done exactly once, after
// the batch holding the write is committed, with a nil error or with the
// error that kept it from being written; by then the scheduler has acted
// on it (the key released or parked, or the message due again). Done
// functions run one after another in the batch's order, on the committer
// goroutine, so they must not block and must not call the Queue: the next
// batch waits for them. The worker's done for a final record
// (runtime/worker, type recorded) is where a callback is queued, so the
// callback sender never reads a record that is not written. A final
// record is the log's from the moment Complete or Dead returns nil: Lookup
// answers with it while the write is queued (and stops if the write
// fails), so the worker wakes a waiting sync caller right then instead of
// after the committer's cycle. The record is not synced either way (see
// segment.go): a crash before it is written runs the message again.
package queue

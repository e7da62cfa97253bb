package queue

import (
	"context"
	"errors"
	"time"
)

var (
	errClosed       = errors.New("queue: closed")
	errBacklogFull  = errors.New("queue: backlog full")
	errNotFound     = errors.New("queue: not found")
	errCorruptValue = errors.New("queue: corrupt value")
	errNotDead      = errors.New("queue: not a dead letter")
	errRouteFull    = errors.New("queue: route backlog full")
	errDiskFull     = errors.New("queue: disk almost full")
)

// Sentinel errors callers test with errors.Is.
var (
	ErrClosed      = errClosed      // the queue is closed or closing
	ErrBacklogFull = errBacklogFull // the in-memory backlog limit is reached; retry later
	ErrNotFound    = errNotFound    // no record for that id
	ErrNotDead     = errNotDead     // Replay or Discard of a message that is not a dead letter
	// ErrRouteBacklogFull: the message's route reached its own backlog limit.
	ErrRouteBacklogFull = errRouteFull
	// ErrDiskFull: the log's file system has less free space than
	// Options.MinFreeBytes; nothing was stored.
	ErrDiskFull = errDiskFull
)

// Error codes of the log's refusals, as the ingress answers them (the
// status of each is in runtime/errcode).
const (
	CodeBacklogFull      = "backlog_full"       // ErrBacklogFull
	CodeRouteBacklogFull = "route_backlog_full" // ErrRouteBacklogFull
	CodeDiskFull         = "disk_full"          // ErrDiskFull
	CodeUnavailable      = "log_unavailable"    // any other error: the log could not store or read
)

// ID is a message's correlation id: 16 bytes (a UUIDv7 at the ingress).
type ID [16]byte

// Header is one request header carried with a message.
type Header struct {
	Name, Value string
}

// Message is one accepted request.
type Message struct {
	ID          ID
	Seq         uint64 // position in the log; assigned by Append
	Route       string
	Key         string // ordering key: messages with the same non-empty key run one at a time, in Seq order
	Sync        bool   // a caller waits for the reply (the message still completes if it vanished)
	Received    time.Time
	ContentType string
	Headers     []Header
	Body        []byte

	// Retry state, kept with the message in the log (Retry).
	Attempts  uint32    // attempts made so far
	NotBefore time.Time // the next attempt's earliest start; zero: now
	State     []byte    // opaque to the queue: the caller's record of the attempts

	// Idempotency: with a key, Append also stores (Route, IdemKey) -> (ID,
	// IdemHash) for IdemTTL, in the same batch (see Idempotent).
	IdemKey  string
	IdemHash [32]byte
	IdemTTL  time.Duration

	// Dead letters (Dead): kept for a replay, never scheduled.
	Dead   bool
	Parked bool // its key waits until the message is replayed or discarded

	seg    *segment // the segment file it is read from (owned by the committer); nil: in Badger (m<id>)
	bodyAt int64    // where its body starts in seg's file (committer); 0: not known (recovered)
	// final is its final record from the moment Complete or Dead is called
	// until the committer has written it (Lookup answers from it
	// meanwhile); guarded by Log.pendMu.
	final *Record
}

// Size is what the message counts against the backlog's byte limit.
func (m *Message) Size() int64 {
	n := len(m.Body) + len(m.Route) + len(m.Key) + len(m.ContentType) + 64
	for _, h := range m.Headers {
		n += len(h.Name) + len(h.Value)
	}
	return int64(n)
}

// Status is a message's lifecycle state.
type Status uint8

const (
	StatusAccepted   Status = iota + 1 // in the log, waiting
	StatusProcessing                   // claimed by a worker
	StatusSucceeded                    // final
	StatusFailed                       // final
	StatusRetrying                     // an attempt failed; waiting for the next one, or making it
	StatusDead                         // gave up: in its route's dead letters, replayable
)

func (s Status) String() string {
	switch s {
	case StatusAccepted:
		return "accepted"
	case StatusProcessing:
		return "processing"
	case StatusSucceeded:
		return "succeeded"
	case StatusFailed:
		return "failed"
	case StatusRetrying:
		return "retrying"
	case StatusDead:
		return "dead"
	}
	return "unknown"
}

// Final reports whether no further processing will happen.
func (s Status) Final() bool { return s == StatusSucceeded || s == StatusFailed || s == StatusDead }

// Record is what the queue knows about a message by its id. Payload is
// opaque to the queue and holds one of two things, told apart by Status:
// for a final status, what the caller of Complete or Dead encoded (the
// outcome: response, error, attempt log); for StatusRetrying, the waiting
// message's State (the caller's attempt log so far, as given to Retry).
// The worker writes both with runtime/results, which reads either back.
type Record struct {
	ID       ID
	Route    string
	Status   Status
	Attempts uint32
	Created  time.Time
	Updated  time.Time
	Payload  []byte
	// NextAttempt (Lookup, StatusRetrying): when the next attempt may start;
	// zero while it is being made.
	NextAttempt time.Time
	// Notify (Complete, Dead): also queue a callback for the message in the
	// same batch (Callbacks lists them until CallbackDone).
	Notify bool
	// Tail (Complete): the last Tail bytes of Payload are the message's own
	// body, unchanged (a route without destination whose transforms did not
	// change it, a destination that echoed it). The log may then keep them
	// as a reference to the message's copy instead of writing them again
	// (retained.go); Lookup returns the whole Payload either way.
	Tail int
}

// DeadLetter is a message its route gave up on, with its final record.
type DeadLetter struct {
	Message *Message
	Record  Record
	Cursor  uint64
}

// Durability says when Append returns.
type Durability uint8

const (
	DurabilityFsync Durability = iota // after the batch holding the message is fsynced
	DurabilityNone                    // after it is written to the log (survives a process crash, not power loss)
)

// Queue is the seam between the drivers (ingress, worker) and a log backend.
type Queue interface {
	// Append stores m durably and schedules it. It assigns m.Seq. It fails with
	// ErrBacklogFull when the backlog limit is reached, ErrRouteBacklogFull
	// when m's route's is, and ErrDiskFull when the disk is almost full,
	// without storing m.
	// m must not be modified after Append is called.
	Append(m *Message) error
	// Next blocks until a message may run, claims it and returns it.
	Next(ctx context.Context) (*Message, error)
	// Complete stores rec as m's final record, removes m from the log and
	// releases m's ordering key (only after the record is written, so the
	// next message of the key never overtakes it). It does not wait for the
	// write: done, if not nil, is called once the record is written (err nil)
	// or could not be (the message then runs again after a restart). done
	// runs on the log's writer goroutine and must not block.
	Complete(m *Message, rec *Record, done func(err error)) error
	// Retry stores m again with its updated Attempts, NotBefore and State and
	// runs it again at NotBefore. m keeps its ordering key meanwhile: later
	// messages of the key wait. Like Complete it does not wait for the write;
	// done, if not nil, runs once it is written. A message waiting for its
	// next attempt survives a restart.
	Retry(m *Message, done func(err error)) error
	// Dead stores rec (Status StatusDead) as m's record and keeps m as a dead
	// letter of its route. With park, m's key stays held until Replay or
	// Discard; else the key's next message runs. Asynchronous like Complete.
	Dead(m *Message, rec *Record, park bool, done func(err error)) error
	// DeadLetters lists a route's dead letters in the order they died,
	// starting after the cursor (0: from the start); next is 0 at the end.
	DeadLetters(route string, after uint64, limit int) (letters []DeadLetter, next uint64, err error)
	// Replay runs a dead letter again from its first attempt, under its
	// correlation id; Discard drops it (its dead record stays). Both release a
	// parked key.
	Replay(id ID) error
	Discard(id ID) error
	// Idempotent returns the message stored under an idempotency key of a
	// route and its body's hash; ErrNotFound if none (or it expired).
	Idempotent(route, key string) (ID, [32]byte, error)
	// Callbacks lists the messages whose final record still has a callback
	// to send; CallbackDone forgets one.
	Callbacks() ([]ID, error)
	CallbackDone(id ID) error
	// Lookup returns the record for id; ErrNotFound if there is none.
	Lookup(id ID) (Record, error)
	// Close stops accepting work and releases the backend.
	Close() error
}

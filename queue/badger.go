package queue

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Options configure the embedded Badger log.
type Options struct {
	Dir        string
	Durability Durability
	Limits     Limits
	// Memory is the budget of anonymous memory for the backlog and Badger's
	// memtables (SplitMemory; 0: DefaultMemory). It sizes Badger; the
	// backlog's byte limit is Limits.Bytes, which the caller sets (by
	// default to MemorySplit.Backlog).
	Memory int64
	// MaxBatch caps the operations written in one commit (default 4096).
	MaxBatch int
	Logger   *slog.Logger
	// Retention is how long a final record (succeeded or failed) is kept;
	// 0 keeps it forever. Dead letters stay until replayed or discarded.
	Retention time.Duration
	// GCInterval is how often the value log is garbage-collected (default
	// 10m); expired and deleted entries give their space back.
	GCInterval time.Duration
	// MinFreeBytes: while the file system holding Dir has less space
	// available, Append fails with ErrDiskFull. The committer charges every
	// batch against the free space before writing it, and measures the
	// file system again whenever a batch would cross a line (and every
	// second). The line is never below the floor that the log keeps for
	// Badger's own writes plus a headroom for outcomes (Stats.DiskFloor,
	// Stats.DiskMinFree): under the floor not even outcomes are written,
	// they wait. AutoMinFree picks it from the file system. 0 disables the
	// guard entirely: Badger then crashes (SIGBUS) when the disk fills up.
	MinFreeBytes int64
	// OnCommit, if set, is called by the committer after every group commit
	// (metrics); it must be quick and must not call the Log.
	OnCommit func(Commit)

	freeBytes    func(dir string) (free, total int64, err error) // the file system's space (tests stub it)
	diskInterval time.Duration                                   // how often to measure when idle (tests); default diskInterval
	memTable     int64                                           // the budget's memtable size (Open sets it)
	segmentBytes int64                                           // the active segment's cap (tests); default segmentSize
	evacuate     time.Duration                                   // a sealed segment's age limit (tests); default evacuateAge
	syncGate     chan struct{}                                   // tests: each fdatasync waits for a token
}

// Commit describes one group commit (Options.OnCommit).
type Commit struct {
	Appended int           // messages made durable by it
	Write    time.Duration // writing the batch to Badger
	Sync     time.Duration // its fsync (0: none)
}

// Log is the embedded [Queue]: Badger on local disk with group commit.
type Log struct {
	db    *badger.DB
	opts  Options
	sched *scheduler
	log   *slog.Logger

	mu     sync.RWMutex // held (read) while sending on ops, (write) to close it
	closed bool
	ops    chan *op
	exited chan struct{}
	gcDone chan struct{} // closed when the value-log GC loop returned

	space    space         // the free-space budget (disk.go)
	diskLow  atomic.Bool   // under the line: appends fail (space.low, for Ready)
	diskDone chan struct{} // closed when the free-space loop returned

	// writer is held by whoever writes the log: the committer for each
	// cycle, or an appender leading its own commit while the log is idle
	// (lead) for the frame's write (not its sync). It guards the state
	// marked "committer" below, except queued and opsClosed (the committer
	// goroutine's own).
	writer  sync.Mutex
	leading atomic.Bool   // an appender leads a commit (lead); one at a time
	holding atomic.Bool   // the committer holds ops not written yet: no appender leads
	synced  chan struct{} // a leader's frame is synced: the committer may write appends again
	// A leader's batch and appends (lead).
	own         []*op
	ownAppended []*Message

	nextSeq  uint64 // owned by the committer
	maxBytes int64  // a batch's size cap: it must fit one Badger transaction
	maxOps   int    // a batch's op cap: the same, in entries

	segs          segments      // the messages' files (segment.go); owned by the committer
	syncer        *syncer       // fdatasyncs a batch's frame while its Badger part is written
	queued        []*op         // taken from ops, not yet written (committer only)
	opsClosed     bool          // ops is closed and drained into queued (committer only)
	side          []*op         // a batch written while a frame syncs (waitSync)
	syncingFrom   atomic.Uint64 // the first Seq of the frame being synced; 0: none (set under writer)
	sideArena     []byte
	evacuateAfter time.Duration // a sealed segment older than this moves its live messages into Badger

	pendMu  sync.RWMutex
	pending map[ID]*Message // appended and not final: Lookup of a message read from a segment, or of a final record not yet written

	stats struct {
		batches, syncs, appends, completes atomic.Uint64
		led                                atomic.Uint64
		writeNanos, syncNanos              atomic.Uint64
		diskFree, diskFloor, diskLine      atomic.Int64  // at the last measurement
		diskHeld                           atomic.Int64  // ops held for space
		diskChecks, diskRefused            atomic.Uint64 // measurements, appends refused for space
		completedBytes                     atomic.Int64  // sizes of the messages completed (their space can be reclaimed)
		reclaims                           atomic.Uint64 // forced flushes and compactions (reclaim)
		syncedSeq                          atomic.Uint64 // every message with Seq <= this is synced
		largestBatch                       atomic.Int64  // estimated bytes of the largest batch (tests)
		segments, segmentBytes             atomic.Int64  // segment files and their bytes
		segmentsDeleted, evacuated         atomic.Uint64 // segment files deleted; messages moved out of old segments
		recycled                           atomic.Uint64 // segments opened on a recycled file
		keptSegments                       atomic.Int64  // segments kept for the records that refer to them
		inlined                            atomic.Uint64 // records rewritten with their body out of a segment
	}
}

// Stats are counters for tests and metrics.
type Stats struct {
	Batches      uint64 `json:"batches"`       // batches written (committer cycles and leaders' appends)
	Led          uint64 `json:"led"`           // appends written and synced by their own appender: the log was idle (lead)
	Syncs        uint64 `json:"syncs"`         // fsyncs
	Appends      uint64 `json:"appends"`       // messages made durable
	Completes    uint64 `json:"completes"`     // outcomes written
	SyncedSeq    uint64 `json:"synced_seq"`    // every message with Seq <= this is durable
	Backlog      int    `json:"backlog"`       // messages accepted and not completed
	BacklogBytes int64  `json:"backlog_bytes"` // their size
	WriteNanos   uint64 `json:"write_nanos"`   // time spent writing batches to Badger
	SyncNanos    uint64 `json:"sync_nanos"`    // time spent in fsync
	DiskFree     int64  `json:"disk_free"`     // bytes available on the log's file system (last measurement)
	DiskLow      bool   `json:"disk_low"`      // under DiskMinFree: appends are refused (drain mode)
	// DiskFloor is the space kept free for Badger's own writes: the tables
	// of the WALs (flushes, Close, the next Open), what compactions may
	// write before they delete their inputs (up to the size of the tree), a
	// value-log GC. Nothing is written below it. DiskMinFree is where
	// appends stop: MinFreeBytes, or the floor plus a headroom for outcomes
	// if that is more. Both are from the last measurement.
	DiskFloor    int64  `json:"disk_floor"`
	DiskMinFree  int64  `json:"disk_min_free"`
	DiskHeld     int    `json:"disk_held"`     // outcomes waiting for space (under the floor)
	DiskChecks   uint64 `json:"disk_checks"`   // free-space measurements (statfs and Badger's file sizes)
	DiskRefused  uint64 `json:"disk_refused"`  // appends refused with ErrDiskFull
	DiskReclaims uint64 `json:"disk_reclaims"` // forced flushes and compactions to get space back (drain mode)
	// Segment files (segment.go): how many there are and their bytes, how
	// many were deleted once their messages were final, and messages moved
	// into Badger out of a segment that lived too long. Of the segments,
	// KeptSegments hold only bodies of retained results that refer to them
	// (retained.go); Inlined counts such results rewritten with their body
	// so that a segment could go. Recycled counts segments written into a
	// deleted segment's file.
	Segments        int    `json:"segments"`
	SegmentBytes    int64  `json:"segment_bytes"`
	SegmentsDeleted uint64 `json:"segments_deleted"`
	Evacuated       uint64 `json:"evacuated"`
	KeptSegments    int    `json:"kept_segments"`
	Inlined         uint64 `json:"inlined"`
	Recycled        uint64 `json:"recycled_segments"`
}

// Open opens (or creates) the log in opts.Dir, recovers every pending message
// into the scheduler and starts the committer. With the free-space guard on
// it fails with ErrDiskFull, before Badger replays anything, if the file
// system has less than the log's floor free (Stats.DiskFloor); between the
// floor and the line it opens in drain mode (Ready reports ErrDiskFull).
func Open(opts Options) (*Log, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.freeBytes == nil {
		opts.freeBytes = freeBytes
	}
	if opts.diskInterval <= 0 {
		opts.diskInterval = diskInterval
	}
	split, err := SplitMemory(opts.Memory)
	if err != nil {
		return nil, err
	}
	opts.memTable = split.MemTable
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("queue: creating %s: %w", opts.Dir, err)
	}
	sp, err := openSpace(opts)
	if err != nil {
		return nil, err
	}
	bo := split.options(sp.sz.options(badger.DefaultOptions(opts.Dir).
		WithSyncWrites(false). // the committer syncs once per batch itself
		// Only WithLogger: WithLoggingLevel would replace the logger with
		// Badger's own, which prints "WARNING: ..." lines past Sluice's.
		WithLogger(badgerLogger{opts.Logger}).
		WithDetectConflicts(false).
		WithCompression(options.None)))
	split.MemTable = sp.sz.memTable
	opts.Logger.Info("memory budget", "memory", byteCount(split.Budget), "backlog_max_bytes", byteCount(opts.Limits.Bytes),
		"memtable", byteCount(split.MemTable), "num_memtables", split.NumMemtables, "memtables_max", byteCount(split.Badger()),
		"block_cache", byteCount(split.BlockCache), "index_cache", byteCount(split.IndexCache))
	db, err := badger.Open(bo)
	if err != nil {
		// After a crash the first open occasionally fails and a second one
		// succeeds (badger #2207).
		opts.Logger.Warn("opening badger failed, retrying once", "err", err)
		db, err = badger.Open(bo)
		if err != nil {
			return nil, fmt.Errorf("queue: opening badger in %s: %w", opts.Dir, err)
		}
	}
	l := &Log{
		db:       db,
		opts:     opts,
		sched:    newScheduler(opts.Limits),
		log:      opts.Logger,
		ops:      make(chan *op, opts.MaxBatch),
		synced:   make(chan struct{}, 1),
		exited:   make(chan struct{}),
		gcDone:   make(chan struct{}),
		diskDone: make(chan struct{}),
		// A WriteBatch larger than one transaction is committed as several
		// requests, and Badger may switch memtables between them; db.Sync
		// then syncs only the newest memtable's WAL. Keeping every batch
		// within one transaction keeps it in one memtable, which the sync
		// after it covers. Half the limit leaves room for the estimate.
		maxBytes: db.MaxBatchSize() / 2,
		// An op writes up to four entries; small memtables (small disks)
		// allow fewer entries per transaction than MaxBatch ops.
		maxOps:        int(min(int64(opts.MaxBatch), max(db.MaxBatchCount()/8, 1))),
		evacuateAfter: cmp.Or(opts.evacuate, evacuateAge(opts.Retention)),
		pending:       make(map[ID]*Message),
	}
	var total int64
	if _, t, err := opts.freeBytes(opts.Dir); err == nil {
		total = t
	}
	l.segs = segments{dir: filepath.Join(opts.Dir, segmentDir), maxBytes: cmp.Or(opts.segmentBytes, segmentSize(total)),
		sync: opts.Durability == DurabilityFsync, all: make(map[uint64]*segment)}
	if err := os.MkdirAll(l.segs.dir, 0o700); err != nil {
		db.Close()
		return nil, fmt.Errorf("queue: creating %s: %w", l.segs.dir, err)
	}
	l.space.on, l.space.minFree, l.space.sz, l.space.backoff = sp.on, sp.minFree, sp.sz, reclaimInterval
	l.segs.removeFree()
	n, err := l.recover()
	if err != nil {
		db.Close()
		return nil, err
	}
	if n > 0 {
		l.log.Info("recovered pending messages", "count", n)
	}
	l.check(false) // before the first append can come: a short disk starts in drain mode
	go l.every(opts.diskInterval, l.diskDone, l.checkDisk)
	l.syncer = newSyncer(opts.syncGate)
	go l.commitLoop()
	if l.opts.GCInterval <= 0 {
		l.opts.GCInterval = 10 * time.Minute
	}
	go l.every(l.opts.GCInterval, l.gcDone, l.collectValueLog)
	return l, nil
}

// every runs f every d until the log closes, then closes done.
func (l *Log) every(d time.Duration, done chan struct{}, f func()) {
	defer close(done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-l.exited:
			return
		case <-t.C:
			f()
		}
	}
}

// collectValueLog reclaims value-log space (run every GCInterval): records
// past their retention, completed messages and dead letters that were
// replayed. Expired and deleted keys leave the LSM tree in compactions on
// their own.
func (l *Log) collectValueLog() {
	n := 0
	for l.db.RunValueLogGC(0.5) == nil { // a file rewritten: try another
		n++
	}
	if n > 0 {
		l.log.Info("value log garbage-collected", "files", n)
	}
}

// recover loads the pending messages: those that left their segment
// (m<id> in Badger), then every message of the segment files that has no
// record and did not leave; it restores the order in which they were
// appended (their Seq), puts back idempotency keys Badger may have lost
// (its writes are not synced), deletes segments without a live message,
// and continues the sequence after every message seen.
func (l *Log) recover() (int, error) {
	var pending []*Message
	left := make(map[ID]struct{}) // ids with an m<id>: their segment copy is old
	var maxSeq uint64
	err := l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256, Prefix: []byte{prefixMessage}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			err := item.Value(func(v []byte) error {
				m, err := decodeMessage(v)
				if err != nil {
					return fmt.Errorf("decoding message %x: %w", item.Key(), err)
				}
				left[m.ID] = struct{}{}
				maxSeq = max(maxSeq, m.Seq)
				pending = append(pending, m)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue: recovering: %w", err)
	}
	ns, err := listSegments(l.segs.dir)
	if err != nil {
		return 0, fmt.Errorf("queue: recovering: %w", err)
	}
	marks, err := l.keptMarks()
	if err != nil {
		return 0, fmt.Errorf("queue: recovering: %w", err)
	}
	now := time.Now()
	wb := l.db.NewWriteBatch()
	defer wb.Cancel()
	err = l.db.View(func(txn *badger.Txn) error {
		for _, n := range ns {
			seg := &segment{n: n, sealed: true, created: now}
			l.segs.last = max(l.segs.last, n)
			if keep, ok := marks[n]; ok { // every message final: kept for the records that refer to it
				fi, err := os.Stat(segmentPath(l.segs.dir, n))
				if err != nil {
					return err
				}
				seg.bytes, seg.keep = fi.Size(), keep
				l.segs.kept.add(seg)
				continue
			}
			l.segs.all[n] = seg
			size, err := readSegment(l.segs.dir, n, func(m *Message) error {
				maxSeq = max(maxSeq, m.Seq)
				if _, ok := left[m.ID]; ok {
					return nil
				}
				if item, err := txn.Get(recordKey(m.ID)); err == nil {
					return recoverRef(seg, m.ID, item) // final
				} else if !errors.Is(err, badger.ErrKeyNotFound) {
					return err
				}
				m.seg = seg
				seg.live++
				pending = append(pending, m)
				if ttl := m.Received.Add(m.IdemTTL).Sub(now); m.IdemKey != "" && ttl > 0 {
					return wb.SetEntry(badger.NewEntry(idemKey(m.Route, m.IdemKey), idemValue(m)).WithTTL(ttl))
				}
				return nil
			})
			if err != nil {
				return err
			}
			seg.bytes = size
		}
		return nil
	})
	if err == nil {
		err = wb.Flush()
	}
	if err != nil {
		return 0, fmt.Errorf("queue: recovering: %w", err)
	}
	slices.SortFunc(pending, func(a, b *Message) int { return cmp.Compare(a.Seq, b.Seq) })
	l.nextSeq = maxSeq + 1
	l.stats.syncedSeq.Store(maxSeq)
	for _, m := range pending { // those in Badger (m<id>) too: Lookup reads a final record here before it is written
		l.pending[m.ID] = m
	}
	l.sched.push(pending, true)
	l.dropSegments()
	return len(pending), nil
}

// Ready reports whether Append can accept messages: ErrDiskFull while the
// disk is under MinFreeBytes, nil otherwise.
func (l *Log) Ready() error {
	if l.diskLow.Load() {
		return errDiskFull
	}
	return nil
}

// Append implements [Queue].
func (l *Log) Append(m *Message) error {
	if err := l.Ready(); err != nil {
		l.stats.diskRefused.Add(1)
		return err
	}
	if err := l.sched.reserve(m); err != nil {
		return err
	}
	if err := l.submit(m); err != nil {
		return err // the committer released the reservation, or we never sent
	}
	return nil
}

// Complete implements [Queue].
func (l *Log) Complete(m *Message, rec *Record, done func(error)) error {
	rec.ID = m.ID
	rec.Route = m.Route
	if rec.Created.IsZero() {
		rec.Created = m.Received
	}
	o := newOp(m)
	o.kind, o.rec, o.onDone = opComplete, rec, done
	return l.sendFinal(o)
}

// sendFinal sends a Complete or Dead op, its record visible to Lookup from
// now on: the caller may answer a sync request with the outcome before the
// committer writes it, and a read of the result that follows the answer
// must find it.
func (l *Log) sendFinal(o *op) error {
	if o.rec.Updated.IsZero() {
		o.rec.Updated = time.Now().UTC()
	}
	m := o.msg
	l.pendMu.Lock()
	p := l.pending[m.ID]
	if p != nil {
		p.final = o.rec
	}
	l.pendMu.Unlock()
	err := l.send(o)
	if err != nil {
		l.forgetFinal(m)
	}
	return err
}

// Retry implements [Queue].
func (l *Log) Retry(m *Message, done func(error)) error {
	l.sched.retrying(m) // Lookup shows the retry from now on, not the attempt before
	o := newOp(m)
	o.kind, o.onDone = opRetry, done
	if err := l.send(o); err != nil {
		l.sched.forgetRetry(m.ID)
		return err
	}
	return nil
}

// Dead implements [Queue].
func (l *Log) Dead(m *Message, rec *Record, park bool, done func(error)) error {
	rec.ID, rec.Route, rec.Status = m.ID, m.Route, StatusDead
	if rec.Created.IsZero() {
		rec.Created = m.Received
	}
	o := newOp(m)
	o.kind, o.rec, o.park, o.onDone = opDead, rec, park, done
	return l.sendFinal(o)
}

// DeadLetters implements [Queue].
func (l *Log) DeadLetters(route string, after uint64, limit int) ([]DeadLetter, uint64, error) {
	var out []DeadLetter
	var next uint64
	prefix := deadKey(route, 0)[:len(route)+2]
	err := l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(deadKey(route, after+1)); it.Valid(); it.Next() {
			k := it.Item().Key()
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			if len(out) == limit {
				next = after
				break
			}
			var id ID
			if err := it.Item().Value(func(v []byte) error { copy(id[:], v); return nil }); err != nil {
				return err
			}
			m, rec, err := readDead(txn, id)
			if err != nil {
				return err
			}
			out = append(out, DeadLetter{Message: m, Record: rec, Cursor: seq})
			after = seq
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("queue: listing dead letters: %w", err)
	}
	return out, next, nil
}

// RouteBacklog reports a route's messages accepted and not completed, and
// their bytes.
func (l *Log) RouteBacklog(route string) (int, int64) { return l.sched.routeBacklog(route) }

// DeadCount counts a route's dead letters (reading keys only: the cost
// grows with their number).
func (l *Log) DeadCount(route string) (int, error) {
	n := 0
	prefix := deadKey(route, 0)[:len(route)+2]
	err := l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue: counting dead letters: %w", err)
	}
	return n, nil
}

// readDead reads a dead letter's message and record.
func readDead(txn *badger.Txn, id ID) (*Message, Record, error) {
	var m *Message
	var rec Record
	item, err := txn.Get(messageKey(id))
	if err != nil {
		return nil, rec, err
	}
	if err := item.Value(func(v []byte) (err error) { m, err = decodeMessage(v); return err }); err != nil {
		return nil, rec, err
	}
	if !m.Dead {
		return nil, rec, errNotDead
	}
	if item, err = txn.Get(recordKey(id)); err != nil {
		return nil, rec, err
	}
	err = item.Value(func(v []byte) (err error) { rec, _, err = decodeRecord(v); return err }) // a dead letter's record holds its body
	return m, rec, err
}

// Replay implements [Queue].
func (l *Log) Replay(id ID) error {
	var m *Message
	var parked bool
	l.space.mu.Lock()
	defer l.space.mu.Unlock()
	err := l.db.Update(func(txn *badger.Txn) error {
		var err error
		if m, _, err = readDead(txn, id); err != nil {
			return err
		}
		if err := l.chargeLocked(m.Size()+64, true); err != nil { // a replay is a new message
			return err
		}
		parked = m.Parked
		if err := txn.Delete(deadKey(m.Route, m.Seq)); err != nil {
			return err
		}
		if err := txn.Delete(recordKey(id)); err != nil {
			return err
		}
		m.Dead, m.Parked, m.Attempts, m.NotBefore, m.State = false, false, 0, time.Time{}, nil
		return txn.Set(messageKey(id), appendMessage(nil, m))
	})
	if err != nil {
		return deadErr("replaying", err)
	}
	l.pendMu.Lock()
	l.pending[m.ID] = m
	l.pendMu.Unlock()
	l.sched.replay(m, parked)
	return nil
}

// Discard implements [Queue].
func (l *Log) Discard(id ID) error {
	var m *Message
	l.space.mu.Lock()
	defer l.space.mu.Unlock()
	err := l.db.Update(func(txn *badger.Txn) error {
		if err := l.chargeLocked(128, false); err != nil {
			return err
		}
		var err error
		if m, _, err = readDead(txn, id); err != nil {
			return err
		}
		if err := txn.Delete(deadKey(m.Route, m.Seq)); err != nil {
			return err
		}
		return txn.Delete(messageKey(id))
	})
	if err != nil {
		return deadErr("discarding", err)
	}
	if m.Parked {
		l.sched.unpark(m.Key)
	}
	return nil
}

func deadErr(what string, err error) error {
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return errNotFound
	case errors.Is(err, errNotDead), errors.Is(err, errDiskFull):
		return err
	}
	return fmt.Errorf("queue: %s a dead letter: %w", what, err)
}

// submit writes an append itself if the log is idle (lead), else queues it
// and waits until the committer released it.
func (l *Log) submit(m *Message) error {
	o := newOp(m)
	if led, err := l.lead(o); led {
		o.free()
		return err
	}
	if err := l.send(o); err != nil {
		l.sched.unreserve(m)
		return err
	}
	err := <-o.done
	o.free()
	return err
}

// Next implements [Queue].
func (l *Log) Next(ctx context.Context) (*Message, error) { return l.sched.next(ctx) }

// idemValueLen is the size of an idempotency key's value: the message's id
// and the hash of its request (idemValue).
const idemValueLen = len(ID{}) + 32

// idemValue is what an idempotency key maps to (read by Idempotent).
func idemValue(m *Message) []byte {
	return append(append(make([]byte, 0, idemValueLen), m.ID[:]...), m.IdemHash[:]...)
}

// Idempotent implements [Queue].
func (l *Log) Idempotent(route, key string) (ID, [32]byte, error) {
	var id ID
	var hash [32]byte
	err := l.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(idemKey(route, key))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != idemValueLen {
				return errCorruptValue
			}
			copy(id[:], v[:len(id)])
			copy(hash[:], v[len(id):])
			return nil
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return id, hash, errNotFound
	}
	if err != nil {
		return id, hash, fmt.Errorf("queue: idempotency key: %w", err)
	}
	return id, hash, nil
}

// Callbacks implements [Queue].
func (l *Log) Callbacks() ([]ID, error) {
	var ids []ID
	err := l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixOutbox}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var id ID
			copy(id[:], it.Item().Key()[1:])
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue: listing callbacks: %w", err)
	}
	return ids, nil
}

// CallbackDone implements [Queue].
func (l *Log) CallbackDone(id ID) error {
	l.space.mu.Lock()
	defer l.space.mu.Unlock()
	err := l.db.Update(func(txn *badger.Txn) error {
		if err := l.chargeLocked(64, false); err != nil {
			return err
		}
		return txn.Delete(outboxKey(id))
	})
	if err != nil {
		return fmt.Errorf("queue: forgetting a callback: %w", err)
	}
	return nil
}

// Lookup implements [Queue].
func (l *Log) Lookup(id ID) (Record, error) {
	// The scheduler first: a message it says is claimed is at least as far
	// along in the log (its outcome or retry is written after it is claimed).
	inflight, retry, retrying := l.sched.claimed(id)
	// Then the messages read from segments: one that is no longer here when
	// Badger is read below has its record (or m<id>) written by then.
	l.pendMu.RLock()
	p := l.pending[id]
	var final *Record
	if p != nil {
		final = p.final
	}
	l.pendMu.RUnlock()
	if final != nil { // completed, not yet written
		return *final, nil
	}
	rec, err := l.lookup(id, p)
	if errors.Is(err, os.ErrNotExist) { // its body's segment went: the record was rewritten with it, or expired
		rec, err = l.lookup(id, p)
	}
	if errors.Is(err, badger.ErrKeyNotFound) || errors.Is(err, os.ErrNotExist) {
		return Record{}, errNotFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("queue: looking up record: %w", err)
	}
	switch {
	case rec.Status.Final():
	case retrying: // being written
		rec.Status, rec.Attempts, rec.Payload, rec.NextAttempt = StatusRetrying, retry.attempts, retry.state, retry.notBefore
	case inflight && rec.Status == StatusRetrying: // its next attempt is being made
		rec.NextAttempt = time.Time{}
	case inflight:
		rec.Status = StatusProcessing
	}
	return rec, nil
}

// lookup reads what Badger holds for id: its record (with the body it
// refers to), else the message waiting in Badger (m<id>), else, for p
// pending in a segment, that it was accepted.
func (l *Log) lookup(id ID, p *Message) (Record, error) {
	var rec Record
	var ref bodyRef
	err := l.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(recordKey(id))
		if err == nil {
			return item.Value(func(v []byte) error {
				rec, ref, err = decodeRecord(v)
				return err
			})
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if item, err = txn.Get(messageKey(id)); errors.Is(err, badger.ErrKeyNotFound) && p != nil {
			rec = Record{ID: id, Route: p.Route, Status: StatusAccepted, Created: p.Received, Updated: p.Received}
			return nil
		} else if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			rec = Record{ID: id, Route: m.Route, Status: StatusAccepted, Created: m.Received, Updated: m.Received,
				Attempts: m.Attempts}
			if m.Attempts > 0 {
				rec.Status, rec.Payload, rec.NextAttempt = StatusRetrying, m.State, m.NotBefore
			}
			return nil
		})
	})
	if err == nil && ref.n > 0 {
		err = l.lookupBody(&rec, ref)
	}
	return rec, err
}

// Stats returns a snapshot of the counters.
func (l *Log) Stats() Stats {
	n, b := l.sched.backlog()
	return Stats{
		Batches:      l.stats.batches.Load(),
		Syncs:        l.stats.syncs.Load(),
		Appends:      l.stats.appends.Load(),
		Completes:    l.stats.completes.Load(),
		Led:          l.stats.led.Load(),
		SyncedSeq:    l.stats.syncedSeq.Load(),
		Backlog:      n,
		BacklogBytes: b,
		WriteNanos:   l.stats.writeNanos.Load(),
		SyncNanos:    l.stats.syncNanos.Load(),
		DiskFree:     l.stats.diskFree.Load(),
		DiskLow:      l.diskLow.Load(),
		DiskFloor:    l.stats.diskFloor.Load(),
		DiskMinFree:  l.stats.diskLine.Load(),
		DiskHeld:     int(l.stats.diskHeld.Load()),
		DiskChecks:   l.stats.diskChecks.Load(),
		DiskRefused:  l.stats.diskRefused.Load(),
		DiskReclaims: l.stats.reclaims.Load(),

		Segments:        int(l.stats.segments.Load()),
		SegmentBytes:    l.stats.segmentBytes.Load(),
		SegmentsDeleted: l.stats.segmentsDeleted.Load(),
		Evacuated:       l.stats.evacuated.Load(),
		KeptSegments:    int(l.stats.keptSegments.Load()),
		Recycled:        l.stats.recycled.Load(),
		Inlined:         l.stats.inlined.Load(),
	}
}

// Close stops accepting appends and completions, waits for the committer to
// write what it holds, and closes Badger. Stop the workers first.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errClosed
	}
	l.closed = true
	close(l.ops)
	l.mu.Unlock()
	<-l.exited
	<-l.gcDone
	<-l.diskDone
	l.syncer.stop()
	l.segs.seal()
	s := &l.space
	s.mu.Lock()
	held := s.held
	s.held, s.heldB = nil, 0
	s.mu.Unlock()
	for _, o := range held { // the messages stay in the log and run again after a restart
		l.failHeld(o)
	}
	l.stats.diskHeld.Store(0)
	l.sched.close()
	if err := l.roomToClose(); err != nil {
		// Badger's Close would flush the memtable into a table that does
		// not fit: SIGBUS. Leave Badger open (the process is about to exit,
		// which releases it): what the WAL holds is synced and replayed at
		// the next start.
		if serr := l.db.Sync(); serr != nil {
			l.log.Error("syncing the log before leaving it unclosed", "err", serr)
		}
		return err
	}
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("queue: closing badger: %w", err)
	}
	for _, seg := range l.segs.deletable() { // Close synced every record
		if len(seg.refs) > 0 {
			continue // settled at the next start
		}
		if err := l.segs.remove(seg, false); err != nil {
			l.log.Warn("deleting a segment", "err", err)
		}
	}
	l.segs.removeFree()
	return nil
}

// roomToClose reports an error if the file system cannot take the table of
// the memtable that Badger's Close flushes. Compactions running meanwhile
// write into the floor's share for them.
func (l *Log) roomToClose() error {
	s := &l.space
	if !s.on {
		return nil
	}
	free, _, err := l.opts.freeBytes(l.opts.Dir)
	if err != nil {
		return nil // as when the guard cannot read the space while running
	}
	f, err := scanFiles(l.opts.Dir, s.sz, false)
	if err != nil {
		return nil
	}
	if need := f.wal + s.sz.slack(); free < need {
		return &errNoSpace{what: "closing", dir: l.opts.Dir, need: need, free: free}
	}
	return nil
}

// badgerLogger routes Badger's log lines through Sluice's logger, marked
// component=badger: errors and warnings at their level, its chatty
// information (tables opened, files replayed, compactions) at debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) log(level slog.Level, f string, a []any) {
	if !b.l.Enabled(context.Background(), level) {
		return
	}
	if msg := strings.TrimSpace(fmt.Sprintf(f, a...)); msg != "" {
		b.l.Log(context.Background(), level, msg, "component", "badger")
	}
}

func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelError, f, a) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelDebug, f, a) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(slog.LevelDebug, f, a) }

var _ Queue = (*Log)(nil)

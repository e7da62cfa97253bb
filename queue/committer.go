package queue

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The committer: the goroutine that writes the log. It takes the
// operations queued by Append, Complete, Retry and Dead, writes each batch
// (its appends as one segment frame, the rest to Badger), syncs the frame,
// and releases the operations; between batches it keeps the segments
// (upkeep). The one exception is an append to an idle log, which its
// caller writes and syncs itself (lead); l.writer serialises the two.

// opKind is what an op asks of the committer: the four writes a backend
// of the log implements (Append, Complete, Retry, Dead).
type opKind uint8

const (
	opAppend   opKind = iota // store msg (a segment frame) and schedule it; the caller waits on done
	opComplete               // store rec as msg's final record; release msg's key
	opRetry                  // store msg with its retry state (m<id>); run it again at NotBefore
	opDead                   // store rec (dead) and msg as a dead letter of its route; park or release its key
)

// op is one request to the committer.
type op struct {
	kind   opKind
	msg    *Message
	rec    *Record         // opComplete, opDead
	park   bool            // opDead: msg's key stays held
	ref    bool            // opComplete: the record refers to msg's body in its segment (retained.go)
	done   chan error      // opAppend: the caller waits on it
	onDone func(err error) // the others: called after the write
}

var opPool = sync.Pool{New: func() any { return &op{done: make(chan error, 1)} }}

// newOp takes an op from the pool.
func newOp(m *Message) *op {
	o := opPool.Get().(*op)
	o.msg = m
	return o
}

// free clears o (keeping its done channel) and returns it to the pool.
func (o *op) free() {
	o.kind, o.msg, o.rec, o.park, o.ref, o.onDone = opAppend, nil, nil, false, false, nil
	opPool.Put(o)
}

// send hands o to the committer, or frees it and reports errClosed.
func (l *Log) send(o *op) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		o.free()
		return errClosed
	}
	l.ops <- o
	return nil
}

// lead writes an append on its caller's goroutine when the log is idle
// (no op queued, no frame syncing, nobody writing): the appender leads
// its own commit, as in LevelDB's group commit, writing its frame under
// l.writer and syncing it on its own goroutine, instead of handing the op
// to the committer and waiting for the committer and the syncer to hand it
// back: four goroutine hand-offs, each 20-50 µs on a busy VM (RATIONALE.md,
// "An idle log's appender commits its own message"). Its message runs
// while it syncs, as in the committer's batches; the committer meanwhile
// writes only outcomes of earlier frames. It reports false, having done
// nothing, when the log is busy: then the committer batches the op with
// the others.
func (l *Log) lead(o *op) (bool, error) {
	l.mu.RLock() // Close waits for the leader's sync
	defer l.mu.RUnlock()
	if l.closed || l.holding.Load() || len(l.ops) > 0 || !l.leading.CompareAndSwap(false, true) {
		return false, nil
	}
	defer l.leading.Store(false)
	if !l.writer.TryLock() {
		return false, nil
	}
	if l.syncingFrom.Load() != 0 { // the committer's frame is syncing
		l.writer.Unlock()
		return false, nil
	}
	l.own = append(l.own[:0], o)
	var f frame
	_, l.ownAppended, f = l.write(l.own, nil, l.ownAppended[:0]) // appends only: no record to encode
	l.writer.Unlock()
	f.own = true
	var r syncResult
	if f.seg != nil {
		r = l.syncer.do(f.req)
	}
	l.acknowledge(f, r)
	clear(l.ownAppended)
	l.own[0] = nil
	select {
	case l.synced <- struct{}{}: // the committer may write its appends now
	default:
	}
	err := <-o.done
	if err == nil {
		l.stats.led.Add(1)
	}
	return true, err
}

// commitLoop writes what lead does not. Each cycle takes everything queued
// (up to MaxBatch ops and maxBytes), writes it as one batch, schedules its
// appends (they run while the frame syncs), syncs once if the batch holds
// appends and durability asks for it, and only then acknowledges the
// appends. While a leader's frame syncs it writes only what does not
// depend on that frame (independent). It holds l.writer for each cycle.
func (l *Log) commitLoop() {
	defer close(l.exited)
	batch := make([]*op, 0, l.opts.MaxBatch)
	var arena []byte
	var appended []*Message
	tick := time.NewTicker(time.Second) // segment upkeep while idle
	defer tick.Stop()
	for {
		if len(l.queued) == 0 {
			if l.opsClosed {
				return
			}
			select {
			case o, ok := <-l.ops:
				if !ok {
					return
				}
				l.holding.Store(true) // a leader must not write ahead of o
				l.queued = append(l.queued, o)
			case <-tick.C:
				l.writer.Lock()
				l.upkeep()
				l.writer.Unlock()
				continue
			case <-l.synced:
				continue
			}
		}
		l.writer.Lock()
		l.drain(l.maxOps)
		want := func(*op) bool { return true }
		if l.syncingFrom.Load() != 0 {
			want = l.independent // a leader's frame is syncing
		}
		var size int64
		batch, size = l.take(batch[:0], want)
		l.holding.Store(len(l.queued) > 0)
		if len(batch) == 0 { // only appends, and a leader's frame syncing: they wait for it
			l.writer.Unlock()
			l.await()
			continue
		}
		if size > l.stats.largestBatch.Load() {
			l.stats.largestBatch.Store(size)
		}
		arena, appended = l.commit(batch, arena[:0], appended[:0])
		clear(appended)
		l.upkeep()
		l.writer.Unlock()
	}
}

// await waits until a leader's frame is synced or an op comes.
func (l *Log) await() {
	ops := l.ops
	if l.opsClosed {
		ops = nil
	}
	select {
	case <-l.synced:
	case o, ok := <-ops:
		if !ok {
			l.opsClosed = true
			return
		}
		l.holding.Store(true)
		l.queued = append(l.queued, o)
	}
}

// drain queues what ops holds now, up to n queued in all, without waiting.
func (l *Log) drain(n int) {
	for !l.opsClosed && len(l.queued) < n {
		select {
		case o, ok := <-l.ops:
			if !ok {
				l.opsClosed = true
				return
			}
			l.queued = append(l.queued, o)
		default:
			return
		}
	}
}

// take moves the queued ops that want accepts into batch, in order, as far
// as one batch holds them (maxOps, maxBytes for Badger, maxBatchFile for
// the segment); the others stay queued. It takes at least one.
func (l *Log) take(batch []*op, want func(*op) bool) ([]*op, int64) {
	var size, file int64
	kept := l.queued[:0]
	for i, o := range l.queued {
		if !want(o) {
			kept = append(kept, o)
			continue
		}
		n, f := o.size(), o.fileSize()
		if len(batch) > 0 && (len(batch) == l.maxOps || size+n > l.maxBytes || file+f > maxBatchFile) {
			kept = append(kept, l.queued[i:]...)
			break
		}
		batch, size, file = append(batch, o), size+n, file+f
	}
	clear(l.queued[len(kept):])
	l.queued = kept
	return batch, size
}

// waitSync waits for the fdatasync of the batch's frame. Meanwhile it
// writes and releases the outcomes, retries and dead letters that arrive
// (they do not depend on the frame), so that a completion waits for a
// Badger write, not for a disk sync; appends that arrive wait for the next
// batch.
func (l *Log) waitSync() syncResult {
	for {
		ops := l.ops
		if l.opsClosed {
			ops = nil
		}
		select {
		case r := <-l.syncer.done:
			return r
		case o, ok := <-ops:
			if !ok {
				l.opsClosed = true
				continue
			}
			l.queued = append(l.queued, o)
			l.drain(2 * l.maxOps)
			var batch []*op
			batch, _ = l.take(l.side[:0], l.independent)
			if len(batch) > 0 {
				l.sideArena, _ = l.commit(batch, l.sideArena[:0], nil)
			}
			l.side = batch[:0]
		}
	}
}

// independent reports whether o may be written while a frame syncs: not
// an append (those wait for the next frame), nor the outcome of a message
// in the syncing frame.
func (l *Log) independent(o *op) bool {
	from := l.syncingFrom.Load()
	return o.kind != opAppend && (from == 0 || o.msg.Seq < from)
}

// size estimates what o adds to Badger's transaction: keys, values and
// the per-entry overhead. An append writes only its idempotency key there
// (the message goes to a segment: fileSize); a retry and a dead letter
// write the message.
func (o *op) size() int64 {
	n := int64(64)
	switch o.kind {
	case opAppend:
		return n + int64(len(o.msg.Route)+len(o.msg.IdemKey)) + 64
	case opRetry:
		return n + o.msg.Size() + 64
	case opDead:
		n += o.msg.Size() + 64
	}
	return n + int64(len(o.rec.Payload)+len(o.rec.Route)) + 64
}

// fileSize estimates what o adds to the segment frame (appends only).
func (o *op) fileSize() int64 {
	if o.kind == opAppend {
		return o.msg.Size() + 16
	}
	return 0
}

// commit writes batch, syncs its frame (if it has one) on the syncer while
// waitSync writes what comes meanwhile, and acknowledges it (committer only).
func (l *Log) commit(batch []*op, arena []byte, appended []*Message) ([]byte, []*Message) {
	arena, appended, f := l.write(batch, arena, appended)
	var r syncResult
	if f.seg != nil {
		l.syncer.start(f.req)
		r = l.waitSync()
	}
	l.acknowledge(f, r)
	return arena, appended
}

// frame is what write leaves to sync and acknowledge: the batch's error, and
// the frame to sync, if any.
type frame struct {
	batch    []*op // what the budget admitted of the batch
	own      bool  // written by lead, which does not hold l.writer in acknowledge
	err      error
	seg      *segment // the segment whose frame req syncs; nil: nothing to sync
	req      syncReq
	seq      uint64 // the Seq after the batch's last append
	appended int
	write    time.Duration
}

// write writes batch (the caller holds l.writer): the appends as one
// segment frame, the rest to Badger. It releases the outcomes, retries and
// dead letters, and schedules the appends: they run while their frame
// syncs. Until acknowledge, the frame's Seqs are l.syncingFrom on: their
// outcomes wait for the sync.
func (l *Log) write(batch []*op, arena []byte, appended []*Message) ([]byte, []*Message, frame) {
	// The budget admits the batch (or part of it) and is held until it is
	// written, so that a measurement never sees half of it.
	l.space.mu.Lock()
	if l.space.on {
		if batch = l.admitLocked(batch); len(batch) == 0 {
			l.space.mu.Unlock()
			return arena, appended, frame{}
		}
	}
	wb := batchWriter{db: l.db}
	seq := l.nextSeq
	for _, o := range batch {
		m := o.msg
		switch o.kind {
		case opAppend: // into the segment's frame; its idempotency key into Badger
			m.Seq = seq
			seq++
			l.segs.add(m)
			if m.IdemKey != "" {
				wb.setTTL(idemKey(m.Route, m.IdemKey), idemValue(m), m.IdemTTL)
			}
			appended = append(appended, m)
		case opComplete: // the record; the message's copy in Badger, if it has one, goes
			start := len(arena)
			if ref, ok := l.bodyRef(o); ok {
				arena, o.ref = appendRecordRef(arena, o.rec, ref), true
			} else {
				arena = appendRecord(arena, o.rec)
			}
			wb.setTTL(recordKey(m.ID), arena[start:len(arena):len(arena)], l.opts.Retention)
			if m.seg == nil {
				wb.delete(messageKey(m.ID))
			}
			if o.rec.Notify {
				wb.set(outboxKey(m.ID), nil)
			}
		case opRetry: // the message with its retry state, under the same Seq
			start := len(arena)
			arena = appendMessage(arena, m)
			wb.set(messageKey(m.ID), arena[start:len(arena):len(arena)])
		case opDead: // the record, the message kept as a dead letter, its index entry
			m.Dead, m.Parked = true, o.park
			start := len(arena)
			arena = appendRecord(arena, o.rec)
			wb.set(recordKey(m.ID), arena[start:len(arena):len(arena)])
			start = len(arena)
			arena = appendMessage(arena, m)
			wb.set(messageKey(m.ID), arena[start:len(arena):len(arena)])
			wb.set(deadKey(m.Route, m.Seq), m.ID[:])
			if o.rec.Notify {
				wb.set(outboxKey(m.ID), nil)
			}
		}
	}
	// The appends' frame first: written and (DurabilityFsync) fdatasynced
	// before anything refers to them. Badger's part is not synced: see
	// segment.go for why that is enough.
	var f frame
	var seg *segment
	var at int64 // the frame's offset in seg
	t0 := time.Now()
	err := wb.err
	if l.segs.pending() {
		if err == nil {
			seg, at, err = l.segs.write()
			if err == nil && l.segs.sync {
				f.seg, f.req = seg, l.segs.syncRequest()
			}
		} else {
			l.segs.reset()
		}
	}
	err = wb.flush(err)
	f.write = time.Since(t0)
	l.stats.writeNanos.Add(uint64(f.write)) // #nosec G115 -- time.Since of a monotonic clock, not negative
	l.space.mu.Unlock()                     // written: a measurement may see it now
	l.stats.batches.Add(1)
	if err != nil {
		err = fmt.Errorf("queue: writing batch: %w", err)
		l.log.Error("log write failed", "ops", len(batch), "err", err)
	} else {
		l.nextSeq = seq
		l.account(batch, seg, at, appended)
	}
	// Outcomes, retries and dead letters are written: they are released
	// while the disk still syncs the frame (they do not depend on it).
	for _, o := range batch {
		switch o.kind {
		case opAppend:
			continue // after the sync, below
		case opComplete:
			// Release the key even if the write failed: the message stays in
			// the log and runs again after a restart.
			l.sched.done(o.msg)
			if err == nil {
				l.stats.completes.Add(1)
				l.stats.completedBytes.Add(o.msg.Size())
			}
		case opRetry:
			// Even if the write failed the message runs again: now from
			// memory, after a restart from the log.
			l.sched.later(o.msg)
		case opDead:
			if o.park && err == nil {
				l.sched.park(o.msg)
			} else {
				l.sched.done(o.msg)
			}
		}
		if err != nil && o.kind != opRetry {
			l.forgetFinal(o.msg) // not written: Lookup must not report it
		}
		if o.onDone != nil {
			o.onDone(err)
		}
	}
	// The appends run while their frame syncs: a worker may transform and
	// deliver them meanwhile. Nothing is acknowledged before the sync (the
	// appenders wait on done, below; a sync caller's reply waits for its
	// Append), and the outcomes of these messages are written after it
	// (waitSync holds them back): a record never refers to a frame that may
	// not be on disk.
	if err == nil && len(appended) > 0 {
		l.sched.push(appended, false)
	}
	f.batch, f.err, f.seq, f.appended = batch, err, seq, len(appended)
	if f.seg != nil {
		l.syncingFrom.Store(seq - uint64(len(appended)))
	}
	return arena, appended, f
}

// acknowledge ends a batch written by write once its frame's sync (r) is done:
// it counts it and acknowledges its appends, with the sync's error if it
// failed. It needs l.writer only if the sync failed (to seal the file).
func (l *Log) acknowledge(f frame, r syncResult) {
	if len(f.batch) == 0 {
		return // the budget admitted none of it
	}
	err := f.err
	var syncErr error // the frame's fdatasync failed: its appends are not acknowledged
	commit := Commit{Write: f.write}
	if f.seg != nil {
		commit.Sync = r.took
		l.stats.syncNanos.Add(uint64(r.took)) // #nosec G115 -- time.Since of a monotonic clock, not negative
		l.stats.syncs.Add(1)
		if r.err != nil {
			// The frame may or may not be on disk: its appenders get the
			// error (a retry of theirs is a duplicate at worst: their
			// messages still run, so their idempotency keys hold), and the
			// file takes no further frame.
			syncErr = fmt.Errorf("queue: syncing segment %016x: %w", f.seg.n, r.err)
			l.log.Error("log sync failed", "appends", f.appended, "err", syncErr)
			l.sealFailed(f)
		}
		l.syncingFrom.Store(0)
	}
	if err == nil {
		if l.opts.OnCommit != nil {
			commit.Appended = f.appended
			l.opts.OnCommit(commit)
		}
		if f.appended > 0 {
			if syncErr == nil {
				l.stats.syncedSeq.Store(f.seq - 1)
			}
			l.stats.appends.Add(uint64(f.appended))
		}
	}
	for _, o := range f.batch {
		if o.kind != opAppend {
			o.free()
			continue
		}
		if err != nil {
			l.sched.unreserve(o.msg)
		}
		o.done <- cmp.Or(err, syncErr) // the caller frees it
	}
}

// sealFailed seals the file of a frame whose sync failed, if no later
// segment took over already.
func (l *Log) sealFailed(f frame) {
	if f.own {
		l.writer.Lock()
		defer l.writer.Unlock()
	}
	if l.segs.cur == f.seg {
		l.segs.seal()
	}
}

// forgetFinal withdraws m's final record from Lookup (it was not written).
func (l *Log) forgetFinal(m *Message) {
	l.pendMu.Lock()
	if p := l.pending[m.ID]; p != nil {
		p.final = nil
	}
	l.pendMu.Unlock()
}

// batchWriter is a batch's Badger part, started at its first entry: a
// batch of appends without idempotency keys does not touch Badger (an
// empty WriteBatch still costs a goroutine and a wait in Flush). The first
// error sticks; the entries after it are dropped.
type batchWriter struct {
	db  *badger.DB
	wb  *badger.WriteBatch
	err error
}

func (b *batchWriter) entry(e *badger.Entry) {
	if b.err != nil {
		return
	}
	if b.wb == nil {
		b.wb = b.db.NewWriteBatch()
	}
	b.err = b.wb.SetEntry(e)
}

func (b *batchWriter) set(k, v []byte) { b.entry(badger.NewEntry(k, v)) }

// setTTL sets k with a time to live (ttl 0: none).
func (b *batchWriter) setTTL(k, v []byte, ttl time.Duration) {
	e := badger.NewEntry(k, v)
	if ttl > 0 {
		e = e.WithTTL(ttl)
	}
	b.entry(e)
}

func (b *batchWriter) delete(k []byte) {
	if b.err != nil {
		return
	}
	if b.wb == nil {
		b.wb = b.db.NewWriteBatch()
	}
	b.err = b.wb.Delete(k)
}

// flush writes the entries, or drops them if err (the batch's error so
// far) is not nil.
func (b *batchWriter) flush(err error) error {
	if b.wb == nil {
		return err
	}
	if err != nil {
		b.wb.Cancel()
		return err
	}
	return b.wb.Flush()
}

// account records a written batch's effect on the segments (committer
// only): the appended messages are read from seg (their frame at offset
// at) until they leave it; a final record, a retry or a dead letter takes
// its message out of its segment (the latter two wrote it to m<id>), a
// record that refers to the message's body keeps the file (retained.go);
// a final one leaves the pending index.
func (l *Log) account(batch []*op, seg *segment, at int64, appended []*Message) {
	l.pendMu.Lock()
	defer l.pendMu.Unlock()
	if len(appended) > 0 {
		seg.live += len(appended)
		for _, m := range appended {
			m.seg = seg
			m.bodyAt += at
			l.pending[m.ID] = m
		}
	}
	for _, o := range batch {
		m := o.msg
		if o.kind == opAppend {
			continue
		}
		if m.seg != nil {
			if o.ref {
				l.refer(m.seg, m)
			}
			m.seg.live--
			m.seg = nil
		}
		if o.kind != opRetry {
			delete(l.pending, m.ID)
		}
	}
}

// upkeep runs after every commit and once a second (committer only): it
// seals the active segment when it is full, old, or (short of disk)
// without live messages; moves the live messages of old sealed segments
// into Badger; and deletes sealed segments without live messages (or
// keeps them for the results that refer to them) and kept segments that
// expired.
func (l *Log) upkeep() {
	s := &l.segs
	if cur := s.cur; cur != nil && cur.bytes > 0 && l.syncingFrom.Load() == 0 && (cur.bytes >= s.maxBytes ||
		time.Since(cur.created) >= l.evacuateAfter/2 || (cur.live == 0 && l.diskLow.Load())) {
		s.seal()
	}
	var old map[*segment]bool
	del := s.kept.due(time.Now())
	n, bytes := int64(len(s.kept.segs)), s.kept.bytes
	for _, seg := range s.all {
		n, bytes = n+1, bytes+seg.bytes
		switch {
		case !seg.sealed:
		case seg.live == 0:
			del = true
		case time.Since(seg.created) >= l.evacuateAfter:
			if old == nil {
				old = make(map[*segment]bool)
			}
			old[seg] = true
		}
	}
	l.stats.segments.Store(n)
	l.stats.segmentBytes.Store(bytes)
	l.stats.keptSegments.Store(int64(len(s.kept.segs)))
	l.stats.recycled.Store(s.recycled)
	if old != nil {
		l.evacuate(old)
		del = true
	}
	if del {
		l.dropSegments()
	}
}

// dropSegments deletes the sealed segments without live messages, after a
// Badger sync that makes the records of all their messages durable, and
// the kept segments that expired. A segment that records refer to is
// settled first: kept, or deleted once they hold its bodies.
func (l *Log) dropSegments() {
	var dead []*segment
	for _, seg := range l.segs.deletable() {
		if len(seg.refs) == 0 || !l.settle(seg) {
			dead = append(dead, seg)
		}
	}
	dead = append(dead, l.segs.kept.expired(time.Now())...)
	if len(dead) == 0 {
		return
	}
	if err := l.db.Sync(); err != nil {
		l.log.Error("syncing the log before deleting segments", "err", err)
		return
	}
	for _, seg := range dead {
		if err := l.segs.remove(seg, !l.diskLow.Load()); err != nil {
			l.log.Error("deleting a segment", "err", err)
			continue
		}
		l.stats.segmentsDeleted.Add(1)
	}
}

// evacuate copies the live messages of old segments into Badger (m<id>,
// without retry state: a message with retry state left its segment when
// the retry was written), so the segments can go.
func (l *Log) evacuate(old map[*segment]bool) {
	var ms []*Message
	l.pendMu.RLock()
	for _, m := range l.pending {
		if m.seg != nil && old[m.seg] {
			ms = append(ms, m)
		}
	}
	l.pendMu.RUnlock()
	var size int64
	for _, m := range ms {
		size += m.Size() + 64
	}
	l.space.mu.Lock()
	defer l.space.mu.Unlock()
	if err := l.chargeLocked(size, false); err != nil {
		return // short of disk: the segments stay until there is room
	}
	wb := l.db.NewWriteBatch()
	var buf []byte
	for _, m := range ms {
		buf = encodeMessage(buf[:0], m, false)
		if err := wb.Set(messageKey(m.ID), slices.Clone(buf)); err != nil {
			wb.Cancel()
			l.log.Error("moving messages out of old segments", "err", err)
			return
		}
	}
	if err := wb.Flush(); err != nil {
		l.log.Error("moving messages out of old segments", "err", err)
		return
	}
	for _, m := range ms {
		m.seg.live--
		m.seg = nil
	}
	l.stats.evacuated.Add(uint64(len(ms)))
	l.log.Info("moved messages out of old segments", "messages", len(ms), "segments", len(old))
}

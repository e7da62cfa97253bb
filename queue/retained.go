package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Retained results that point into segments.
//
// A final record's payload ends with the result's body (runtime/results).
// When that body is the message's own body, unchanged (Record.Tail: a
// route without destination that stores what it received, transforms that
// left it as it was, a destination that echoed it), the record keeps a
// reference to the message's copy in its segment instead of a second copy
// (appendRecordRef): the body goes to disk once, and Badger, which would
// write it again at every compaction, holds a few bytes. Lookup reads the
// body from the file.
//
// Such a segment outlives its messages. When its last message is final it
// is settled (settle): if the records referring to it hold at least half
// of its bytes, it is kept until the newest of them expires (Retention;
// forever with 0), marked in Badger (k<n>) so that a restart does not read
// it again; otherwise its referenced bodies are copied into their records
// and it is deleted like any other, so that a few stored results never
// keep a file of other routes' messages for the retention. RATIONALE.md
// ("Results that point into segments") has the measurements.

// minBodyRef is the smallest body kept by reference: below it a copy costs
// less than the reference and the file it keeps.
const minBodyRef = 256

// keepForever is the keep time of a segment referred to by records
// without expiry (Retention 0).
var keepForever = time.Unix(1<<40, 0)

// bodyRef reports where o's record may refer to its message's body
// (committer only): the record's tail is the body, the message is read
// from a segment and the body's place in it is known.
func (l *Log) bodyRef(o *op) (bodyRef, bool) {
	m, r := o.msg, o.rec
	n := len(m.Body)
	if r.Tail < minBodyRef || r.Tail != n || n > len(r.Payload) || m.seg == nil || m.bodyAt <= 0 {
		return bodyRef{}, false
	}
	return bodyRef{seg: m.seg.n, off: m.bodyAt, n: int64(n)}, true
}

// refer notes that m's final record, now written, refers to its body in
// seg (committer only).
func (l *Log) refer(seg *segment, m *Message) {
	seg.refs = append(seg.refs, m.ID)
	seg.refBytes += int64(len(m.Body))
	keep := keepForever
	if l.opts.Retention > 0 {
		keep = time.Now().Add(l.opts.Retention + time.Second) // Badger's TTL counts whole seconds
	}
	seg.keep = later(seg.keep, keep)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// settle decides the fate of a sealed segment without live messages whose
// records refer to it (committer only): it reports true if the segment is
// kept for them (moved to the kept list), false if their bodies were
// copied into them and the segment can be deleted.
func (l *Log) settle(seg *segment) bool {
	if seg.refBytes*2 < seg.bytes {
		err := l.inline(seg)
		if err == nil {
			return false
		}
		l.log.Warn("copying results out of a segment; keeping the segment for them", "segment", seg.n, "err", err)
	}
	l.keep(seg)
	return true
}

// keep moves seg to the kept list and marks it in Badger, so that a
// restart does not read it again (a lost mark only costs that read).
func (l *Log) keep(seg *segment) {
	e := badger.NewEntry(keptKey(seg.n), binary.AppendVarint(nil, seg.keep.Unix()))
	if seg.keep != keepForever {
		e = e.WithTTL(time.Until(seg.keep) + time.Minute)
	}
	err := l.db.Update(func(txn *badger.Txn) error { return txn.SetEntry(e) })
	if err != nil {
		l.log.Warn("marking a kept segment", "segment", seg.n, "err", err)
	}
	seg.refs = nil
	delete(l.segs.all, seg.n)
	l.segs.kept.add(seg)
}

// inline rewrites the records that refer to seg with their body in them.
func (l *Log) inline(seg *segment) error {
	f, err := os.Open(segmentPath(l.segs.dir, seg.n))
	if err != nil {
		return err
	}
	defer f.Close() // #nosec G104 -- read only
	l.space.mu.Lock()
	defer l.space.mu.Unlock()
	if err := l.chargeLocked(seg.refBytes+int64(len(seg.refs))*128, false); err != nil {
		return err
	}
	wb := l.db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err = l.db.View(func(txn *badger.Txn) error {
		for _, id := range seg.refs {
			item, err := txn.Get(recordKey(id))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue // expired
			} else if err != nil {
				return err
			}
			var rec Record
			var ref bodyRef
			if err := item.Value(func(v []byte) (err error) { rec, ref, err = decodeRecord(v); return err }); err != nil {
				return err
			}
			if ref.n == 0 || ref.seg != seg.n {
				continue
			}
			if err := readBody(f, &rec, ref); err != nil {
				return err
			}
			e := badger.NewEntry(recordKey(id), appendRecord(nil, &rec))
			if exp := item.ExpiresAt(); exp > 0 {
				ttl := time.Until(time.Unix(int64(exp), 0)) // #nosec G115 -- a unix time in seconds
				if ttl <= 0 {
					continue
				}
				e = e.WithTTL(ttl)
			}
			if err := wb.SetEntry(e); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err == nil {
		err = wb.Flush()
	}
	if err != nil {
		return err
	}
	l.stats.inlined.Add(uint64(n)) // #nosec G115 -- a count
	seg.refs = nil                 // refBytes stays: a file results referred to is not recycled (segments.remove)
	return nil
}

// readBody appends the body ref locates in f to rec's payload.
func readBody(f io.ReaderAt, rec *Record, ref bodyRef) error {
	at := len(rec.Payload)
	rec.Payload = slices.Grow(rec.Payload, int(ref.n))[:at+int(ref.n)]
	if _, err := f.ReadAt(rec.Payload[at:], ref.off); err != nil {
		return fmt.Errorf("queue: reading a result's body from segment %016x: %w", ref.seg, err)
	}
	return nil
}

// lookupBody completes a record read by Lookup whose body is in a segment.
// An error wrapping os.ErrNotExist: the segment is gone (the record was
// rewritten with its body, or expired): read the record again.
func (l *Log) lookupBody(rec *Record, ref bodyRef) error {
	f, err := os.Open(segmentPath(l.segs.dir, ref.seg)) // #nosec G304 -- a segment of the log's own directory
	if err != nil {
		return err
	}
	defer f.Close() // #nosec G104 -- read only
	return readBody(f, rec, ref)
}

// keptSegments are the segments kept for retained results, the soonest to
// expire first.
type keptSegments struct {
	segs  []*segment
	bytes int64
}

func (k *keptSegments) add(seg *segment) {
	i, _ := slices.BinarySearchFunc(k.segs, seg.keep, func(s *segment, t time.Time) int { return s.keep.Compare(t) })
	k.segs = slices.Insert(k.segs, i, seg)
	k.bytes += seg.bytes
}

// due reports whether a kept segment has expired.
func (k *keptSegments) due(now time.Time) bool {
	return len(k.segs) > 0 && now.After(k.segs[0].keep)
}

// expired removes the expired segments from the list and returns them.
func (k *keptSegments) expired(now time.Time) []*segment {
	i := 0
	for i < len(k.segs) && now.After(k.segs[i].keep) {
		k.bytes -= k.segs[i].bytes
		i++
	}
	out := slices.Clone(k.segs[:i])
	k.segs = slices.Delete(k.segs, 0, i)
	return out
}

// keptMarks reads the kept segments' marks: number -> keep time.
func (l *Log) keptMarks() (map[uint64]time.Time, error) {
	marks := make(map[uint64]time.Time)
	err := l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, Prefix: []byte{prefixKept}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != 9 {
				continue
			}
			err := it.Item().Value(func(v []byte) error {
				s, n := binary.Varint(v)
				if n <= 0 {
					return errCorruptValue
				}
				marks[binary.BigEndian.Uint64(k[1:])] = time.Unix(s, 0)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return marks, err
}

// recoverRef notes, while recovery reads segment seg, that the final
// record item of one of its messages may refer to it.
func recoverRef(seg *segment, id ID, item *badger.Item) error {
	return item.Value(func(v []byte) error {
		if len(v) == 0 || v[0] != recordRefKind {
			return nil
		}
		_, ref, err := decodeRecord(v)
		if err != nil || ref.seg != seg.n {
			return err
		}
		seg.refs = append(seg.refs, id)
		seg.refBytes += ref.n
		keep := keepForever
		if exp := item.ExpiresAt(); exp > 0 {
			keep = time.Unix(int64(exp)+1, 0) // #nosec G115 -- a unix time in seconds
		}
		seg.keep = later(seg.keep, keep)
		return nil
	})
}

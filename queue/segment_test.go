package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func segmentFiles(t *testing.T, dir string) []uint64 {
	t.Helper()
	ns, err := listSegments(filepath.Join(dir, segmentDir))
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// Every way a message leaves its segment, across a restart: completed and
// dead messages do not come back, retrying ones come back with their state
// (from Badger), untouched and in-flight ones come back from their
// segment, idempotency keys hold, and segments whose messages are all
// final are deleted.
func TestSegmentsRecoverEveryState(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{segmentBytes: 2 << 10}) // a few messages per segment
	const n = 120
	for i := range n {
		m := msg(i, "")
		if i%10 == 0 {
			m.IdemKey, m.IdemHash[0], m.IdemTTL = "idem-"+string(rune('a'+i/10)), byte(i), time.Hour
		}
		if err := l.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(segmentFiles(t, dir)); got < 5 {
		t.Fatalf("%d segment files for %d messages of ~100 bytes in 2 KiB segments", got, n)
	}
	want := map[ID]Status{}
	later := time.Now().Add(time.Hour)
	for range n {
		m, err := l.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		i := int(m.ID[2])
		done := make(chan error, 1)
		switch i % 4 {
		case 0:
			err = l.Complete(m, &Record{Status: StatusSucceeded, Payload: []byte("ok")}, func(err error) { done <- err })
			want[m.ID] = StatusSucceeded
		case 1:
			m.Attempts, m.NotBefore, m.State = 1, later, []byte("attempt 1")
			err = l.Retry(m, func(err error) { done <- err })
			want[m.ID] = StatusRetrying
		case 2:
			err = l.Dead(m, &Record{Payload: []byte("gave up")}, false, func(err error) { done <- err })
			want[m.ID] = StatusDead
		default: // claimed and never finished: in flight at the "crash"
			done <- nil
			want[m.ID] = StatusAccepted
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openTest(t, dir, Options{segmentBytes: 2 << 10})
	defer l.Close()
	for id, st := range want {
		rec, err := l.Lookup(id)
		if err != nil {
			t.Fatalf("%x: %v", id[:3], err)
		}
		if rec.Status != st {
			t.Fatalf("message %d: %s after the restart, want %s", id[2], rec.Status, st)
		}
		if st == StatusRetrying && (rec.Attempts != 1 || string(rec.Payload) != "attempt 1" || !rec.NextAttempt.Equal(later.UTC())) {
			t.Fatalf("retry state lost: %+v", rec)
		}
	}
	for i := 0; i < n; i += 10 {
		id, hash, err := l.Idempotent("r", "idem-"+string(rune('a'+i/10)))
		if err != nil || id != msg(i, "").ID || hash[0] != byte(i) {
			t.Fatalf("idempotency key of message %d: %x %v", i, id[:3], err)
		}
	}
	// What runs again: the in-flight quarter now, the retrying one later.
	ran := map[ID]bool{}
	for range n / 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := l.Next(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if want[m.ID] != StatusAccepted || ran[m.ID] {
			t.Fatalf("message %d ran again (%s)", m.ID[2], want[m.ID])
		}
		ran[m.ID] = true
		if err := complete(l, m, &Record{Status: StatusSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if m, err := l.Next(ctx); err == nil {
		t.Fatalf("message %d ran, want nothing due", m.ID[2])
	}
	// Every message left its segment (final, or in Badger while it waits to
	// retry): no segment is needed any more.
	waitFor(t, "segments to be deleted", func() bool { return len(segmentFiles(t, dir)) == 0 })
	if st := l.Stats(); st.SegmentsDeleted == 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// A crash in the middle of a frame leaves a torn tail: recovery keeps every
// whole frame and cuts the rest, and the log goes on.
func TestSegmentTornFrame(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	appendN(t, l, 10, "")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ns := segmentFiles(t, dir)
	if len(ns) != 1 {
		t.Fatalf("segments %v", ns)
	}
	path := segmentPath(filepath.Join(dir, segmentDir), ns[0])
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	whole := fi.Size()
	for _, tail := range [][]byte{
		{0x40, 0, 0, 0, 1, 2, 3, 4, 1, 9, 9},                    // a frame of 64 bytes cut after 3
		binary.LittleEndian.AppendUint32([]byte{5, 0, 0, 0}, 7), // a whole frame with a wrong checksum
	} {
		if tail[0] == 5 {
			tail = append(tail, 1, 2, 3, 4, 5)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(tail); err != nil {
			t.Fatal(err)
		}
		f.Close()
		l = openTest(t, dir, Options{})
		if st := l.Stats(); st.Backlog != 10 {
			t.Fatalf("backlog %d after a torn tail, want 10", st.Backlog)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != whole {
			t.Fatalf("the torn tail was not cut: %v %v (want %d bytes)", fi.Size(), err, whole)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	l = openTest(t, dir, Options{})
	defer l.Close()
	if err := l.Append(msg(10, "")); err != nil {
		t.Fatal(err)
	}
	if len(segmentFiles(t, dir)) != 2 {
		t.Fatalf("an append after a restart goes to a new segment: %v", segmentFiles(t, dir))
	}
}

// A segment that lives too long (a message nobody runs keeps it) moves its
// live messages into Badger and goes, so that no record expires while the
// file of its message exists; the moved messages survive a restart and
// complete like any other.
func TestSegmentEvacuation(t *testing.T) {
	dir := t.TempDir()
	opts := Options{segmentBytes: 1 << 10, evacuate: 200 * time.Millisecond}
	l := openTest(t, dir, opts)
	appendN(t, l, 20, "k") // one key: only the first may run
	first, err := l.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "evacuation", func() bool { return l.Stats().Evacuated == 20 && len(segmentFiles(t, dir)) == 0 })
	if rec, err := l.Lookup(msg(5, "").ID); err != nil || rec.Status != StatusAccepted {
		t.Fatalf("an evacuated message: %+v %v", rec, err)
	}
	if err := complete(l, first, &Record{Status: StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, opts)
	defer l.Close()
	for i := 1; i < 20; i++ {
		m, err := l.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != msg(i, "").ID {
			t.Fatalf("message %d ran in place of %d", m.ID[2], i)
		}
		if err := complete(l, m, &Record{Status: StatusSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Lookup(first.ID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if m, err := l.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after all 20: %v %v", m, err)
	}
}

// heldSyncs opens a log whose every fdatasync waits for a token on gate,
// appends msg(1) (its sync let through) and claims it, as a worker would.
func heldSyncs(t *testing.T) (l *Log, gate chan struct{}, first *Message) {
	t.Helper()
	gate = make(chan struct{}, 1)
	l = openTest(t, t.TempDir(), Options{syncGate: gate})
	gate <- struct{}{}
	if err := l.Append(msg(1, "")); err != nil {
		t.Fatal(err)
	}
	first, err := l.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l, gate, first
}

// A completion does not wait for the disk: while a batch's frame is being
// synced, outcomes that arrive are written and released, and appends wait
// for the sync that covers them.
func TestCompletionDoesNotWaitForASync(t *testing.T) {
	l, gate, first := heldSyncs(t)
	appended := make(chan error, 1)
	go func() { appended <- l.Append(msg(2, "")) }() // its sync waits for the gate
	waitFor(t, "the second append's frame", func() bool { return l.Stats().Batches == 2 })
	done := make(chan error, 1)
	if err := l.Complete(first, &Record{Status: StatusSucceeded}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the completion waited for another batch's sync")
	}
	if rec, err := l.Lookup(first.ID); err != nil || rec.Status != StatusSucceeded {
		t.Fatalf("after the completion: %+v %v", rec, err)
	}
	select {
	case err := <-appended:
		t.Fatalf("the append returned before its sync: %v", err)
	default:
	}
	gate <- struct{}{}
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	close(gate) // Close's syncs
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// A message runs while its frame syncs, and only its acknowledgement and
// its outcome's write wait for the sync: a worker claims it and completes
// it with the sync held, Append returns only after the sync, and the
// record (which may refer to the frame) is written after it too. A later
// message's outcome is not held back by the sync.
func TestMessageRunsWhileItsFrameSyncs(t *testing.T) {
	l, gate, first := heldSyncs(t)
	appended := make(chan error, 1)
	m := bodyMsg(2, 1000)
	go func() { appended <- l.Append(m) }() // its sync waits for the gate
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := l.Next(ctx)
	if err != nil {
		t.Fatalf("the message did not run while its frame synced: %v", err)
	}
	if got.ID != m.ID {
		t.Fatalf("claimed %x, want %x", got.ID, m.ID)
	}
	written := make(chan error, 1)
	rec := &Record{Status: StatusSucceeded, Payload: append([]byte("outcome:"), got.Body...), Tail: len(got.Body)}
	if err := l.Complete(got, rec, func(err error) { written <- err }); err != nil {
		t.Fatal(err)
	}
	if r, err := l.Lookup(got.ID); err != nil || r.Status != StatusSucceeded {
		t.Fatalf("the outcome before its write: %+v %v", r, err)
	}
	// An outcome of a message of an earlier frame is written meanwhile;
	// the held one is still not.
	done := make(chan error, 1)
	if err := l.Complete(first, &Record{Status: StatusSucceeded}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-appended:
		t.Fatalf("the append returned before its sync: %v", err)
	case err := <-written:
		t.Fatalf("the outcome was written before its message's frame was synced: %v", err)
	default:
	}
	gate <- struct{}{}
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	r, err := l.Lookup(got.ID)
	if err != nil || !bytes.Equal(r.Payload, rec.Payload) {
		t.Fatalf("after the write: %q %v", r.Payload, err)
	}
	close(gate) // Close's syncs
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// The fixed-width lengths and counts of a frame read back with
// binary.Uvarint, over every byte of the width.
func TestFixedVarint(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 1 << 14, 1<<30 + 5, 1<<35 - 1} {
		var b [fixedVarint + 1]byte
		b[fixedVarint] = 0xff // what follows must not be read
		putFixedVarint(b[:], v)
		got, n := binary.Uvarint(b[:])
		if got != v || n != fixedVarint {
			t.Fatalf("%d: read %d in %d bytes", v, got, n)
		}
	}
}

// A final record is read back as soon as Complete returns, before the
// committer writes it: the worker answers a sync caller at that moment, and
// a read of the result that follows the answer must find it. The committer
// is held in OnCommit after the second append's batch, so the completion
// stays queued.
func TestLookupSeesACompletionBeforeItIsWritten(t *testing.T) {
	hold := make(chan struct{})
	var held atomic.Bool
	l := openTest(t, t.TempDir(), Options{OnCommit: func(c Commit) {
		if c.Appended > 0 && held.Load() {
			<-hold
		}
	}})
	if err := l.Append(msg(1, "")); err != nil {
		t.Fatal(err)
	}
	first, err := l.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	held.Store(true)
	appended := make(chan error, 1)
	go func() { appended <- l.Append(msg(2, "")) }()
	waitFor(t, "the committer held after the second append", func() bool { return l.Stats().Batches == 2 })
	done := make(chan error, 1)
	if err := l.Complete(first, &Record{Status: StatusSucceeded, Payload: []byte("outcome")}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	rec, err := l.Lookup(first.ID)
	if err != nil || rec.Status != StatusSucceeded || string(rec.Payload) != "outcome" || rec.Updated.IsZero() {
		t.Fatalf("completed, not yet written: %+v %v", rec, err)
	}
	select {
	case err := <-done:
		t.Fatalf("the completion was written while the committer was held: %v", err)
	default:
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	if rec2, err := l.Lookup(first.ID); err != nil || rec2.Status != StatusSucceeded || !rec2.Updated.Equal(rec.Updated) {
		t.Fatalf("once written: %+v %v (before: %+v)", rec2, err, rec)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// A deleted segment's file is written again by a later segment, from its
// start; the messages appended into it come back after a restart, and the
// spare files do not outlive the process.
func TestSegmentFilesAreRecycled(t *testing.T) {
	dir := t.TempDir()
	opts := Options{segmentBytes: 32 << 10}
	l := openTest(t, dir, opts)
	for i := 0; l.Stats().Recycled == 0; i++ {
		if i == 400 {
			t.Fatal("no segment file was recycled after 400 messages of 2 KB in 32 KiB segments")
		}
		if err := l.Append(bodyMsg(100+i, 2000)); err != nil {
			t.Fatal(err)
		}
		m, err := l.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := complete(l, m, &Record{Status: StatusSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[ID][]byte{}
	for j := range 3 {
		m := bodyMsg(900+j, 2000)
		want[m.ID] = m.Body
		if err := l.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, segmentDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), freeExt) {
			t.Fatalf("spare file %s left after Close", e.Name())
		}
	}

	l = openTest(t, dir, opts)
	defer l.Close()
	if st := l.Stats(); st.Backlog != len(want) {
		t.Fatalf("backlog after the restart %d, want %d", st.Backlog, len(want))
	}
	for range want {
		m, err := l.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if body, ok := want[m.ID]; !ok || !bytes.Equal(m.Body, body) {
			t.Fatalf("recovered %x (%d bytes), not one of the appended", m.ID, len(m.Body))
		}
	}
}

// After a crash, a recycled file holds the frames of its first life behind
// the new ones; a reader stops at the first of them (their checksums name
// the file's old segment), even where a new frame ended exactly where an
// old one did.
func TestRecycledFileEndsAtItsNewFrames(t *testing.T) {
	dir := t.TempDir()
	s := &segments{dir: dir, maxBytes: 1 << 20, all: make(map[uint64]*segment)}
	frames := func(n int, from int) {
		for i := range n {
			s.add(bodyMsg(from+i, 500)) // every frame the same size
			if _, _, err := s.write(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.open(5); err != nil {
		t.Fatal(err)
	}
	frames(4, 100)
	old := s.cur
	s.seal()
	if err := s.remove(old, true); err != nil || len(s.free) != 1 {
		t.Fatalf("not kept for recycling: %v, %d spare", err, len(s.free))
	}
	if err := s.open(6); err != nil {
		t.Fatal(err)
	}
	if !s.cur.recycled {
		t.Fatal("segment 6 did not take the spare file")
	}
	frames(2, 200)
	_ = s.active.Close() // a crash: not sealed, the old tail stays
	var got []int
	if _, err := readSegment(dir, 6, func(m *Message) error {
		got = append(got, int(m.ID[2])+int(m.ID[1])<<8)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{200, 201}) {
		t.Fatalf("read %v from the recycled file, want [200 201]", got)
	}

	// A frame written before checksums named the segment is still read.
	if err := s.open(7); err != nil {
		t.Fatal(err)
	}
	frames(1, 300)
	_ = s.active.Close()
	path := segmentPath(dir, 7)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = data[:frameHeader+binary.LittleEndian.Uint32(data)&^frameSeeded] // without the preallocated tail
	binary.LittleEndian.PutUint32(data, uint32(len(data)-frameHeader))
	binary.LittleEndian.PutUint32(data[4:], crc32.Checksum(data[frameHeader:], crcTable))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	if _, err := readSegment(dir, 7, func(m *Message) error {
		got = append(got, int(m.ID[2])+int(m.ID[1])<<8)
		return nil
	}); err != nil || !slices.Equal(got, []int{300}) {
		t.Fatalf("old-format frame: read %v, %v", got, err)
	}
}

// An append to an idle log is written and synced by its own caller (lead):
// one leader at a time; an append that comes while the leader's frame
// syncs waits for the committer's next frame, after the leader's, and is
// acknowledged only after its own sync.
func TestIdleAppendLeadsItsCommit(t *testing.T) {
	l, gate, _ := heldSyncs(t)
	if s := l.Stats(); s.Led != 1 || s.Batches != 1 {
		t.Fatalf("the first append to an idle log: led %d, batches %d; want 1, 1", s.Led, s.Batches)
	}
	second, third := msg(2, ""), msg(3, "")
	led := make(chan error, 1)
	go func() { led <- l.Append(second) }() // leads; its sync waits for the gate
	waitFor(t, "the second append's frame", func() bool { return l.Stats().Batches == 2 })
	queued := make(chan error, 1)
	go func() { queued <- l.Append(third) }() // a leader is syncing: to the committer
	waitFor(t, "the third append to reach the committer", func() bool { return l.holding.Load() })
	if got := l.Stats().Batches; got != 2 {
		t.Fatalf("%d batches while the leader's frame syncs; the third append must wait for it", got)
	}
	gate <- struct{}{} // the leader's sync
	if err := <-led; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the committer's frame", func() bool { return l.Stats().Batches == 3 })
	select {
	case err := <-queued:
		t.Fatalf("the third append returned before its sync: %v", err)
	default:
	}
	gate <- struct{}{} // the committer's sync
	if err := <-queued; err != nil {
		t.Fatal(err)
	}
	if s := l.Stats(); s.Led != 2 || s.Syncs != 3 || third.Seq <= second.Seq {
		t.Fatalf("led %d, syncs %d, seqs %d then %d; want 2, 3, in order", s.Led, s.Syncs, second.Seq, third.Seq)
	}
	for _, want := range []*Message{second, third} {
		got, err := l.Next(context.Background())
		if err != nil || got.ID != want.ID {
			t.Fatalf("ran %v (%v), want %x", got, err, want.ID)
		}
	}
	close(gate) // Close's syncs
}

// A new segment file is allocated to its full size at once (so that a
// sync commits no size); after a crash its unwritten tail (zeros) ends the
// log like a torn frame, and sealing cuts the file to its frames.
func TestPreallocatedTailEndsTheLog(t *testing.T) {
	dir := t.TempDir()
	s := &segments{dir: dir, maxBytes: 1 << 20, all: make(map[uint64]*segment)}
	if err := s.open(1); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		s.add(bodyMsg(i, 300))
		if _, _, err := s.write(); err != nil {
			t.Fatal(err)
		}
	}
	written := s.cur.bytes
	fi, err := s.active.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != s.maxBytes {
		t.Errorf("a new segment file of %d bytes, want %d (preallocated)", fi.Size(), s.maxBytes)
	}
	_ = s.active.Close() // a crash: not sealed
	n := 0
	end, err := readSegment(dir, 1, func(*Message) error { n++; return nil })
	if err != nil || n != 3 || end != written {
		t.Fatalf("after a crash: %d messages, end %d, %v; want 3, %d", n, end, err, written)
	}

	if err := s.open(2); err != nil {
		t.Fatal(err)
	}
	s.add(bodyMsg(9, 300))
	if _, _, err := s.write(); err != nil {
		t.Fatal(err)
	}
	written = s.cur.bytes
	s.seal()
	if fi, err := os.Stat(segmentPath(dir, 2)); err != nil || fi.Size() != written {
		t.Fatalf("sealed: %v, %v; want %d bytes", fi, err, written)
	}
}

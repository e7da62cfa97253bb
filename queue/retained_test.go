package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// bodyMsg is msg(i) with a body of n bytes.
func bodyMsg(i, n int) *Message {
	m := msg(i, "")
	m.Body = bytes.Repeat([]byte{'a' + byte(i%26)}, n)
	return m
}

// completeEcho appends m, runs it and completes it with a payload whose
// tail is m's body (tail false: marked as not the message's body), and
// returns that payload.
func completeEcho(t *testing.T, l *Log, m *Message, tail bool) []byte {
	t.Helper()
	if err := l.Append(m); err != nil {
		t.Fatal(err)
	}
	got, err := l.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	payload := append([]byte("outcome:"), got.Body...)
	rec := &Record{Status: StatusSucceeded, Attempts: 1, Payload: payload}
	if tail {
		rec.Tail = len(got.Body)
	}
	if err := complete(l, got, rec); err != nil {
		t.Fatal(err)
	}
	return payload
}

// rawRecord is what Badger holds under m's record key.
func rawRecord(t *testing.T, l *Log, id ID) []byte {
	t.Helper()
	var v []byte
	err := l.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(recordKey(id))
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func lookupPayload(t *testing.T, l *Log, id ID, want []byte) {
	t.Helper()
	rec, err := l.Lookup(id)
	if err != nil || rec.Status != StatusSucceeded || !bytes.Equal(rec.Payload, want) {
		t.Fatalf("lookup: status %v, %d bytes of payload (want %d), equal %v, err %v",
			rec.Status, len(rec.Payload), len(want), bytes.Equal(rec.Payload, want), err)
	}
}

// A result whose body is the message's own body is written once: the
// record refers to the message's copy in its segment, Lookup returns the
// whole payload, the segment stays once every message in it is final, and
// a restart finds it again without reading it (its mark in Badger).
func TestResultBodyKeptByReference(t *testing.T) {
	dir := t.TempDir()
	opts := Options{segmentBytes: 64 << 10, Retention: time.Hour}
	l := openTest(t, dir, opts)
	const n, size = 6, 16 << 10 // 6 × 16 KiB: two sealed segments and an active one
	payloads := make([][]byte, n)
	for i := range n {
		payloads[i] = completeEcho(t, l, bodyMsg(i, size), true)
	}
	for i := range n {
		id := msg(i, "").ID
		if v := rawRecord(t, l, id); v[0] != recordRefKind || len(v) > 200 {
			t.Fatalf("record %d: kind %d, %d bytes in Badger: the body was copied", i, v[0], len(v))
		}
		lookupPayload(t, l, id, payloads[i])
	}
	waitFor(t, "a sealed segment kept for its results", func() bool { return l.Stats().KeptSegments >= 1 })
	st := l.Stats()
	if st.SegmentsDeleted != 0 || st.Inlined != 0 {
		t.Fatalf("a segment holding only retained bodies was deleted or rewritten: %+v", st)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := len(segmentFiles(t, dir))
	// The first segment is marked kept: a restart must not read it (it
	// would cut this torn end off).
	f, err := os.OpenFile(segmentPath(filepath.Join(dir, segmentDir), 1), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if _, err := f.Write([]byte("torn")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l = openTest(t, dir, opts)
	defer l.Close()
	for i := range n {
		lookupPayload(t, l, msg(i, "").ID, payloads[i])
	}
	if got := len(segmentFiles(t, dir)); got != files {
		t.Fatalf("%d segment files after the restart, %d before", got, files)
	}
	waitFor(t, "every segment kept after the restart", func() bool { return l.Stats().KeptSegments == files })
	if fi2, err := os.Stat(f.Name()); err != nil || fi2.Size() != fi.Size()+4 {
		t.Fatalf("the kept segment was read at the restart: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if m, err := l.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a final message ran again after the restart: %v %v", m, err)
	}
}

// A kept segment goes when the newest record that refers to it expires.
func TestKeptSegmentGoesWithItsResults(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{segmentBytes: 4 << 10, Retention: time.Second})
	defer l.Close()
	payload := completeEcho(t, l, bodyMsg(1, 8<<10), true) // over the cap: sealed by the next upkeep
	id := msg(1, "").ID
	lookupPayload(t, l, id, payload)
	waitFor(t, "the segment kept", func() bool { return l.Stats().KeptSegments == 1 })
	waitFor(t, "the kept segment deleted after the retention", func() bool {
		return l.Stats().KeptSegments == 0 && len(segmentFiles(t, dir)) == 0
	})
	if _, err := l.Lookup(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the retention: %v", err)
	}
}

// A segment that retained results refer to for less than half of its
// bytes is not kept for them: their bodies are copied into their records,
// and it goes like any other.
func TestMinorityReferencesAreCopied(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{segmentBytes: 32 << 10, Retention: time.Hour})
	defer l.Close()
	other := completeEcho(t, l, bodyMsg(1, 24<<10), false) // a destination's answer, say
	kept := completeEcho(t, l, bodyMsg(2, 2<<10), true)
	if v := rawRecord(t, l, msg(2, "").ID); v[0] != recordRefKind {
		t.Fatalf("record kind %d: not a reference", v[0])
	}
	completeEcho(t, l, bodyMsg(3, 8<<10), false) // fills the segment past its cap
	waitFor(t, "the segment deleted", func() bool {
		return l.Stats().Inlined == 1 && !hasSegment(dir, 1)
	})
	if v := rawRecord(t, l, msg(2, "").ID); v[0] != codecVersion {
		t.Fatalf("record kind %d: not rewritten with its body", v[0])
	}
	lookupPayload(t, l, msg(1, "").ID, other)
	lookupPayload(t, l, msg(2, "").ID, kept)
	if st := l.Stats(); st.KeptSegments != 0 {
		t.Fatalf("%d segments kept", st.KeptSegments)
	}
	// A lookup may still be reading a body from the old file: it is
	// deleted, never written again by a later segment.
	if matches, _ := filepath.Glob(filepath.Join(dir, segmentDir, "*"+freeExt)); len(matches) > 0 {
		t.Fatalf("the file results referred to was kept for recycling: %v", matches)
	}
}

func hasSegment(dir string, n uint64) bool {
	_, err := os.Stat(segmentPath(filepath.Join(dir, segmentDir), n))
	return err == nil
}

// What may not refer to the body: a short body, a tail that is not the
// body, a message that left its segment (a retry wrote it to Badger).
func TestBodyReferenceOnlyWhereItHolds(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{Retention: time.Hour})
	defer l.Close()
	small := completeEcho(t, l, bodyMsg(1, minBodyRef-1), true)
	if v := rawRecord(t, l, msg(1, "").ID); v[0] != codecVersion {
		t.Fatalf("a %d-byte body: record kind %d", minBodyRef-1, v[0])
	}
	lookupPayload(t, l, msg(1, "").ID, small)

	m := bodyMsg(2, 4<<10)
	if err := l.Append(m); err != nil {
		t.Fatal(err)
	}
	got, _ := l.Next(context.Background())
	got.Attempts, got.NotBefore, got.State = 1, time.Now(), []byte("attempt 1")
	done := make(chan error, 1)
	if err := l.Retry(got, func(err error) { done <- err }); err != nil || <-done != nil {
		t.Fatal(err)
	}
	got, _ = l.Next(context.Background())
	payload := append([]byte("outcome:"), got.Body...)
	if err := complete(l, got, &Record{Status: StatusSucceeded, Payload: payload, Tail: len(got.Body)}); err != nil {
		t.Fatal(err)
	}
	if v := rawRecord(t, l, m.ID); v[0] != codecVersion {
		t.Fatalf("a message out of its segment: record kind %d", v[0])
	}
	lookupPayload(t, l, m.ID, payload)

	m = bodyMsg(3, 4<<10)
	if err := l.Append(m); err != nil {
		t.Fatal(err)
	}
	got, _ = l.Next(context.Background())
	payload = fmt.Appendf(nil, "outcome:%s", bytes.Repeat([]byte("z"), 100))
	if err := complete(l, got, &Record{Status: StatusSucceeded, Payload: payload, Tail: 100}); err != nil {
		t.Fatal(err)
	}
	if v := rawRecord(t, l, m.ID); v[0] != codecVersion {
		t.Fatalf("a tail that is not the body: record kind %d", v[0])
	}
	lookupPayload(t, l, m.ID, payload)
}

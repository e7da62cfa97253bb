package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func openTest(t *testing.T, dir string, opts Options) *Log {
	t.Helper()
	opts.Dir = dir
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// complete records rec and waits until it is written.
func complete(l *Log, m *Message, rec *Record) error {
	done := make(chan error, 1)
	if err := l.Complete(m, rec, func(err error) { done <- err }); err != nil {
		return err
	}
	return <-done
}

func msg(i int, key string) *Message {
	m := &Message{Route: "r", Key: key, Received: time.Now().UTC(), ContentType: "application/json",
		Headers: []Header{{"X-N", fmt.Sprint(i)}}, Body: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	m.ID[0], m.ID[1], m.ID[2] = byte(i>>16), byte(i>>8), byte(i)
	return m
}

// appendN appends msg(0, key) … msg(n-1, key).
func appendN(t *testing.T, l *Log, n int, key string) {
	t.Helper()
	for i := range n {
		if err := l.Append(msg(i, key)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	m := msg(7, "k")
	m.Seq, m.Sync = 42, true
	m.Attempts, m.NotBefore, m.State = 2, m.Received.Add(time.Minute), []byte("attempts")
	m.IdemKey, m.IdemHash[31], m.IdemTTL = "order-1", 9, time.Hour
	got, err := decodeMessage(appendMessage(nil, m))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || got.Seq != 42 || !got.Sync || got.Route != "r" || got.Key != "k" ||
		!got.Received.Equal(m.Received) || got.ContentType != m.ContentType || len(got.Headers) != 1 ||
		got.Headers[0] != m.Headers[0] || !bytes.Equal(got.Body, m.Body) ||
		got.Attempts != 2 || !got.NotBefore.Equal(m.NotBefore) || string(got.State) != "attempts" ||
		got.IdemKey != "order-1" || got.IdemHash != m.IdemHash || got.IdemTTL != time.Hour {
		t.Fatalf("round trip: got %+v want %+v", got, m)
	}
	r := Record{ID: m.ID, Route: "r", Status: StatusFailed, Attempts: 3, Created: m.Received, Updated: m.Received.Add(time.Second), Payload: []byte("p")}
	gr, ref, err := decodeRecord(appendRecord(nil, &r))
	if err != nil {
		t.Fatal(err)
	}
	if gr.ID != r.ID || gr.Status != r.Status || gr.Attempts != 3 || !gr.Created.Equal(r.Created) || !gr.Updated.Equal(r.Updated) ||
		string(gr.Payload) != "p" || ref != (bodyRef{}) {
		t.Fatalf("record round trip: got %+v %+v", gr, ref)
	}
	// A record whose payload ends with the message's body keeps a
	// reference in its place.
	r.Payload = []byte("head" + "the body")
	want := bodyRef{seg: 7, off: 1234, n: 8}
	gr, ref, err = decodeRecord(appendRecordRef(nil, &r, want))
	if err != nil {
		t.Fatal(err)
	}
	if ref != want || string(gr.Payload) != "head" || cap(gr.Payload) < 12 || gr.Status != r.Status || gr.Route != "r" {
		t.Fatalf("record with a body reference: got %+v %+v", gr, ref)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(appendMessage(nil, msg(1, "k")))
	f.Add(appendRecord(nil, &Record{Status: StatusAccepted, Route: "x"}))
	f.Add(appendRecordRef(nil, &Record{Status: StatusSucceeded, Route: "x", Payload: []byte("pbody")}, bodyRef{seg: 1, off: 99, n: 4}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeMessage(b); err == nil {
			if _, err := decodeMessage(appendMessage(nil, m)); err != nil {
				t.Fatalf("re-encoding a decoded message fails: %v", err)
			}
		}
		decodeRecord(b)
	})
}

// Every Append must return only after a sync that covers it, and concurrent
// appends must share syncs.
func TestGroupCommitSyncsBeforeAck(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	defer l.Close()
	const writers, each = 64, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m := msg(w*each+i, "")
				if err := l.Append(m); err != nil {
					errs <- err
					return
				}
				if synced := l.Stats().SyncedSeq; m.Seq > synced {
					errs <- fmt.Errorf("append of seq %d acknowledged before sync (synced through %d)", m.Seq, synced)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Appends != writers*each {
		t.Fatalf("appends = %d, want %d", st.Appends, writers*each)
	}
	if st.Syncs == 0 || st.Syncs >= st.Appends/2 {
		t.Fatalf("syncs = %d for %d appends: group commit is not batching", st.Syncs, st.Appends)
	}
	t.Logf("%d appends in %d syncs", st.Appends, st.Syncs)
}

func TestDurabilityNoneDoesNotSync(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{Durability: DurabilityNone})
	defer l.Close()
	appendN(t, l, 10, "")
	if s := l.Stats().Syncs; s != 0 {
		t.Fatalf("syncs = %d with durability none", s)
	}
}

func TestRecoveryKeepsOrderAndDropsCompleted(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	appendN(t, l, 10, "k")
	ctx := context.Background()
	first, err := l.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := complete(l, first, &Record{Status: StatusSucceeded, Payload: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openTest(t, dir, Options{})
	defer l.Close()
	rec, err := l.Lookup(first.ID)
	if err != nil || rec.Status != StatusSucceeded || string(rec.Payload) != "ok" {
		t.Fatalf("completed record after restart: %+v, %v", rec, err)
	}
	var lastSeq uint64
	for i := 1; i < 10; i++ {
		m, err := l.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := msg(i, "k"); m.ID != want.ID || !bytes.Equal(m.Body, want.Body) {
			t.Fatalf("recovered message %d: got body %s", i, m.Body)
		}
		if rec, _ := l.Lookup(m.ID); rec.Status != StatusProcessing {
			t.Fatalf("claimed message status = %v", rec.Status)
		}
		lastSeq = m.Seq
		if err := complete(l, m, &Record{Status: StatusSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	// New appends continue the sequence after the recovered ones.
	m := msg(100, "k")
	if err := l.Append(m); err != nil {
		t.Fatal(err)
	}
	if m.Seq <= lastSeq {
		t.Fatalf("new seq %d not after recovered %d", m.Seq, lastSeq)
	}
}

func TestBacklogLimit(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{Limits: Limits{Messages: 3}})
	defer l.Close()
	appendN(t, l, 3, "")
	if err := l.Append(msg(3, "")); !errors.Is(err, ErrBacklogFull) {
		t.Fatalf("4th append: %v, want ErrBacklogFull", err)
	}
	m, _ := l.Next(context.Background())
	if err := complete(l, m, &Record{Status: StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(msg(4, "")); err != nil {
		t.Fatalf("append after completion: %v", err)
	}
	if _, err := l.Lookup(msg(3, "").ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused message was stored: %v", err)
	}
}

// Hammer: many workers, many keys; per key, a message never starts before its
// predecessor completed, and starts in append order.
func TestSchedulerPerKeyOrderHammer(t *testing.T) {
	s := newScheduler(Limits{})
	const keys, per = 10, 200
	var all []*Message
	for i := range per {
		for k := range keys {
			m := msg(i*keys+k, fmt.Sprint("k", k))
			m.Seq = uint64(i)
			all = append(all, m)
		}
	}
	s.push(all, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	running := map[string]bool{}
	last := map[string]int64{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	var doneCount int
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := s.next(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				if running[m.Key] {
					errs <- fmt.Errorf("key %s ran twice at once", m.Key)
				}
				if prev, ok := last[m.Key]; ok && int64(m.Seq) <= prev {
					errs <- fmt.Errorf("key %s: seq %d after %d", m.Key, m.Seq, prev)
				}
				running[m.Key], last[m.Key] = true, int64(m.Seq)
				mu.Unlock()
				mu.Lock()
				running[m.Key] = false
				doneCount++
				if doneCount == len(all) {
					cancel()
				}
				mu.Unlock()
				s.done(m)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if doneCount != len(all) {
		t.Fatalf("ran %d of %d", doneCount, len(all))
	}
	if n, b := s.backlog(); n != 0 || b != 0 {
		t.Fatalf("backlog after all done: %d, %d", n, b)
	}
}

// BenchmarkLog measures the log's own ceiling: 64 concurrent appenders of
// 1 KiB messages while a consumer completes each one with a 1 KiB outcome, as
// an async route without a destination does (its result is the message).
func BenchmarkLog(b *testing.B) {
	for _, d := range []struct {
		name string
		d    Durability
	}{{"fsync", DurabilityFsync}, {"none", DurabilityNone}} {
		b.Run(d.name, func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), Durability: d.d})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			body := bytes.Repeat([]byte("x"), 1024)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				for {
					m, err := l.Next(ctx)
					if err != nil {
						return
					}
					l.Complete(m, &Record{Status: StatusSucceeded, Payload: m.Body}, nil)
				}
			}()
			b.SetParallelism(32) // × GOMAXPROCS(2) = 64 appenders
			b.SetBytes(1024)
			b.ResetTimer()
			var n atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m := &Message{Route: "r", Received: time.Now(), Body: body}
					binary.BigEndian.PutUint64(m.ID[8:], n.Add(1))
					binary.BigEndian.PutUint64(m.ID[:8], uint64(time.Now().UnixNano()))
					if err := l.Append(m); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.StopTimer()
			st := l.Stats()
			b.ReportMetric(float64(st.Appends)/b.Elapsed().Seconds(), "appends/s")
			b.ReportMetric(float64(st.Completes)/b.Elapsed().Seconds(), "completes/s")
			b.ReportMetric(float64(st.WriteNanos)/1e3/float64(st.Batches), "writeµs/batch")
			b.ReportMetric(float64(st.SyncNanos)/1e3/float64(max(st.Syncs, 1)), "µs/sync")
			b.ReportMetric(float64(st.Appends+st.Completes)/float64(st.Batches), "ops/batch")
			if st.Syncs > 0 {
				b.ReportMetric(float64(st.Appends)/float64(st.Syncs), "appends/sync")
			}
		})
	}
}

func TestRetryKeepsTheKeyAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	m1, m2 := msg(1, "k"), msg(2, "k")
	for _, m := range []*Message{m1, m2} {
		if err := l.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Next(context.Background())
	if err != nil || got.ID != m1.ID {
		t.Fatalf("Next: %v %v", got, err)
	}
	got.Attempts, got.NotBefore, got.State = 1, time.Now().Add(time.Hour), []byte("log")
	done := make(chan error, 1)
	if err := l.Retry(got, func(err error) { done <- err }); err != nil || <-done != nil {
		t.Fatal("Retry failed")
	}
	// m1 waits an hour; m2 shares its key, so nothing may run.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if n, err := l.Next(ctx); err == nil {
		t.Fatalf("%v ran while the head of its key waits to retry", n.ID)
	}
	cancel()
	if rec, err := l.Lookup(m1.ID); err != nil || rec.Status != StatusRetrying || rec.Attempts != 1 || string(rec.Payload) != "log" {
		t.Fatalf("Lookup while retrying: %+v %v", rec, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// After a restart the retry state is back, and m1 still holds its key:
	// neither it (not due) nor m2 (behind it) runs.
	l = openTest(t, dir, Options{})
	defer l.Close()
	if rec, err := l.Lookup(m1.ID); err != nil || rec.Status != StatusRetrying || string(rec.Payload) != "log" {
		t.Fatalf("Lookup after restart: %+v %v", rec, err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if n, err := l.Next(ctx); err == nil {
		t.Fatalf("%v ran after the restart before the retrying head of its key", n.ID)
	}
}

func TestRetryRunsAgainAtNotBefore(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	defer l.Close()
	m1, m2 := msg(1, "k"), msg(2, "k")
	for _, m := range []*Message{m1, m2} {
		if err := l.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := l.Next(context.Background())
	due := time.Now().Add(50 * time.Millisecond)
	got.Attempts, got.NotBefore, got.State = 2, due, []byte("s")
	if err := l.Retry(got, nil); err != nil {
		t.Fatal(err)
	}
	again, err := l.Next(context.Background())
	if err != nil || again.ID != m1.ID || time.Now().Before(due) || again.Attempts != 2 {
		t.Fatalf("Next after Retry: %+v %v (due %v)", again, err, due)
	}
	if err := complete(l, again, &Record{Status: StatusSucceeded, Attempts: 3}); err != nil {
		t.Fatal(err)
	}
	if next, err := l.Next(context.Background()); err != nil || next.ID != m2.ID {
		t.Fatalf("the key's next message: %+v %v", next, err)
	}
}

func TestRetentionExpiresFinalRecords(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{Retention: time.Second, GCInterval: 50 * time.Millisecond})
	defer l.Close()
	m := msg(1, "")
	if err := l.Append(m); err != nil {
		t.Fatal(err)
	}
	got, _ := l.Next(context.Background())
	if err := complete(l, got, &Record{Status: StatusSucceeded, Attempts: 1, Payload: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	if rec, err := l.Lookup(m.ID); err != nil || rec.Status != StatusSucceeded {
		t.Fatalf("right after completing: %+v %v", rec, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := l.Lookup(m.ID)
		if errors.Is(err, ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the record outlived its 1s retention: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A batch must fit one Badger transaction (a WriteBatch that spills into a
// second one may straddle a memtable switch, and db.Sync covers only the
// newest memtable) and its frame must stay under maxBatchFile. Many large
// appends at once must be split into batches under both caps, and every one
// of them must be in the log.
func TestBatchesFitOneTransaction(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	const n, size = 96, 512 << 10 // 48 MiB in all: ten times Badger's limit of one transaction
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := msg(i, "")
			m.Body = bytes.Repeat([]byte{'a' + byte(i%26)}, size)
			errs <- l.Append(m)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := l.stats.largestBatch.Load(); got > l.db.MaxBatchSize() {
		t.Fatalf("largest batch %d bytes, over Badger's limit of one transaction (%d)", got, l.db.MaxBatchSize())
	}
	if st := l.Stats(); st.Batches < n*size/maxBatchFile {
		t.Fatalf("%d appends of %d KiB went in %d batches; a batch's frame holds at most %d bytes",
			n, size>>10, st.Batches, maxBatchFile)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, Options{})
	defer l.Close()
	seen := 0
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for seen < n {
		m, err := l.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d recovered messages: %v", seen, n, err)
		}
		if len(m.Body) != size || m.Body[0] != 'a'+byte(int(m.ID[2])%26) {
			t.Fatalf("message %v: body of %d bytes starting %q", m.ID, len(m.Body), m.Body[:1])
		}
		seen++
	}
}

// Fifos of idle keys are reused, but only up to maxSpare of them and never
// with a large array: a burst on one key must not pin its memory. A reused
// fifo must start empty, so order per key holds across reuse.
func TestSchedulerSpareFifos(t *testing.T) {
	s := newScheduler(Limits{})
	ctx := context.Background()
	run := func(ms []*Message) {
		t.Helper()
		for _, m := range ms {
			if err := s.reserve(m); err != nil {
				t.Fatal(err)
			}
		}
		s.push(ms, false)
		// Per key, messages must come out in push order: the first of each
		// key is ready at once, the rest wait behind it.
		last := map[string]int{}
		for range ms {
			m, err := s.next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := int(m.ID[0])<<16 | int(m.ID[1])<<8 | int(m.ID[2])
			if p, ok := last[m.Key]; ok && p > n {
				t.Fatalf("key %q: message %d ran after %d", m.Key, n, p)
			}
			last[m.Key] = n
			s.done(m)
		}
	}
	// One key with a burst of 1000: its fifo grows past spareCap.
	burst := make([]*Message, 1000)
	for i := range burst {
		burst[i] = msg(i, "hot")
	}
	run(burst)
	if len(s.spare) != 1 || cap(s.spare[0].items) > spareCap {
		t.Fatalf("after a burst: %d spares, the first holding %d slots", len(s.spare), cap(s.spare[0].items))
	}
	// 3000 keys busy at once, two messages each: at most maxSpare fifos stay.
	var many []*Message
	for i := range 6000 {
		many = append(many, msg(i, fmt.Sprint("k", i%3000)))
	}
	run(many)
	if len(s.spare) != maxSpare || len(s.keys) != 0 {
		t.Fatalf("after 3000 keys went idle: %d spares (max %d), %d busy keys", len(s.spare), maxSpare, len(s.keys))
	}
	for _, f := range s.spare {
		if f.len() != 0 {
			t.Fatalf("spare fifo holds %d messages", f.len())
		}
	}
}

// A large message and a large record must read back the same, before and
// after a restart, and the message must be gone once completed.
func TestLargeValuesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	m := msg(1, "")
	m.Body = bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	pending := msg(2, "")
	pending.Body = bytes.Repeat([]byte("fedcba9876543210"), 1024) // 16 KiB, stays pending
	for _, x := range []*Message{m, pending} {
		if err := l.Append(x); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := l.Next(ctx)
	if err != nil || got.ID != m.ID {
		t.Fatalf("next: %v, %v", got, err)
	}
	payload := bytes.Repeat([]byte("out!"), 20000) // 80 KB
	if err := complete(l, m, &Record{ID: m.ID, Route: "r", Status: StatusSucceeded, Created: m.Received, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		rec, err := l.Lookup(m.ID)
		if err != nil || rec.Status != StatusSucceeded || !bytes.Equal(rec.Payload, payload) {
			t.Fatalf("%s: record %v (%d payload bytes), %v", when, rec.Status, len(rec.Payload), err)
		}
	}
	check("before the restart")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, Options{})
	defer l.Close()
	check("after the restart")
	got, err = l.Next(ctx)
	if err != nil || got.ID != pending.ID || !bytes.Equal(got.Body, pending.Body) {
		t.Fatalf("recovered %v (%d bytes), %v; want the pending 16 KiB message", got, len(got.Body), err)
	}
	if st := l.Stats(); st.Backlog != 1 {
		t.Fatalf("backlog %d after the restart, want 1 (the completed message must not come back)", st.Backlog)
	}
}

// Under MinFreeBytes of free space the log refuses appends with ErrDiskFull
// and stores nothing; completions still go through (draining frees space);
// once space is back, appends are accepted again.
func TestDiskGuard(t *testing.T) {
	var free atomic.Int64
	free.Store(10 << 30)
	l := openTest(t, t.TempDir(), Options{MinFreeBytes: 1 << 30,
		freeBytes: func(string) (int64, int64, error) { return free.Load(), 100 << 30, nil }})
	defer l.Close()

	first := msg(1, "")
	if err := l.Append(first); err != nil {
		t.Fatalf("10 GiB free: %v", err)
	}
	free.Store(512 << 20)
	l.checkDisk()
	if st := l.Stats(); !st.DiskLow || st.DiskFree != 512<<20 {
		t.Fatalf("stats with 512 MiB free: low %v, free %d", st.DiskLow, st.DiskFree)
	}
	refused := msg(2, "")
	if err := l.Append(refused); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("512 MiB free, 1 GiB minimum: Append = %v, want ErrDiskFull", err)
	}
	if _, err := l.Lookup(refused.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused message was stored: %v", err)
	}
	if st := l.Stats(); st.Appends != 1 || st.Backlog != 1 {
		t.Fatalf("after the refusal: %d appends, backlog %d; want 1 and 1", st.Appends, st.Backlog)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := l.Next(ctx)
	if err != nil || m.ID != first.ID {
		t.Fatalf("next: %v, %v", m, err)
	}
	if err := complete(l, m, &Record{ID: m.ID, Route: "r", Status: StatusSucceeded, Created: m.Received}); err != nil {
		t.Fatalf("completing while the disk is low: %v", err)
	}
	free.Store(2 << 30)
	l.checkDisk()
	if err := l.Append(refused); err != nil {
		t.Fatalf("2 GiB free again: %v", err)
	}
}

// MinFreeBytes 0 turns the guard off; a real file system reports its space;
// AutoMinFree keeps 1 GiB or 5%, whichever is smaller.
func TestDiskGuardOffAndReal(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{freeBytes: func(string) (int64, int64, error) { return 0, 100 << 30, nil }})
	defer l.Close()
	if err := l.Append(msg(1, "")); err != nil {
		t.Fatalf("guard off, 0 bytes free: %v", err)
	}
	free, total, err := freeBytes(t.TempDir())
	if err != nil || free <= 0 || total < free {
		t.Fatalf("space of the temp dir's file system: %d free of %d, %v", free, total, err)
	}
	for total, want := range map[int64]int64{100 << 30: 1 << 30, 10 << 30: 512 << 20, 1 << 30: 1 << 30 / 20} {
		if got := minFree(total); got != want {
			t.Errorf("AutoMinFree on %d bytes: %d, want %d", total, got, want)
		}
	}
}

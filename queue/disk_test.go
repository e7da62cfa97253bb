package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stubDisk is a file system whose free space the test sets, less what the
// log's segment files take (Badger's files the log measures itself); it
// is 100 GiB, so Badger keeps its default sizes.
type stubDisk struct{ free atomic.Int64 }

func (d *stubDisk) bytes(dir string) (int64, int64, error) {
	free := d.free.Load()
	ns, _ := listSegments(filepath.Join(dir, segmentDir))
	for _, n := range ns {
		if b, err := allocated(segmentPath(filepath.Join(dir, segmentDir), n)); err == nil {
			free -= b
		}
	}
	return free, 100 << 30, nil
}

// A burst of appends larger than the margin above the line must be refused
// by the committer's own accounting, not after the next once-a-second
// measurement: the measurement loop is off here (an hour), and the stubbed
// free space never moves, so only the committer's charge per batch and its
// own measurements (which see the WAL grow) can stop the burst.
func TestDiskBudgetRefusesABurst(t *testing.T) {
	disk := &stubDisk{}
	disk.free.Store(100 << 30)
	l := openTest(t, t.TempDir(), Options{MinFreeBytes: 1 << 20, diskInterval: time.Hour, freeBytes: disk.bytes})
	defer l.Close()
	const margin = 4 << 20
	disk.free.Store(l.Stats().DiskMinFree + margin) // the line is the floor plus the drain headroom here
	l.checkDisk()                                   // the last tick's measurement; the next is an hour away
	checks := l.Stats().DiskChecks
	const writers, size = 16, 64 << 10 // 16 MiB offered if nobody stopped them: 4× the margin
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 16 {
				m := msg(w<<8|i, "")
				m.Body = make([]byte, size)
				err := l.Append(m)
				if errors.Is(err, ErrDiskFull) {
					refused.Add(1)
					return
				}
				if err != nil {
					errs <- err
					return
				}
				accepted.Add(m.Size())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := l.Stats()
	t.Logf("%d KiB accepted, %d appenders refused in %v; %d measurements; floor %d KiB, line %d KiB",
		accepted.Load()>>10, refused.Load(), time.Since(start).Round(time.Millisecond), st.DiskChecks, st.DiskFloor>>10, st.DiskMinFree>>10)
	if refused.Load() == 0 {
		t.Fatalf("16 MiB of appends against a %d MiB margin: none refused", margin>>20)
	}
	if accepted.Load() > margin {
		t.Fatalf("%d bytes accepted past a margin of %d", accepted.Load(), margin)
	}
	if st.DiskChecks == checks {
		t.Fatalf("the committer never measured while the estimate said no")
	}
	if !st.DiskLow || l.Ready() == nil {
		t.Fatalf("after the burst: DiskLow %v, Ready %v; want drain mode", st.DiskLow, l.Ready())
	}
}

// Opening on a disk under the line starts in drain mode: appends refused,
// outcomes written. Under the floor outcomes wait, in order, and no new
// message starts; once space is back they are written and appends are
// accepted. Under the floor at Open, Open fails with ErrDiskFull (Badger's
// replay would flush into a disk without room for it).
func TestDiskGuardDrainModeAndFloor(t *testing.T) {
	dir := t.TempDir()
	disk := &stubDisk{}
	disk.free.Store(100 << 30)
	opts := Options{MinFreeBytes: 1 << 30, freeBytes: disk.bytes, diskInterval: time.Hour}
	l := openTest(t, dir, opts)
	m1, m2, m3, m4 := msg(1, "a"), msg(2, "b"), msg(3, "c"), msg(4, "d")
	for _, m := range []*Message{m1, m2, m3, m4} {
		if err := l.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	disk.free.Store(512 << 20) // under the 1 GiB line, well over the floor
	l = openTest(t, dir, opts)
	if st := l.Stats(); !errors.Is(l.Ready(), ErrDiskFull) || !st.DiskLow || st.DiskFloor <= 0 || st.DiskFloor >= 512<<20 {
		t.Fatalf("opened with 512 MiB free, line 1 GiB: Ready %v, stats %+v; want drain mode", l.Ready(), st)
	}
	if err := l.Append(msg(5, "")); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("append in drain mode: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := l.Next(ctx)
	if err != nil || got.ID != m1.ID {
		t.Fatalf("next: %v %v", got, err)
	}
	if err := complete(l, got, &Record{Status: StatusSucceeded}); err != nil {
		t.Fatalf("completing in drain mode: %v", err)
	}

	floor := l.Stats().DiskFloor
	disk.free.Store(floor) // no room for anything
	l.checkDisk()          // what the once-a-second measurement does
	got, err = l.Next(ctx)
	if err != nil || got.ID != m2.ID {
		t.Fatalf("next: %v %v", got, err)
	}
	done := make(chan error, 1)
	if err := l.Complete(got, &Record{Status: StatusSucceeded, Payload: []byte("later")}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the outcome to be held", func() bool { return l.Stats().DiskHeld == 1 })
	select {
	case err := <-done:
		t.Fatalf("an outcome under the floor was not held: done(%v)", err)
	default:
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	if m, err := l.Next(short); err == nil {
		t.Fatalf("message %v started while outcomes wait for space", m.ID)
	}
	cancelShort()

	disk.free.Store(2 << 30)
	l.checkDisk()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("held outcome: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the held outcome was not written once space came back")
	}
	if rec, err := l.Lookup(m2.ID); err != nil || string(rec.Payload) != "later" {
		t.Fatalf("held outcome after space came back: %+v %v", rec, err)
	}
	if err := l.Ready(); err != nil {
		t.Fatalf("2 GiB free, line 1 GiB: %v", err)
	}
	if err := l.Append(msg(6, "")); err != nil {
		t.Fatalf("append once space came back: %v", err)
	}

	// Held at Close: the outcome fails, the message stays pending.
	got, err = l.Next(ctx)
	if err != nil || got.ID != m3.ID {
		t.Fatalf("next: %v %v", got, err)
	}
	disk.free.Store(floor)
	l.checkDisk()
	if err := l.Complete(got, &Record{Status: StatusSucceeded}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the outcome to be held", func() bool { return l.Stats().DiskHeld == 1 })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrDiskFull) {
		t.Fatalf("outcome held at Close: done(%v), want ErrDiskFull", err)
	}

	disk.free.Store(1 << 20) // under the floor: Badger's replay could not flush
	if l, err := Open(Options{Dir: dir, MinFreeBytes: 1 << 30, freeBytes: disk.bytes}); !errors.Is(err, ErrDiskFull) {
		if err == nil {
			l.Close()
		}
		t.Fatalf("open with 1 MiB free: %v, want ErrDiskFull", err)
	}
	disk.free.Store(100 << 30)
	l = openTest(t, dir, opts)
	defer l.Close()
	if rec, err := l.Lookup(m3.ID); err != nil || rec.Status != StatusAccepted {
		t.Fatalf("message whose outcome was held at Close: %+v %v, want it pending", rec, err)
	}
}

// The sizing keeps Badger's defaults on big disks and scales its mapped
// files down on small ones, never below what a WAL in the directory was
// written with.
func TestBadgerSizing(t *testing.T) {
	for _, c := range []struct{ total, mem int64 }{
		{0, 64 << 20}, {1 << 40, 64 << 20}, {8 << 30, 64 << 20},
		{4 << 30, 32 << 20}, {1 << 30, 8 << 20}, {64 << 20, 1 << 20}, {8 << 20, 1 << 20},
	} {
		s := sizeBadger(c.total, t.TempDir())
		if s.memTable != c.mem || s.valueLogFile != 4*c.mem || s.threshold > s.memTable*15/100 || s.threshold > 1<<20 {
			t.Errorf("%d bytes: %+v, want a %d-byte memtable", c.total, s, c.mem)
		}
	}
	dir := t.TempDir()
	l := openTest(t, dir, Options{Memory: 1 << 30}) // a budget that gives 64 MiB memtables
	defer l.Close()
	if err := l.Append(msg(1, "")); err != nil {
		t.Fatal(err)
	}
	// While it is open (as after a crash) its 64 MiB memtable's WAL is there.
	if s := sizeBadger(64<<20, dir); s.memTable != 64<<20 {
		t.Errorf("a 64 MiB memtable's WAL in the directory: sized %d", s.memTable)
	}
}

// waitFor polls cond until it holds, or fails the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkAdmit is the accounting's cost per batch of 64 appends, when the
// estimate says yes (the common case: no measurement).
func BenchmarkAdmit(b *testing.B) {
	disk := &stubDisk{}
	disk.free.Store(1 << 50)
	l, err := Open(Options{Dir: b.TempDir(), MinFreeBytes: AutoMinFree, freeBytes: disk.bytes, diskInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	batch := make([]*op, 64)
	for i := range batch {
		batch[i] = &op{msg: msg(i, fmt.Sprint(i))}
	}
	b.ResetTimer()
	for range b.N {
		l.space.mu.Lock()
		l.admitLocked(batch)
		l.space.free = 1 << 50
		l.space.mu.Unlock()
	}
}

// BenchmarkMeasure is the cost of one measurement (statfs, the directory's
// WALs and value-log files, Badger's level sizes), which the committer pays
// per batch only while the estimate says a batch would cross a line. The
// log holds 20,000 messages in 1 MiB memtables (a 64 MiB file system).
func BenchmarkMeasure(b *testing.B) {
	l, err := Open(Options{Dir: b.TempDir(), MinFreeBytes: AutoMinFree, diskInterval: time.Hour,
		Logger:    slog.New(slog.DiscardHandler),
		freeBytes: func(string) (int64, int64, error) { return 1 << 40, 64 << 20, nil }})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1250 {
				m := msg(w<<16|i, "")
				m.Body = make([]byte, 1024)
				if err := l.Append(m); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ResetTimer()
	for range b.N {
		l.space.mu.Lock()
		l.measureLocked()
		l.space.mu.Unlock()
	}
	b.StopTimer()
	tables := 0
	for _, lv := range l.db.Levels() {
		tables += lv.NumTables
	}
	b.ReportMetric(float64(tables), "tables")
}

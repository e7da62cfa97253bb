//go:build linux

package queue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// BenchmarkLogLayouts is the measurement behind issue 15 (change how the log
// uses Badger): the same workload through four layouts of the log, in one
// process, in interleaved rounds, on real Badger in a temporary directory
// with the options Open gives it (same disk, same sizing).
//
// Workload: 64 concurrent appenders (closed loop, distinct ids, one route, no
// key) each waiting until its message is durable (DurabilityFsync: one fsync
// per group-commit batch), and 4 workers that take every appended message and
// complete it with a small outcome (a 128-byte payload, kept: retention 0, as
// by default). A run ends when every message is final.
//
// Layouts:
//   - a: today's layout, the real *Log (Open, Append, Next, Complete): per
//     message m<id> (the whole message) at append, r<id> (the record) and a
//     delete of m<id> at completion; one Badger WriteBatch + db.Sync per batch.
//   - b: one Badger entry per group-commit batch, s<segment> holding all its
//     messages framed; r<id> per message at completion; s<segment> deleted
//     in the batch that writes its last outcome. WriteBatch + db.Sync.
//   - c: b, and bodies above 16 KiB go to append-only files Sluice writes
//     (one write + fdatasync per batch, before the Badger commit), referenced
//     from the framed message; a file is deleted once every message in it is
//     final (after a db.Sync covering their outcomes).
//   - d: every message goes to Sluice's files (they are the write-ahead log:
//     one write + fdatasync per batch, CRC per batch frame); Badger holds only
//     the outcomes and is never synced on the append path (SyncWrites off, no
//     db.Sync) — only before a file whose messages are all final is deleted.
//     Recovery would scan the live files and skip ids with a record.
//
// b, c and d are benchmark-only committers (no recovery, idempotency, retry or
// dead letters: the workload needs none); they hand messages to the workers
// through a plain queue where a uses the real scheduler. Per run it reports
// messages/s (append to final), appends/s (until the last append returned),
// CPU µs per message (getrusage, the whole process: Badger's compactions
// included), bytes written ÷ body bytes (/proc/self/io write_bytes, which
// counts mmap'd pages as they are dirtied), peak RssAnon and RssFile
// (sampled every 20 ms), the data directory's allocated size once every
// message is final and again after a value-log GC, and the load average.
//
//	go test -run '^$' -bench '^BenchmarkLogLayouts$' -benchtime 1x -timeout 60m ./queue \
//	    -layouts.rounds 3 -layouts.sizes 1KiB,64KiB,2MiB
//
// Each size is a sub-benchmark; the log shows one line per run and a table of
// medians; the metrics are the medians of msgs/s and of each layout's ratio
// to a in the same round.
func BenchmarkLogLayouts(b *testing.B) {
	type workload struct {
		name string
		size int
		msgs int
	}
	all := []workload{
		{"1KiB", 1 << 10, 100000},
		{"64KiB", 64 << 10, 4000},
		{"2MiB", 2 << 20, 250},
	}
	layouts := strings.Split(*layoutsOnly, ",")
	for _, w := range all {
		if !slices.Contains(strings.Split(*layoutsSizes, ","), w.name) {
			continue
		}
		b.Run(w.name, func(b *testing.B) {
			n := max(int(float64(w.msgs)**layoutsScale), 1)
			runs := map[string][]layoutRun{}
			for round := range *layoutsRounds {
				for i := range layouts {
					// Rotate the order each round: no layout always runs
					// first (cold page cache) or last.
					name := layouts[(i+round)%len(layouts)]
					r := runLayout(b, name, w.size, n)
					runs[name] = append(runs[name], r)
					fmt.Printf("%s round %d %-2s %s\n", w.name, round+1, name, r)
				}
			}
			fmt.Printf("%s: medians of %d rounds, %d messages\n", w.name, *layoutsRounds, n)
			fmt.Printf("%-2s %9s %7s %9s %7s %8s %8s %9s %9s %8s %8s %8s %8s %6s\n",
				"", "msgs/s", "x a", "appends/s", "cpuµs", "wr/body", "anonMiB", "fileMiB", "finalMiB", "gcMiB", "app/sync", "µs/sync", "last/1st", "load")
			for _, name := range layouts {
				rs := runs[name]
				med := func(f func(r layoutRun) float64) float64 {
					v := make([]float64, len(rs))
					for i, r := range rs {
						v[i] = f(r)
					}
					slices.Sort(v)
					return v[len(v)/2]
				}
				ratios := make([]float64, len(rs))
				for i, r := range rs {
					ratios[i] = r.rate / runs[layouts[0]][i].rate
				}
				slices.Sort(ratios)
				ratio := ratios[len(ratios)/2]
				fmt.Printf("%-2s %9.0f %7.2f %9.0f %7.1f %8.2f %8.0f %8.0f %9.0f %8.0f %8.1f %8.0f %8.2f %6.2f\n", name,
					med(func(r layoutRun) float64 { return r.rate }), ratio,
					med(func(r layoutRun) float64 { return r.appendRate }),
					med(func(r layoutRun) float64 { return r.cpuMicros }),
					med(func(r layoutRun) float64 { return r.writeAmp }),
					med(func(r layoutRun) float64 { return float64(r.peakAnon) / (1 << 20) }),
					med(func(r layoutRun) float64 { return float64(r.peakFile) / (1 << 20) }),
					med(func(r layoutRun) float64 { return float64(r.dirFinal) / (1 << 20) }),
					med(func(r layoutRun) float64 { return float64(r.dirGC) / (1 << 20) }),
					med(func(r layoutRun) float64 { return r.perSync }),
					med(func(r layoutRun) float64 { return r.syncMicros }),
					med(func(r layoutRun) float64 { return r.lastFirst }),
					med(func(r layoutRun) float64 { return r.load }))
				b.ReportMetric(med(func(r layoutRun) float64 { return r.rate }), name+"-msgs/s")
				if name != layouts[0] {
					b.ReportMetric(ratio, name+"/"+layouts[0])
				}
			}
		})
	}
}

var (
	layoutsRounds = flag.Int("layouts.rounds", 3, "BenchmarkLogLayouts: interleaved rounds")
	layoutsScale  = flag.Float64("layouts.scale", 1, "BenchmarkLogLayouts: multiply the message counts")
	layoutsSizes  = flag.String("layouts.sizes", "1KiB,64KiB,2MiB", "BenchmarkLogLayouts: body sizes to run")
	layoutsOnly   = flag.String("layouts.only", "a,b,c,d", "BenchmarkLogLayouts: layouts to run, the first is the reference")
)

const (
	layoutAppenders = 64
	layoutWorkers   = 4
	layoutOutcome   = 128      // bytes of a completion's payload
	bigBody         = 16 << 10 // c: bodies above this go to files
	segFileSize     = 64 << 20 // c, d: a file is closed once this big
	segFileIdle     = 4 << 20  // ... or once this big and all its messages final
)

// layoutRun is what one run of one layout measured.
type layoutRun struct {
	rate, appendRate    float64 // messages/s to final; appends/s
	cpuMicros           float64 // process CPU per message
	writeAmp            float64 // write_bytes ÷ body bytes
	peakAnon, peakFile  int64   // bytes
	dirFinal, dirGC     int64   // allocated bytes of the data directory
	load                float64 // 1-minute load average at the end
	perSync, syncMicros float64 // appends per durable batch; µs making one durable (fdatasync and db.Sync)
	lastFirst           float64 // append rate in the last tenth of the appends ÷ in the first tenth
}

func (r layoutRun) String() string {
	return fmt.Sprintf("%8.0f msgs/s %8.0f appends/s %7.1f cpuµs/msg %6.2f wr/body anon %5d MiB file %5d MiB dir %6d MiB final %6d MiB after gc %5.1f appends/sync %6.0f µs/sync %5.2f last/first load %.2f",
		r.rate, r.appendRate, r.cpuMicros, r.writeAmp, r.peakAnon>>20, r.peakFile>>20, r.dirFinal>>20, r.dirGC>>20, r.perSync, r.syncMicros, r.lastFirst, r.load)
}

// layoutLog is what the workload drives.
type layoutLog interface {
	append(m *Message) error
	next(ctx context.Context) (*Message, any, error)
	complete(m *Message, h any, rec *Record, done func())
	gc()
	close() error
	// syncs is the batches holding appends made durable and the time spent
	// doing it (fdatasync, db.Sync).
	syncs() (n, nanos uint64)
}

func runLayout(b *testing.B, name string, size, n int) layoutRun {
	dir, err := os.MkdirTemp(b.TempDir(), name)
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var l layoutLog
	switch name {
	case "a":
		lg, err := Open(Options{Dir: dir, GCInterval: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		l = realLayout{lg}
	case "b", "c", "d":
		if l, err = openSegLog(dir, name); err != nil {
			b.Fatal(err)
		}
	default:
		b.Fatalf("unknown layout %q", name)
	}
	runtime.GC()
	debug.FreeOSMemory()

	body := bytes.Repeat([]byte("x"), size)
	outcome := bytes.Repeat([]byte("o"), layoutOutcome)
	var r layoutRun
	sampleDone, sampled := make(chan struct{}), make(chan struct{})
	go func() { // peak memory, every 20 ms
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			anon, file := procRSS()
			r.peakAnon, r.peakFile = max(r.peakAnon, anon), max(r.peakFile, file)
			select {
			case <-sampleDone:
				return
			case <-t.C:
			}
		}
	}()
	ru0, io0 := rusageNanos(), procWriteBytes()
	t0 := time.Now()

	ctx, cancel := context.WithCancel(context.Background())
	var completed atomic.Int64
	allFinal := make(chan struct{})
	finished := func() {
		if completed.Add(1) == int64(n) {
			close(allFinal)
		}
	}
	var workers sync.WaitGroup
	for range layoutWorkers {
		workers.Go(func() {
			for {
				m, h, err := l.next(ctx)
				if err != nil {
					return
				}
				rec := &Record{Status: StatusSucceeded, Attempts: 1, Payload: outcome}
				l.complete(m, h, rec, finished)
			}
		})
	}
	var next, done atomic.Int64
	var t10, t90 atomic.Int64 // when a tenth and nine tenths of the appends had returned
	var failed atomic.Pointer[error]
	var appenders sync.WaitGroup
	for range layoutAppenders {
		appenders.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				m := &Message{Route: "r", Received: time.Now(), ContentType: "application/json", Body: body}
				binary.BigEndian.PutUint64(m.ID[:8], uint64(time.Now().UnixNano()))
				binary.BigEndian.PutUint64(m.ID[8:], uint64(i))
				if err := l.append(m); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				switch done.Add(1) {
				case int64(n / 10):
					t10.Store(int64(time.Since(t0)))
				case int64(n - n/10):
					t90.Store(int64(time.Since(t0)))
				}
			}
		})
	}
	appenders.Wait()
	appended := time.Since(t0)
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	select {
	case <-allFinal:
	case <-time.After(10 * time.Minute):
		b.Fatalf("%s: %d of %d messages final after 10 minutes", name, completed.Load(), n)
	}
	elapsed := time.Since(t0)
	ru1, io1 := rusageNanos(), procWriteBytes()
	close(sampleDone)
	<-sampled
	cancel()
	workers.Wait()

	r.rate = float64(n) / elapsed.Seconds()
	r.appendRate = float64(n) / appended.Seconds()
	if first, last := t10.Load(), int64(appended)-t90.Load(); n >= 10 && first > 0 && last > 0 {
		r.lastFirst = float64(first) / float64(last) // the same number of appends in each tenth
	}
	r.cpuMicros = float64(ru1-ru0) / 1e3 / float64(n)
	r.writeAmp = float64(io1-io0) / float64(n*size)
	r.dirFinal = dirBytes(dir)
	l.gc()
	r.dirGC = dirBytes(dir)
	r.load = loadAvg()
	syncs, nanos := l.syncs()
	r.perSync = float64(n) / float64(max(syncs, 1))
	r.syncMicros = float64(nanos) / 1e3 / float64(max(syncs, 1))
	if err := l.close(); err != nil {
		b.Fatal(err)
	}
	return r
}

// realLayout is layout a: the real log.
type realLayout struct{ l *Log }

func (r realLayout) append(m *Message) error { return r.l.Append(m) }

func (r realLayout) next(ctx context.Context) (*Message, any, error) {
	m, err := r.l.Next(ctx)
	return m, nil, err
}

func (r realLayout) complete(m *Message, _ any, rec *Record, done func()) {
	if err := r.l.Complete(m, rec, func(error) { done() }); err != nil {
		panic(err)
	}
}

func (r realLayout) gc() { r.l.collectValueLog() }

func (r realLayout) syncs() (uint64, uint64) {
	st := r.l.Stats()
	return st.Syncs, st.SyncNanos
}
func (r realLayout) close() error { return r.l.Close() }

// segLog is layouts b, c and d: a benchmark-only committer.
type segLog struct {
	db   *badger.DB
	dir  string
	mode string // "b", "c" or "d"

	ops      chan *segOp
	exited   chan struct{}
	maxBytes int64 // what the Badger part of a batch may hold (one transaction)

	mu     sync.Mutex // guards ready, closed
	cond   *sync.Cond
	ready  []*segPending
	closed bool

	// Owned by the committer.
	nextSeg  uint64
	cur      *segFile
	nextFile uint64
	doomed   []*segFile // every message final: removed after the next db.Sync

	nSyncs, syncNanos atomic.Uint64
}

// segOp is an append (rec nil) or a completion.
type segOp struct {
	m    *Message
	p    *segPending
	rec  *Record
	done chan error // appends
	fin  func()     // completions
}

// segPending is an appended message and where it is stored.
type segPending struct {
	m    *Message
	seg  *segEntry
	file *segFile
}

type segEntry struct {
	key     []byte
	pending int
}

type segFile struct {
	f       *os.File
	path    string
	size    int64
	pending int
}

func openSegLog(dir, mode string) (*segLog, error) {
	sz := sizeBadger(0, dir)
	bo := sz.options(badger.DefaultOptions(dir).
		WithSyncWrites(false).
		WithLogger(nil).
		WithDetectConflicts(false).
		WithBlockCacheSize(64 << 20).
		WithCompression(options.None))
	db, err := badger.Open(bo)
	if err != nil {
		return nil, err
	}
	l := &segLog{db: db, dir: dir, mode: mode, ops: make(chan *segOp, 4096), exited: make(chan struct{}),
		maxBytes: db.MaxBatchSize() / 2, nextSeg: 1}
	l.cond = sync.NewCond(&l.mu)
	go l.commitLoop()
	return l, nil
}

func (l *segLog) append(m *Message) error {
	o := &segOp{m: m, done: make(chan error, 1)}
	l.ops <- o
	return <-o.done
}

func (l *segLog) next(ctx context.Context) (*Message, any, error) {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		l.cond.Broadcast()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.ready) == 0 {
		if l.closed {
			return nil, nil, errClosed
		}
		l.cond.Wait()
	}
	p := l.ready[0]
	l.ready[0] = nil
	l.ready = l.ready[1:]
	return p.m, p, nil
}

func (l *segLog) complete(m *Message, h any, rec *Record, done func()) {
	rec.ID, rec.Route, rec.Created = m.ID, m.Route, m.Received
	l.ops <- &segOp{m: m, p: h.(*segPending), rec: rec, fin: done}
}

func (l *segLog) gc() {
	for l.db.RunValueLogGC(0.5) == nil {
	}
}

func (l *segLog) syncs() (uint64, uint64) { return l.nSyncs.Load(), l.syncNanos.Load() }

func (l *segLog) close() error {
	close(l.ops)
	<-l.exited
	if l.cur != nil {
		l.cur.f.Close()
	}
	return l.db.Close()
}

// batchBytes is what o adds to the Badger transaction and to the file.
func (l *segLog) batchBytes(o *segOp) (inBadger, inFile int64) {
	if o.rec != nil {
		return int64(len(o.rec.Payload)) + 128, 0
	}
	if l.mode == "d" || (l.mode == "c" && len(o.m.Body) > bigBody) {
		return 128, o.m.Size() // a reference (c) or nothing (d)
	}
	return o.m.Size() + 64, 0
}

// maxFileBatch caps the bytes one batch writes to a file (c, d), as
// maxBytes caps the Badger transaction: appenders keep alternating between
// the batch being synced and the next one.
const maxFileBatch = 16 << 20

func (l *segLog) commitLoop() {
	defer close(l.exited)
	var batch []*segOp
	var carry *segOp
	for {
		if carry != nil {
			batch, carry = append(batch[:0], carry), nil
		} else {
			o, ok := <-l.ops
			if !ok {
				return
			}
			batch = append(batch[:0], o)
		}
		size, fsize := l.batchBytes(batch[0])
	drain:
		for len(batch) < 4096 {
			select {
			case o, ok := <-l.ops:
				if !ok {
					break drain
				}
				n, fn := l.batchBytes(o)
				if size+n > l.maxBytes || fsize+fn > maxFileBatch {
					carry = o
					break drain
				}
				batch, size, fsize = append(batch, o), size+n, fsize+fn
			default:
				break drain
			}
		}
		l.commit(batch)
	}
}

func (l *segLog) commit(batch []*segOp) {
	err := l.commitErr(batch)
	if err != nil {
		panic(err) // a benchmark: no failure handling
	}
}

func (l *segLog) commitErr(batch []*segOp) error {
	var appended []*segPending
	var frame []byte
	var fb fileBatch
	var seg *segEntry
	for _, o := range batch {
		if o.rec != nil {
			continue
		}
		p := &segPending{m: o.m}
		appended = append(appended, p)
		toFile := l.mode == "d" || (l.mode == "c" && len(o.m.Body) > bigBody)
		if toFile {
			if l.cur == nil {
				if err := l.rollFile(); err != nil {
					return err
				}
			}
			p.file = l.cur
			l.cur.pending++
		}
		if l.mode == "d" {
			mm := *o.m
			mm.Body = nil
			enc := appendMessage(nil, &mm)
			fb.small(binary.AppendUvarint(nil, uint64(len(enc)+len(o.m.Body))))
			fb.small(enc)
			fb.body(o.m.Body)
			continue
		}
		if seg == nil {
			seg = &segEntry{key: binary.BigEndian.AppendUint64([]byte{'s'}, l.nextSeg)}
			l.nextSeg++
		}
		p.seg = seg
		seg.pending++
		mm := *o.m
		var ref []byte
		if toFile {
			ref = binary.AppendUvarint(ref, uint64(l.nextFile-1))
			ref = binary.AppendUvarint(ref, uint64(l.cur.size+8+fb.n))
			ref = binary.AppendUvarint(ref, uint64(len(mm.Body)))
			fb.body(mm.Body)
			mm.Body = nil
		}
		enc := appendMessage(nil, &mm)
		frame = binary.AppendUvarint(frame, uint64(len(enc)))
		frame = append(frame, enc...)
		frame = binary.AppendUvarint(frame, uint64(len(ref)))
		frame = append(frame, ref...)
	}
	// The files first: the Badger entries that reference them come after.
	t0 := time.Now()
	if fb.n > 0 {
		if err := fb.writeTo(l.cur); err != nil {
			return err
		}
	}
	durable := time.Since(t0)
	wb := l.db.NewWriteBatch()
	if seg != nil {
		if err := wb.Set(seg.key, frame); err != nil {
			return err
		}
	}
	var arena []byte
	now := time.Now().UTC()
	for _, o := range batch {
		if o.rec == nil {
			continue
		}
		o.rec.Updated = now
		start := len(arena)
		arena = appendRecord(arena, o.rec)
		if err := wb.Set(recordKey(o.m.ID), arena[start:len(arena):len(arena)]); err != nil {
			return err
		}
		if s := o.p.seg; s != nil {
			if s.pending--; s.pending == 0 {
				if err := wb.Delete(s.key); err != nil {
					return err
				}
			}
		}
		if f := o.p.file; f != nil {
			if f.pending--; f.pending == 0 && f != l.cur {
				l.doomed = append(l.doomed, f)
			}
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	synced := false
	if len(appended) > 0 && l.mode != "d" {
		t0 := time.Now()
		if err := l.db.Sync(); err != nil {
			return err
		}
		synced = true
		durable += time.Since(t0)
	}
	if len(appended) > 0 {
		l.nSyncs.Add(1)
		l.syncNanos.Add(uint64(durable))
	}
	if c := l.cur; c != nil && (c.size >= segFileSize || (c.pending == 0 && c.size >= segFileIdle)) {
		if c.pending == 0 {
			l.doomed = append(l.doomed, c)
		}
		l.cur = nil // the next append opens a new file
	}
	if len(l.doomed) > 0 {
		// Their messages' outcomes must be durable before the bodies go.
		if !synced {
			if err := l.db.Sync(); err != nil {
				return err
			}
		}
		for _, f := range l.doomed {
			f.f.Close()
			if err := os.Remove(f.path); err != nil {
				return err
			}
		}
		clear(l.doomed)
		l.doomed = l.doomed[:0]
	}
	if len(appended) > 0 {
		l.mu.Lock()
		l.ready = append(l.ready, appended...)
		l.mu.Unlock()
		l.cond.Broadcast()
	}
	for _, o := range batch {
		if o.rec == nil {
			o.done <- nil
		} else {
			o.fin()
		}
	}
	return nil
}

// fileBatch is what one batch appends to a file: a frame of [length:4]
// [crc32:4] and the pieces. Small pieces are copied together; bodies of 32
// KiB or more are written from the message, without a copy.
type fileBatch struct {
	pieces [][]byte
	stage  []byte
	n      int64
	crc    uint32
}

func (fb *fileBatch) small(p []byte) {
	fb.stage = append(fb.stage, p...)
	fb.n += int64(len(p))
	fb.crc = crc32.Update(fb.crc, crc32.IEEETable, p)
}

func (fb *fileBatch) body(p []byte) {
	if len(p) < 32<<10 {
		fb.small(p)
		return
	}
	if len(fb.stage) > 0 {
		fb.pieces = append(fb.pieces, fb.stage)
		fb.stage = nil
	}
	fb.pieces = append(fb.pieces, p)
	fb.n += int64(len(p))
	fb.crc = crc32.Update(fb.crc, crc32.IEEETable, p)
}

// writeTo appends the frame to f and fdatasyncs it.
func (fb *fileBatch) writeTo(f *segFile) error {
	if len(fb.stage) > 0 {
		fb.pieces = append(fb.pieces, fb.stage)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(fb.n))
	binary.BigEndian.PutUint32(hdr[4:], fb.crc)
	if _, err := f.f.Write(hdr[:]); err != nil {
		return err
	}
	for _, p := range fb.pieces {
		if _, err := f.f.Write(p); err != nil {
			return err
		}
	}
	if err := syscall.Fdatasync(int(f.f.Fd())); err != nil {
		return err
	}
	f.size += 8 + fb.n
	return nil
}

func (l *segLog) rollFile() error {
	path := filepath.Join(l.dir, fmt.Sprintf("%08d.seg", l.nextFile))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	l.nextFile++
	l.cur = &segFile{f: f, path: path}
	return nil
}

// rusageNanos is the process's user + system CPU time.
func rusageNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// procWriteBytes is write_bytes of /proc/self/io: bytes this process caused
// to be sent to storage (write(2) and pages it dirtied through mappings).
func procWriteBytes() int64 {
	return procField("/proc/self/io", "write_bytes:", 1)
}

// procRSS is RssAnon and RssFile of /proc/self/status, in bytes.
func procRSS() (anon, file int64) {
	return procField("/proc/self/status", "RssAnon:", 1024), procField("/proc/self/status", "RssFile:", 1024)
}

func procField(path, name string, unit int64) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), name); ok {
			v, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return v * unit
		}
	}
	return 0
}

// dirBytes is the space allocated to the files under dir.
func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return v
}

// BenchmarkSyncWriteAmp isolates why layouts a-c write several times the
// bytes they store: b.N 1 KiB entries committed 32 per batch, each batch made
// durable, with nothing else running. badger: one WriteBatch + db.Sync per
// batch (Badger's WAL is a mapped file; Sync is an msync of it), the log's
// commit without the committer; file: the same bytes appended with write(2)
// + fdatasync. wr/body is /proc/self/io write_bytes over the bytes
// committed. Run it with a fixed count (60,000 entries ≈ one memtable):
//
//	go test -run '^$' -bench '^BenchmarkSyncWriteAmp$' -benchtime 60000x -count 3 ./queue
func BenchmarkSyncWriteAmp(b *testing.B) {
	const batch, size = 32, 1024
	body := bytes.Repeat([]byte("x"), size)
	report := func(b *testing.B, w0 int64, syncNanos time.Duration) {
		batches := (b.N + batch - 1) / batch
		b.ReportMetric(float64(procWriteBytes()-w0)/float64(b.N*size), "wr/body")
		b.ReportMetric(float64(syncNanos.Microseconds())/float64(batches), "µs/sync")
	}
	b.Run("badger", func(b *testing.B) {
		l, err := Open(Options{Dir: b.TempDir(), GCInterval: time.Hour}) // the log's Badger options
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		var key [16]byte
		var syncs time.Duration
		w0 := procWriteBytes()
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			wb := l.db.NewWriteBatch()
			for j := i; j < min(i+batch, b.N); j++ {
				binary.BigEndian.PutUint64(key[8:], uint64(j))
				if err := wb.Set(messageKey(ID(key)), body); err != nil {
					b.Fatal(err)
				}
			}
			if err := wb.Flush(); err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			if err := l.db.Sync(); err != nil {
				b.Fatal(err)
			}
			syncs += time.Since(t0)
		}
		b.StopTimer()
		report(b, w0, syncs)
	})
	b.Run("mmap", func(b *testing.B) {
		// What Badger's Sync does to its WAL, without Badger: a 128 MiB file
		// mapped shared, the batch copied in, msync(MS_SYNC) of the mapping.
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "wal"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		const mapped = 128 << 20
		if err := f.Truncate(mapped); err != nil {
			b.Fatal(err)
		}
		data, err := syscall.Mmap(int(f.Fd()), 0, mapped, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
		if err != nil {
			b.Fatal(err)
		}
		defer syscall.Munmap(data)
		rec := append(make([]byte, 17), body...)
		var syncs time.Duration
		off := 0
		w0 := procWriteBytes()
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			for range min(i+batch, b.N) - i {
				if off+len(rec) > mapped {
					off = 0
				}
				off += copy(data[off:], rec)
			}
			t0 := time.Now()
			if _, _, e := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(&data[0])), mapped, syscall.MS_SYNC); e != 0 {
				b.Fatal(e)
			}
			syncs += time.Since(t0)
		}
		b.StopTimer()
		report(b, w0, syncs)
	})
	b.Run("file", func(b *testing.B) {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "wal"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		buf := bytes.Repeat(append(make([]byte, 17), body...), batch) // key + value, as Badger gets them
		var syncs time.Duration
		w0 := procWriteBytes()
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			if _, err := f.Write(buf[:(min(i+batch, b.N)-i)*(17+size)]); err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			if err := syscall.Fdatasync(int(f.Fd())); err != nil {
				b.Fatal(err)
			}
			syncs += time.Since(t0)
		}
		b.StopTimer()
		report(b, w0, syncs)
	})
}

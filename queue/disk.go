package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// A full disk must be an error, never a crash. Badger writes its memtable
// WALs (*.mem), its value log (*.vlog) and every new table (*.sst: a
// memtable flush, a compaction) through mmap'd sparse files: when the file
// system has no block left for a page written through a mapping, the kernel
// raises SIGBUS and the process dies, at ingest, in Close (which flushes the
// memtable) and in Open (which replays the WALs and flushes them). Badger
// has no error path for it. The log therefore keeps a budget of the free
// space (statfs), with two lines:
//
//   - the floor (badgerSizing.floor): what Badger may still write on its
//     own, never handed to the committer;
//   - the line: max(MinFreeBytes, floor + drain headroom). Appends are
//     refused below it (drain mode); completions, retries and dead letters
//     still go through down to the floor, because draining the backlog is
//     what frees space (reclaim). Below the floor they wait, in order and
//     with their keys held, and no new message starts, until space is back.
//
// The committer charges every batch to the budget before writing it, so no
// writer can outrun a once-a-second check; when the estimate says a batch
// would cross a line, the budget is measured again (statfs and the sizes of
// Badger's files), so the estimate errs only on the safe side. The floor
// holds for Badger's own work because a flush or a compaction, once done,
// leaves at least as much free as it found (it writes at most what it
// deletes); while it runs it uses the share the floor kept for it.
//
// Badger's files are never preallocated: the tables, which a flush and every
// compaction write through fresh sparse mappings, cannot be (Badger creates
// and fills them in one call), so the headroom is needed for them anyway;
// the WAL and the value log only ever fill what the committer wrote, which
// its charge covers. On small file systems Badger's mapped files are scaled
// down (sizeBadger): a 64 MiB tmpfs could not hold one 128 MiB WAL.

// AutoMinFree, as Options.MinFreeBytes, keeps 1 GiB or 5% of the file
// system free, whichever is smaller, and never less than the log's floor
// plus its drain headroom (Stats.DiskMinFree).
const AutoMinFree = -1

// minFree is what AutoMinFree means on a file system of total bytes.
func minFree(total int64) int64 { return min(1<<30, total/20) }

// diskInterval is how often the log measures its file system's free space
// when nothing else asks (checkDisk): to notice space that came back, or
// that something else took.
const diskInterval = time.Second

// chargeFactor is what the committer charges per byte that a batch writes
// to Badger until the next measurement (appends' bytes go to a segment
// file, written once, and are charged once): the byte in the WAL (or the value log), and the floor
// growing twice with it: the table its flush will write, and the tree a
// compaction may rewrite. A measurement replaces the estimate with what the
// file system and the files say.
const chargeFactor = 3

// batchSlack is charged once per batch: pages the batch starts in the WAL
// and the value log, and Badger's transaction markers.
const batchSlack = 16 << 10

// badgerSizing is how big Badger's mapped files are on a file system of a
// given size. On big file systems it is Badger's own sizes (64 MiB
// memtables, their WALs mapped at 128 MiB; 256 MiB value-log files, mapped
// at 512 MiB). On a file system smaller than 128 memtables the memtable
// halves until it fits (down to 1 MiB) and the value-log file follows it:
// a 64 MiB tmpfs gets 1 MiB memtables and 4 MiB value-log files.
type badgerSizing struct {
	memTable     int64 // Badger's MemTableSize; its WAL is mapped at twice that
	valueLogFile int64 // ValueLogFileSize; mapped at twice that
	threshold    int64 // ValueThreshold: larger values go to the value log
}

const (
	defaultMemTable = 64 << 20
	minMemTable     = 1 << 20
)

// sizeBadger picks the sizing for a file system of total bytes (0: unknown,
// Badger's defaults). A memtable is never smaller than the one that wrote a
// WAL still in dir: its replay must fit the new memtable's arena.
func sizeBadger(total int64, dir string) badgerSizing {
	return sizeBadgerUpTo(total, dir, defaultMemTable)
}

// sizeBadgerUpTo is sizeBadger with memtables of at most limit (the memory
// budget's, SplitMemory), except to replay a WAL still in dir.
func sizeBadgerUpTo(total int64, dir string, limit int64) badgerSizing {
	m := limit
	for total > 0 && m > minMemTable && m*128 > total {
		m /= 2
	}
	m = max(m, walMemTable(dir))
	// Badger refuses a value threshold above a transaction's limit (15% of
	// the memtable); half of it leaves room for the key and the message's
	// other entries.
	return badgerSizing{memTable: m, valueLogFile: 4 * m, threshold: min(valueThreshold, m*15/100/2)}
}

// valueThreshold: larger values (results that carry a body, messages
// copied out of their segment) go to Badger's value log, written once;
// the LSM tree holds a pointer. Badger's default, 1 MB, kept them in the
// memtables, their WALs and every table a compaction rewrites: with 1 KiB
// results 1.45× the CPU per message, 1.5× the bytes written and 4× the
// anonymous memory (RATIONALE.md, "Log layout"). A result whose body is
// kept by reference into a segment (retained.go) is ~150–200 bytes (ids,
// times, trace context): at 256 it stayed in the memtables, which then
// filled 3× faster and queued for flushes under load (RssAnon 503 MiB
// against 141 at 64, RATIONALE.md "Results that point into segments").
const valueThreshold = 64

// walMemTable is the memtable size that wrote the largest WAL in dir: a new
// WAL is created at twice the memtable size, and Open truncates a replayed
// one to its data (at most about the memtable size).
func walMemTable(dir string) int64 {
	var m int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".mem") {
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.Size() == 0 {
			continue
		}
		n := fi.Size()
		if n&(n-1) == 0 {
			m = max(m, n/2)
		} else {
			m = max(m, int64(1)<<bits.Len64(uint64(n)))
		}
	}
	return m
}

// options applies s to Badger's options.
func (s badgerSizing) options(bo badger.Options) badger.Options {
	return bo.WithMemTableSize(s.memTable).WithValueLogFileSize(s.valueLogFile).WithValueThreshold(s.threshold)
}

// slack covers what the floor does not count: the tables' index and bloom
// filters, new WAL and value-log headers, the manifest, the discard
// statistics (a 1 MiB mapped file) and the key registry.
func (s badgerSizing) slack() int64 { return 2<<20 + s.memTable/8 }

// drain is the headroom between the floor and the append line, for the
// backlog's outcomes.
func (s badgerSizing) drain() int64 { return 2 * s.memTable }

// files is what Badger's files in the log's directory hold, in allocated
// bytes (a sparse file counts only what was written to it).
type files struct {
	wal  int64 // *.mem: write-ahead logs of memtables not yet flushed
	sst  int64 // *.sst: the tables
	vlog int64 // *.vlog, counted up to half a value-log file
}

// scanFiles sizes Badger's files in dir. It stops counting value-log files
// at what the floor can use of them, and counts tables only with sst (an
// open log has their sizes from Badger, without a stat per table).
func scanFiles(dir string, sz badgerSizing, sst bool) (files, error) {
	var f files
	d, err := os.Open(dir)
	if err != nil {
		return f, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return f, err
	}
	vlogCap := sz.valueLogFile / 2
	for _, e := range entries {
		name := e.Name()
		var sum *int64
		switch {
		case strings.HasSuffix(name, ".mem"):
			sum = &f.wal
		case sst && strings.HasSuffix(name, ".sst"):
			sum = &f.sst
		case strings.HasSuffix(name, ".vlog") && f.vlog < vlogCap:
			sum = &f.vlog
		default:
			continue
		}
		n, err := allocated(dir + string(os.PathSeparator) + name)
		if errors.Is(err, fs.ErrNotExist) { // flushed, compacted or collected meanwhile
			continue
		}
		if err != nil {
			return f, err
		}
		*sum += n
	}
	return f, nil
}

// floor is the space Badger may still need on its own with f in its
// directory; nothing is written below it:
//
//   - a table for every WAL byte: the flushes that are due, Close's, and the
//     replay's at the next Open;
//   - what compactions may write before they delete their inputs: at most
//     what they read, and together they read at most every table, including
//     the ones the WALs will become. Nothing smaller held: a compaction takes
//     one table of a level and every table of the next level its keys
//     overlap, and when the levels reshape one table can overlap most of the
//     tree below it. Fills and drains of a 64 MiB tmpfs with random ids
//     crashed in a compaction with this term capped at a few memtables, and
//     with a bound computed from the tables' key ranges (after a reopen, a
//     compaction wrote 10 MiB more tables with 12 MiB free: the bound had
//     grown to 28 MiB as the levels reshaped, with nothing written);
//   - half a value-log file, which a value-log GC rewrites before it
//     deletes the file;
//   - slack for table indexes, file headers, the manifest and the discard
//     statistics.
func (s badgerSizing) floor(f files) int64 {
	return f.wal + (f.sst + f.wal) + min(s.valueLogFile/2, f.vlog) + s.slack()
}

// space is the log's free-space budget (see the top of this file).
type space struct {
	on      bool  // MinFreeBytes != 0 and the file system's space is readable
	minFree int64 // MinFreeBytes, AutoMinFree resolved
	sz      badgerSizing

	// mu is held by the committer from a batch's admission until it is
	// written, by a measurement, and around any other write to Badger (the
	// dead-letter API), so that an estimate and a measurement never
	// interleave with a write.
	mu     sync.Mutex
	free   int64 // statfs at the last measurement, minus what was charged since
	floor  int64 // floor at the last measurement
	line   int64 // where appends stop: max(minFree, floor+drain)
	held   []*op // completions, retries, dead letters waiting for space, in order
	heldB  int64 // their bytes
	low    bool  // appends refused (mirrored in Log.diskLow for Ready)
	errLog bool  // the last measurement failed (logged once)

	reclaimed   time.Time     // the last reclaim
	reclaimedAt int64         // Log.stats.completedBytes then
	reclaiming  bool          // a reclaim is running
	backoff     time.Duration // the wait before a reclaim that nothing completed asks for
}

// openSpace sizes Badger for the file system holding opts.Dir and, with the
// guard on, checks before Badger opens that the file system has the floor
// free: Open replays the WALs and flushes them into tables, and compactions
// start at once. The log never writes below its floor, and Badger's own work
// does not leave less free than it found once done, so a disk that short
// was filled by something else: Open fails with an error that says how much
// is needed, instead of a crash in the replay.
func openSpace(opts Options) (*space, error) {
	free, total, err := opts.freeBytes(opts.Dir)
	if err != nil {
		total = 0
		if opts.MinFreeBytes != 0 {
			opts.Logger.Warn("cannot read the log's free disk space; not guarding it", "dir", opts.Dir, "err", err)
		}
	}
	sp := &space{sz: sizeBadgerUpTo(total, opts.Dir, opts.memTable), on: opts.MinFreeBytes != 0 && err == nil, minFree: opts.MinFreeBytes}
	if sp.minFree == AutoMinFree {
		sp.minFree = minFree(total)
	}
	if sp.sz.memTable < opts.memTable {
		opts.Logger.Info("small file system: Badger's files scaled down", "dir", opts.Dir, "size", byteCount(total),
			"memtable", byteCount(sp.sz.memTable), "value_log_file", byteCount(sp.sz.valueLogFile))
	}
	if !sp.on {
		return sp, nil
	}
	f, err := scanFiles(opts.Dir, sp.sz, true)
	if err != nil {
		return nil, fmt.Errorf("queue: sizing the log's files in %s: %w", opts.Dir, err)
	}
	if floor := sp.sz.floor(f); free < floor {
		return nil, &errNoSpace{what: "opening", dir: opts.Dir, need: floor, free: free}
	}
	return sp, nil
}

// charge is what a batch of n bytes costs the estimate.
func charge(n int64) int64 { return chargeFactor*n + batchSlack }

// measureLocked reads the file system's free space and Badger's files and
// resets the estimate. false: they could not be read (the estimate stays).
func (l *Log) measureLocked() bool {
	s := &l.space
	free, _, err := l.opts.freeBytes(l.opts.Dir)
	var f files
	if err == nil {
		f, err = scanFiles(l.opts.Dir, s.sz, false)
	}
	for _, lv := range l.db.Levels() {
		f.sst += lv.Size
	}
	l.stats.diskChecks.Add(1)
	if err != nil {
		if !s.errLog {
			s.errLog = true
			l.log.Warn("cannot measure the log's free disk space; using the last estimate", "dir", l.opts.Dir, "err", err)
		}
		return false
	}
	s.errLog = false
	s.free, s.floor = free, s.sz.floor(f)
	s.line = max(s.minFree, s.floor+s.sz.drain())
	l.stats.diskFree.Store(free)
	l.stats.diskFloor.Store(s.floor)
	l.stats.diskLine.Store(s.line)
	return true
}

// setLowLocked switches appends off (low) or on, and logs the change.
func (l *Log) setLowLocked(low bool) {
	s := &l.space
	if s.low == low {
		return
	}
	s.low = low
	l.diskLow.Store(low)
	if low {
		l.log.Error("disk almost full: refusing new messages until space is freed",
			"dir", l.opts.Dir, "free", byteCount(s.free), "min_free", byteCount(s.line), "floor", byteCount(s.floor))
	} else {
		l.log.Info("disk space recovered: accepting messages again", "dir", l.opts.Dir, "free", byteCount(s.free))
	}
}

// band is the hysteresis above the line before appends are accepted again.
func (s *space) band() int64 { return max(s.line/16, batchSlack) }

// checkDisk measures the free space (every diskInterval, and from tests):
// appends are refused under the line and accepted again once the free space
// is a band above it; held operations go back to the committer once they fit
// above the floor; under pressure it may reclaim space.
func (l *Log) checkDisk() { l.check(true) }

// check is checkDisk; Open checks without reclaiming (a reclaim rewrites the
// tree, and Open would wait for it).
func (l *Log) check(mayReclaim bool) {
	s := &l.space
	if !s.on {
		if free, _, err := l.opts.freeBytes(l.opts.Dir); err == nil {
			l.stats.diskFree.Store(free) // for Stats only
		}
		return
	}
	s.mu.Lock()
	if !l.measureLocked() {
		s.mu.Unlock()
		return
	}
	if s.free < s.line {
		l.setLowLocked(true)
	} else if s.free >= s.line+s.band() {
		l.setLowLocked(false)
	}
	reclaim := mayReclaim && l.shouldReclaimLocked()
	var resend []*op
	if len(s.held) > 0 && s.free-charge(s.heldB) >= s.floor {
		resend, s.held, s.heldB = s.held, nil, 0
		l.stats.diskHeld.Store(0)
		l.sched.hold(false)
		l.log.Info("disk space recovered: writing held outcomes", "count", len(resend), "free", byteCount(s.free))
	}
	s.mu.Unlock()
	for _, o := range resend {
		l.resend(o)
	}
	if reclaim {
		l.reclaim()
	}
}

// reclaimInterval is the least time between two reclaims; maxReclaimWait
// the most, while the disk stays short and reclaims free nothing.
const (
	reclaimInterval = 5 * time.Second
	maxReclaimWait  = 10 * time.Minute
)

// shouldReclaimLocked reports whether to reclaim now. Only while the free
// space is within a line of the line; then every reclaimInterval once
// enough was completed since the last one to be worth rewriting the tree,
// and else with a backoff that doubles while reclaims free nothing (the
// first one after Open runs at once: the last run may have left tombstones).
func (l *Log) shouldReclaimLocked() bool {
	s := &l.space
	done := l.stats.completedBytes.Load()
	wait := s.backoff
	if done-s.reclaimedAt >= s.reclaimWorth() {
		wait = reclaimInterval
	}
	if s.reclaiming || s.free >= 2*s.line || time.Since(s.reclaimed) < wait {
		return false
	}
	s.reclaiming, s.reclaimed, s.reclaimedAt = true, time.Now(), done
	return true
}

// reclaimWorth is what a reclaim should free to be worth rewriting the tree.
func (s *space) reclaimWorth() int64 { return max(2*s.sz.memTable, s.line/8) }

// flushKey is a marker written and dropped at once to make Badger flush its
// memtables (DropPrefix of a prefix nothing else uses).
var flushKey = []byte{prefixFlush}

// reclaim makes Badger give back the space of completed messages now. A
// completion deletes its message with a tombstone, and a value's space is
// freed only when a compaction merges it with its tombstone in the level
// that holds the value, usually the last one; with appends refused nothing
// else would write enough to get there, and the log would stay full with
// an empty backlog. So: flush the memtables into level 0 (DropPrefix, which
// also compacts level 0 into the base level), compact every level into the
// last (Flatten, one compaction at a time: each within the floor's share for
// a compaction), and collect the value log (whose files are freed from the
// discard statistics those compactions leave). Writes wait during the flush:
// Badger refuses them while it drops a prefix.
func (l *Log) reclaim() {
	s := &l.space
	defer func() {
		s.mu.Lock()
		s.reclaiming = false
		s.mu.Unlock()
	}()
	l.stats.reclaims.Add(1)
	t0 := time.Now()
	before := l.stats.diskFree.Load()
	s.mu.Lock()
	err := l.db.Update(func(txn *badger.Txn) error { return txn.Set(flushKey, nil) })
	if err == nil {
		err = l.db.DropPrefix(flushKey)
	}
	s.mu.Unlock()
	if err == nil {
		err = l.db.Flatten(1)
	}
	if err != nil {
		l.log.Warn("reclaiming disk space", "dir", l.opts.Dir, "err", err)
		return
	}
	l.collectValueLog()
	s.mu.Lock()
	l.measureLocked()
	after := s.free
	if after-before >= s.reclaimWorth() {
		s.backoff = reclaimInterval
	} else {
		s.backoff = min(2*s.backoff, maxReclaimWait)
	}
	s.mu.Unlock()
	l.log.Info("reclaimed disk space", "dir", l.opts.Dir, "free_before", byteCount(before), "free", byteCount(after),
		"took", time.Since(t0).Round(time.Millisecond))
}

// resend hands a held op back to the committer; if the log is closing it
// stays held and Close fails it.
func (l *Log) resend(o *op) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.space.mu.Lock()
		l.holdLocked(o)
		l.space.mu.Unlock()
		return
	}
	l.ops <- o
}

// holdLocked keeps o until there is space for it. Its message's key stays
// held, and no new message is handed out meanwhile: its outcome could not
// be written either.
func (l *Log) holdLocked(o *op) {
	s := &l.space
	if len(s.held) == 0 {
		l.log.Error("disk full: outcomes wait for space; no new message starts",
			"dir", l.opts.Dir, "free", byteCount(s.free), "floor", byteCount(s.floor))
		l.sched.hold(true)
	}
	s.held = append(s.held, o)
	s.heldB += o.diskBytes()
	l.stats.diskHeld.Store(int64(len(s.held)))
}

// admitLocked decides, before a batch is written, what of it the budget
// allows: appends down to the line (else they fail with ErrDiskFull and
// nothing of them is stored), the rest down to the floor (else it is held).
// It charges what it admits. The caller holds space.mu until the batch is
// written.
func (l *Log) admitLocked(batch []*op) []*op {
	s := &l.space
	var appends, rest int64
	for _, o := range batch {
		if o.kind == opAppend {
			appends += o.diskBytes()
		} else {
			rest += o.diskBytes()
		}
	}
	measured := false
	fits := func(cost, line int64) bool {
		if s.free-cost >= line {
			return true
		}
		if !measured { // the estimate says no: ask the file system
			measured = true
			if !l.measureLocked() {
				return false
			}
		}
		return s.free-cost >= line
	}
	refuse := appends > 0 && (s.low || !fits(appends+charge(rest), s.line))
	hold := rest > 0 && (len(s.held) > 0 || !fits(charge(rest), s.floor))
	if !refuse && !hold {
		s.free -= appends + charge(rest)
		return batch
	}
	kept := batch[:0]
	for _, o := range batch {
		switch {
		case o.kind == opAppend:
			if !refuse {
				kept = append(kept, o)
				continue
			}
			l.stats.diskRefused.Add(1)
			l.sched.unreserve(o.msg)
			o.done <- errDiskFull
		case hold:
			l.holdLocked(o)
		default:
			kept = append(kept, o)
		}
	}
	if refuse {
		l.setLowLocked(true)
		appends = 0
	}
	if hold {
		rest = 0
	}
	if len(kept) > 0 {
		s.free -= appends + charge(rest)
	}
	return kept
}

// chargeLocked admits n bytes written outside the committer (the dead-letter
// API), down to the line for a new message (line) or to the floor.
func (l *Log) chargeLocked(n int64, line bool) error {
	s := &l.space
	if !s.on {
		return nil
	}
	limit := s.floor
	if line {
		if s.low {
			return errDiskFull
		}
		limit = s.line
	}
	if s.free-charge(n) < limit && (!l.measureLocked() || s.free-charge(n) < limit) {
		return errDiskFull
	}
	s.free -= charge(n)
	return nil
}

// diskBytes estimates what o writes to the log's files: a message (in a
// segment, or in Badger), a record and a tombstone, keys and entry headers.
func (o *op) diskBytes() int64 {
	switch o.kind {
	case opAppend, opRetry: // the message
		return o.msg.Size() + 64
	case opDead: // the record, the message again, the index entry
		return o.msg.Size() + int64(len(o.rec.Payload)+len(o.rec.Route)) + 192
	default: // the record and the message's tombstone
		return int64(len(o.rec.Payload)+len(o.rec.Route)) + 128
	}
}

// failHeld ends a held op when the log closes without having written it:
// as a failed write (the message is still in the log and runs again after
// a restart).
func (l *Log) failHeld(o *op) {
	switch o.kind {
	case opRetry:
		l.sched.later(o.msg)
	default:
		l.sched.done(o.msg)
		l.forgetFinal(o.msg)
	}
	if o.onDone != nil {
		o.onDone(errDiskFull)
	}
	o.free()
}

// errNoSpace is the error of an Open or a Close that would need more space
// than the file system has.
type errNoSpace struct {
	what       string
	dir        string
	need, free int64
}

func (e *errNoSpace) Error() string {
	return fmt.Sprintf("queue: disk full: %s the log in %s needs %s free for Badger, the file system has %s; free some space",
		e.what, e.dir, byteCount(e.need), byteCount(e.free))
}

func (e *errNoSpace) Is(target error) bool { return target == errDiskFull }

func byteCount(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

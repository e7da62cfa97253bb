package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/wire"
)

// The messages themselves live in Sluice's own append-only files, the
// segments; Badger holds what changes (outcomes, retry state, dead letters,
// idempotency keys, the callback outbox). RATIONALE.md ("Log layout")
// has the measurements that chose this layout.
//
// A group commit appends one frame to the active segment with one write
// and, under DurabilityFsync, one fdatasync: that is the moment an append
// is acknowledged. A frame is
//
//	length uint32 (high bit set) | crc32c(segment number, payload) uint32 | payload
//
// and its payload is a count and that many length-prefixed messages
// (appendMessage); a frame without the high bit (written before files
// were recycled) has the checksum of its payload alone. A crash can leave
// a torn last frame, and a recycled file (below) the frames of its
// previous life behind the new ones; recovery cuts the file at the last
// frame whose checksum holds (a frame is acknowledged only after it is
// whole on disk, so nothing acknowledged is cut).
//
// A segment whose messages are all final is deleted, or, if this process
// wrote it, renamed to <n>.free to be written again from its start by a
// later segment: an fdatasync after overwriting blocks that exist commits
// no new size (RATIONALE.md, "Recycled segment files"). A new file is
// allocated to the segment's full size when it is created (fallocate), for
// the same reason; its unwritten tail reads as zeros, which end the log
// like a torn frame. Both are cut to their frames when the segment is
// sealed.
//
// Each segment counts its live messages (not final, still read from the
// segment). A message leaves its segment when its final record is written
// (Complete, Dead) or when it must be rewritten: a retry or a dead letter
// copies it into Badger (m<id>), as does evacuation of a segment that has
// lived too long (below). A sealed segment without live messages is
// deleted, after a Badger sync that makes the outcomes of all its messages
// durable: until then a power cut could lose an outcome, and the message,
// still in its file, would run again (at least once). kill -9 loses
// nothing: the page cache holds Badger's writes.
//
// Why segments are evacuated: a final record may expire (Options.Retention)
// while a message that came with it keeps its segment alive (a parked key,
// a slow backlog). Recovery would then find the expired message without a
// record and run it again. So a segment is sealed once it is older than
// half the evacuation age, and a sealed segment older than the evacuation
// age copies its remaining live messages into Badger and is deleted; the
// age is a quarter of the retention (at most a minute), so no record
// expires while its message's segment exists.

const (
	segmentDir       = "segments"
	segmentExt       = ".seg"
	frameHeader      = 8
	frameSeeded      = 1 << 31          // in a frame's length: its checksum covers the segment's number first (frameSum)
	freeExt          = ".free"          // a deleted segment's file kept to be written again (recycled)
	maxFree          = 2                // such files kept at most
	maxFrameBytes    = 1 << 30          // a frame larger than this is corrupt
	maxSegmentBytes  = 64 << 20         // the active segment is sealed past this
	minSegmentBytes  = 1 << 20          // on small file systems
	maxBatchFile     = 16 << 20         // a batch's bytes in the file (MaxBatch caps it too)
	maxEvacuateAfter = time.Minute      // when retention does not ask for less
	minEvacuateAfter = 10 * time.Second // never more often
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// frameSum is a frame's checksum: crc32c of the segment's number (8 bytes,
// little-endian) and then the payload. A recycled file still holds frames
// of its previous life past the new ones; their checksums name another
// segment, so they end the log as a torn frame does. (Frames written before
// this had frameSeeded clear and a checksum of the payload alone.)
func frameSum(n uint64, payload []byte) uint32 {
	var num [8]byte
	binary.LittleEndian.PutUint64(num[:], n)
	return crc32.Update(crc32.Checksum(num[:], crcTable), crcTable, payload)
}

// pageSize is the page cache's unit: dropCache keeps a partial last page.
var pageSize = int64(os.Getpagesize())

// segment is one file's bookkeeping.
type segment struct {
	n       uint64 // its number: the file is %016x.seg
	live    int    // messages that still need the file
	bytes   int64
	created time.Time
	sealed  bool  // no more appends; deleted once live is 0 (and no retained result refers to it: retained.go)
	cached  int64 // the page cache holds its bytes from here on (below: dropped once synced; pageSize-aligned)
	// fresh: opened by this process, so every frame in its file names it
	// (frameSum) and the file may be recycled; recycled: the file is a
	// deleted segment's, written again.
	fresh, recycled bool

	// Final records that keep their body as a reference into this file
	// (retained.go): their ids until the segment has no live message (then
	// the file is kept for them or they are rewritten with their body),
	// their bodies' bytes (never reset: a file results referred to is not
	// recycled), and the newest one's expiry.
	refs     []ID
	refBytes int64
	keep     time.Time
}

// segments is the set of segment files. Owned by whoever holds Log.writer
// (the committer, or an appender leading its commit), and by Open before
// the committer starts.
type segments struct {
	dir      string
	maxBytes int64 // seal the active segment past this
	sync     bool  // fdatasync each frame (DurabilityFsync)
	active   *os.File
	cur      *segment
	all      map[uint64]*segment
	last     uint64       // the highest segment number used (the next one is last+1)
	kept     keptSegments // sealed, every message final, kept for the results that refer to them (retained.go)
	frame    []byte       // the frame being built, reused
	free     []string     // deleted segments' files kept to be written again (remove, open)
	recycled uint64       // segments opened on a recycled file
	count    int          // messages in it
}

func segmentPath(dir string, n uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016x%s", n, segmentExt))
}

// segmentSize is the active segment's size cap on a file system of total
// bytes: 64 MiB, less on small file systems so that sealed segments (which
// give their space back) are a small share of the disk.
func segmentSize(total int64) int64 {
	if total <= 0 {
		return maxSegmentBytes
	}
	return min(maxSegmentBytes, max(minSegmentBytes, total/64))
}

// listSegments returns the segment numbers in dir, in order.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ns []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentExt)
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			continue
		}
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns, nil
}

// readSegment calls f for every message of segment n in order. A frame
// that is cut short or fails its checksum ends the file: it is truncated
// there (a crash in the middle of a write leaves such a frame, never
// acknowledged). It returns the file's size after that.
func readSegment(dir string, n uint64, f func(m *Message) error) (int64, error) {
	path := segmentPath(dir, n)
	data, err := os.ReadFile(path) // #nosec G304 -- a segment of the log's own directory
	if err != nil {
		return 0, err
	}
	off := 0
	for len(data)-off >= frameHeader {
		v := binary.LittleEndian.Uint32(data[off:])
		size := int(v &^ frameSeeded)
		sum := binary.LittleEndian.Uint32(data[off+4:])
		if size == 0 || size > maxFrameBytes || size > len(data)-off-frameHeader {
			break // a frame holds a count at least: size 0 is a preallocated tail's zeros
		}
		payload := data[off+frameHeader : off+frameHeader+size]
		want := crc32.Checksum(payload, crcTable)
		if v&frameSeeded != 0 {
			want = frameSum(n, payload)
		}
		if want != sum {
			break
		}
		if err := decodeFrame(payload, f); err != nil {
			return 0, fmt.Errorf("segment %s at %d: %w", path, off, err)
		}
		off += frameHeader + size
	}
	if off < len(data) {
		if err := os.Truncate(path, int64(off)); err != nil {
			return 0, fmt.Errorf("cutting the torn end of %s: %w", path, err)
		}
	}
	return int64(off), nil
}

func decodeFrame(p []byte, f func(m *Message) error) error {
	d := wire.NewReader(p)
	for n := d.Count(); n > 0 && !d.Failed(); n-- {
		b := d.LenBytes()
		if d.Failed() {
			break
		}
		m, err := decodeMessage(b)
		if err != nil {
			return err
		}
		if err := f(m); err != nil {
			return err
		}
	}
	if d.Failed() || d.Len() > 0 {
		return errCorruptValue
	}
	return nil
}

// open starts a new active segment numbered n.
func (s *segments) open(n uint64) error {
	path := segmentPath(s.dir, n)
	recycled := false
	if k := len(s.free); k > 0 {
		// A deleted segment's file, written again from its start: a sync
		// after overwriting blocks that exist commits no size or extent
		// (RATIONALE.md, "Recycled segment files").
		if err := os.Rename(s.free[k-1], path); err == nil {
			recycled = true
		} else {
			_ = os.Remove(s.free[k-1]) // #nosec G104 -- a spare file; a new one is created instead
		}
		s.free = s.free[:k-1]
	}
	flags := os.O_CREATE | os.O_EXCL | os.O_WRONLY
	if recycled {
		flags = os.O_WRONLY
	}
	f, err := os.OpenFile(path, flags, 0o600) // #nosec G304 -- a segment of the log's own directory
	if err != nil {
		return fmt.Errorf("queue: creating a segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil { // the new file's name must survive a power cut
		_ = f.Close()           // #nosec G104 -- the sync's error is the one returned
		_ = os.Remove(f.Name()) // #nosec G104 -- an empty file; recovery skips it anyway
		return err
	}
	if !recycled {
		// Its blocks and size now, so that a frame's fdatasync commits
		// neither (RATIONALE.md, "Preallocated segment files"). Where that
		// fails (no space for all of it, a file system without fallocate)
		// the file grows as it is written.
		_ = preallocate(f, s.maxBytes) // #nosec G104 -- an optimisation; the writes allocate what it did not
	}
	s.active = f
	s.cur = &segment{n: n, created: time.Now(), fresh: true, recycled: recycled}
	if recycled {
		s.recycled++
	}
	s.all[n] = s.cur
	s.last = max(s.last, n)
	return nil
}

// A frame's count and each message's length are uvarints written in
// fixedVarint bytes (putFixedVarint), so that they can be filled in once
// the message (or the frame) is encoded, in place: a message is never
// moved. binary.Uvarint reads them like minimal ones.
const fixedVarint = binary.MaxVarintLen32

// putFixedVarint writes v (< 2^35) into b[:fixedVarint] as a uvarint that
// uses every byte: continuation bits on all but the last.
func putFixedVarint(b []byte, v uint64) {
	for i := range fixedVarint - 1 {
		b[i] = byte(v) | 0x80
		v >>= 7
	}
	b[fixedVarint-1] = byte(v)
}

// add encodes m into the frame being built, its length in front of it. It
// notes where m's body starts in the frame (the encoding's last bytes):
// write's caller adds the frame's offset in the file.
func (s *segments) add(m *Message) {
	if len(s.frame) == 0 {
		s.frame = append(s.frame, make([]byte, frameHeader+fixedVarint)...)
	}
	at := len(s.frame)
	s.frame = appendMessage(append(s.frame, make([]byte, fixedVarint)...), m)
	putFixedVarint(s.frame[at:], uint64(len(s.frame)-at-fixedVarint)) // #nosec G115 -- a length, not negative
	m.bodyAt = int64(len(s.frame) - len(m.Body))
	s.count++
}

// pending reports whether messages were added since the last write.
func (s *segments) pending() bool { return s.count > 0 }

// write appends the frame built by add to the active segment and returns
// the segment holding it and the frame's offset in the file; the caller
// syncs it (syncer) when durability asks for it. On an error nothing of
// the frame stays in the file.
func (s *segments) write() (*segment, int64, error) {
	defer s.reset()
	if s.cur != nil && s.cur.bytes >= s.maxBytes {
		s.seal() // full: upkeep seals it after a committer's cycle, this after a leader's
	}
	if err := s.ensure(); err != nil {
		return nil, 0, err
	}
	putFixedVarint(s.frame[frameHeader:], uint64(s.count)) // #nosec G115 -- a count, not negative
	payload := s.frame[frameHeader:]
	binary.LittleEndian.PutUint32(s.frame, uint32(len(payload))|frameSeeded) // #nosec G115 -- a batch is at most maxBatchFile plus one message of at most max_body_size (1 GiB)
	binary.LittleEndian.PutUint32(s.frame[4:], frameSum(s.cur.n, payload))
	buf := s.frame
	seg := s.cur
	at := seg.bytes
	if _, err := s.active.WriteAt(buf, at); err != nil {
		s.cut(seg.bytes)
		return nil, 0, fmt.Errorf("queue: writing segment %016x: %w", seg.n, err)
	}
	seg.bytes += int64(len(buf))
	return seg, at, nil
}

// syncer runs the committer's fdatasync of a segment on a goroutine of its
// own, so that the batch's Badger write (outcomes, idempotency keys) runs
// while the disk syncs the frame, instead of after it. Once synced, the
// file's whole pages before the frame's end leave the page cache
// (dropCache): the workers have the messages in memory, and a log that
// kept them cached would take a fresh page for every page it writes
// (RATIONALE.md, "The page cache").
type syncer struct {
	req  chan syncReq
	done chan syncResult
	gate chan struct{} // tests: each sync waits for a token
}

// syncReq asks for an fdatasync of f, then for its page cache in [drop,
// dropTo) to be dropped.
type syncReq struct {
	f            *os.File
	drop, dropTo int64
}

type syncResult struct {
	took time.Duration
	err  error
}

func newSyncer(gate chan struct{}) *syncer {
	y := &syncer{req: make(chan syncReq), done: make(chan syncResult, 1), gate: gate}
	go y.run()
	return y
}

func (y *syncer) run() {
	for r := range y.req {
		y.done <- y.do(r)
	}
}

// do runs r on the calling goroutine: the syncer's, or a leader's that
// syncs its own frame (Log.lead).
func (y *syncer) do(r syncReq) syncResult {
	if y.gate != nil {
		<-y.gate
	}
	t0 := time.Now()
	err := fdatasync(r.f)
	took := time.Since(t0)
	if err == nil && r.dropTo > r.drop {
		dropCache(r.f, r.drop, r.dropTo)
	}
	return syncResult{took, err}
}

// syncRequest is the sync that makes the active segment's last frame
// durable, then drops the page cache of its whole pages not dropped yet.
func (s *segments) syncRequest() syncReq {
	to := s.cur.bytes &^ (pageSize - 1)
	r := syncReq{f: s.active, drop: s.cur.cached, dropTo: to}
	s.cur.cached = max(s.cur.cached, to)
	return r
}

// start runs r on the syncer's goroutine; the result comes on done.
func (y *syncer) start(r syncReq) { y.req <- r }
func (y *syncer) stop()           { close(y.req) }

// cut truncates the active file back to size after a failed write (a
// partial frame must not stay in front of the next one).
func (s *segments) cut(size int64) {
	if err := s.active.Truncate(size); err != nil {
		// The next frame would follow garbage that recovery stops at:
		// seal this file, start another.
		s.seal()
	}
}

// seal closes the active segment for appends; the next append opens a new
// one. With sync off the file is synced now (a sealed file is complete).
func (s *segments) seal() {
	if s.active == nil {
		return
	}
	if !s.sync {
		if fdatasync(s.active) == nil {
			dropCache(s.active, s.cur.cached, s.cur.bytes)
		}
	}
	// The file ends at its frames: a recycled one's previous life and a
	// preallocated one's zeros go (a reader stops at either anyway).
	_ = s.active.Truncate(s.cur.bytes) // #nosec G104 -- see above: nothing depends on it
	_ = s.active.Close()               // #nosec G104 -- written and synced; nothing is lost if closing fails
	s.active = nil
	s.cur.sealed = true
	s.cur = nil
}

// ensure opens a new active segment if there is none.
func (s *segments) ensure() error {
	if s.active != nil {
		return nil
	}
	return s.open(s.last + 1)
}

// deletable returns the sealed segments without live messages (some may
// have to be kept for the results that refer to them: retained.go).
func (s *segments) deletable() []*segment {
	var out []*segment
	for _, seg := range s.all {
		if seg.sealed && seg.live == 0 {
			out = append(out, seg)
		}
	}
	return out
}

// remove deletes a segment's file, or with recycle keeps it to be
// written again by a later segment (open): a file this process wrote (so
// every frame in it names its segment) that no result ever referred to (a
// lookup may still be reading a body from it: it must read the old bytes
// or none, as an unlinked file gives), while fewer than maxFree wait.
func (s *segments) remove(seg *segment, recycle bool) error {
	path := segmentPath(s.dir, seg.n)
	if recycle && seg.fresh && seg.refBytes == 0 && seg.bytes > 0 && len(s.free) < maxFree {
		free := strings.TrimSuffix(path, segmentExt) + freeExt
		if err := os.Rename(path, free); err == nil {
			s.free = append(s.free, free)
			delete(s.all, seg.n)
			return nil
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("queue: deleting segment %016x: %w", seg.n, err)
	}
	delete(s.all, seg.n)
	return nil
}

// removeFree deletes the files kept for recycling (Open, Close): a new
// process starts without them rather than trusting what they hold.
func (s *segments) removeFree() {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), freeExt) {
			_ = os.Remove(filepath.Join(s.dir, e.Name())) // #nosec G104 -- a spare file
		}
	}
	s.free = nil
}

// syncDir makes a directory's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- the log's own directory
	if err != nil {
		return err
	}
	defer d.Close() // #nosec G104 -- read-only; the sync's error is the one returned
	if err := d.Sync(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("queue: syncing %s: %w", dir, err)
	}
	return nil
}

// reset drops the frame being built (its batch failed before the write).
func (s *segments) reset() { s.frame, s.count = s.frame[:0], 0 }

// evacuateAge is how old a sealed segment may get before its remaining
// messages move into Badger: a quarter of the retention, at most a minute
// (and never under minEvacuateAfter). See the comment at the top.
func evacuateAge(retention time.Duration) time.Duration {
	if retention <= 0 {
		return maxEvacuateAfter
	}
	return min(maxEvacuateAfter, max(minEvacuateAfter, retention/4))
}

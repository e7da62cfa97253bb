package queue

import (
	"fmt"
	"time"
)

// AutoMinFree, as Options.MinFreeBytes, keeps 1 GiB or 5% of the file
// system free, whichever is smaller: room for Badger to finish what it
// started (a memtable flush, a compaction, a value-log file) and for the
// backlog's outcomes. Badger crashes (SIGBUS on its mmap'd files) when the
// disk fills up under it.
const AutoMinFree = -1

// minFree is what AutoMinFree means on a file system of total bytes.
func minFree(total int64) int64 { return min(1<<30, total/20) }

// diskInterval is how often the log looks at its file system's free space
// (checkDisk).
const diskInterval = time.Second

// checkDisk reads the free space of the log's file system and updates
// diskLow: appends fail with ErrDiskFull while it is under MinFreeBytes.
// Completions still go through: draining the backlog frees space.
func (l *Log) checkDisk() {
	free, total, err := l.opts.freeBytes(l.opts.Dir)
	if err != nil {
		if l.diskErr.CompareAndSwap(false, true) {
			l.log.Warn("cannot read the log's free disk space; not guarding it", "dir", l.opts.Dir, "err", err)
		}
		return
	}
	l.diskErr.Store(false)
	l.stats.diskFree.Store(free)
	want := l.opts.MinFreeBytes
	if want == AutoMinFree {
		want = minFree(total)
	}
	low := want > 0 && free < want
	if l.diskLow.Swap(low) != low {
		if low {
			l.log.Error("disk almost full: refusing new messages until space is freed",
				"dir", l.opts.Dir, "free", byteCount(free), "min_free_disk", byteCount(want))
		} else {
			l.log.Info("disk space recovered: accepting messages again", "dir", l.opts.Dir, "free", byteCount(free))
		}
	}
}

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

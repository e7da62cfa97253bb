package latency

import (
	"math"
	"math/bits"
	"time"
)

const (
	subBits  = 5
	subCount = 1 << subBits // sub-buckets per power of two
	maxBits  = 36           // values up to 2^36 ns (~68.7 s)

	// MaxValue is the smallest duration that is clamped into the last bucket.
	MaxValue = time.Duration(1) << maxBits

	numBuckets = (maxBits-subBits+1)*subCount + subCount
)

// Histogram counts durations in log-linear buckets. The zero value is empty
// and ready to use. It is about 8 KiB; keep it off hot shared cache lines by
// giving each goroutine its own.
type Histogram struct {
	counts [numBuckets]uint64
	total  uint64
	max    time.Duration
}

// Record adds one duration. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	if d > h.max {
		h.max = d
	}
	h.counts[bucketOf(d)]++
	h.total++
}

// Merge adds every count of o into h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	if o.max > h.max {
		h.max = o.max
	}
}

// Count returns the number of recorded durations.
func (h *Histogram) Count() uint64 { return h.total }

// Max returns the largest recorded duration (exact, not bucketed).
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the upper bound of the bucket holding the q-th quantile
// (0 < q ≤ 1), capped at Max. It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.total {
		rank = h.total
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(upperBound(i), h.max)
		}
	}
	return h.max
}

// bucketOf maps a duration to its bucket index.
func bucketOf(d time.Duration) int {
	v := uint64(d)
	if v >= uint64(MaxValue) {
		return numBuckets - 1
	}
	if v < subCount {
		return int(v)
	}
	msb := bits.Len64(v) - 1 // ≥ subBits
	shift := msb - subBits
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// upperBound returns the largest duration that falls into bucket i.
func upperBound(i int) time.Duration {
	if i < subCount {
		return time.Duration(i)
	}
	shift := i/subCount - 1
	m := uint64(i%subCount + subCount)
	return time.Duration((m+1)<<shift - 1)
}

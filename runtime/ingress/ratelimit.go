package ingress

import (
	"math"
	"sync"
	"time"
)

// bucket is a token bucket: rate tokens a second, at most burst banked. One
// per route with a rate_limit; safe for concurrent use.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens a second
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rps float64, burst int) *bucket {
	if burst <= 0 {
		burst = int(math.Ceil(rps))
	}
	return &bucket{rate: rps, burst: float64(burst), tokens: float64(burst)}
}

// take spends a token if there is one; otherwise it returns how long until
// there will be.
func (b *bucket) take(now time.Time) (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

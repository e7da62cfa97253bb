//go:build !race

// The race detector's instrumentation allocates on its own, so these exact
// counts hold only without it: this file is not built under -race.

package queue

import (
	"context"
	"testing"
)

// TestSchedulerAllocs locks the allocations of one message's trip through
// the scheduler: reserve, push (as the committer does, from its reused
// slice), next, done.
func TestSchedulerAllocs(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		want      float64
	}{
		// Keyless: the ready fifo and the inflight map reuse their space.
		{"keyless", "", 0},
		// Keyed, its key idle: push gives the key a waiting fifo and done
		// takes it back; the fifo is reused from the scheduler's spares.
		{"keyed", "k", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScheduler(Limits{})
			m := msg(1, tc.key)
			ms := []*Message{m}
			ctx := context.Background()
			trip := func() {
				if err := s.reserve(m); err != nil {
					t.Fatal(err)
				}
				s.push(ms, false)
				got, err := s.next(ctx)
				if err != nil || got != m {
					t.Fatalf("next: %v %v", got, err)
				}
				s.done(m)
			}
			trip() // warm up: the fifo's array, the inflight map's table
			allocs := testing.AllocsPerRun(1000, trip)
			if allocs != tc.want {
				t.Fatalf("reserve/push/next/done of a %s message: %v allocs, want %v", tc.name, allocs, tc.want)
			}
		})
	}
}

package queue

import (
	"sort"
	"time"
)

// AgeResolution is how finely the log tells the age of a route's oldest
// message (RouteOldest): messages are counted by the AgeResolution
// interval they were received in.
const AgeResolution = 100 * time.Millisecond

// RouteOldest reports when the oldest message of a route that has no final
// outcome yet (waiting, running, waiting to retry) was received, to
// AgeResolution (the start of its interval), or the zero time when the
// route has none. It costs no more than a map lookup: the scheduler keeps
// each route's messages counted by the interval they were received in.
func (l *Log) RouteOldest(route string) time.Time { return l.sched.routeOldest(route) }

func (s *scheduler) routeOldest(route string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.ages[route]
	if a == nil || a.head == len(a.buckets) {
		return time.Time{}
	}
	return time.Unix(0, a.buckets[a.head].interval*int64(AgeResolution))
}

// ageLocked counts m (d = 1) or stops counting it (d = -1) in its route's
// ages, as countLocked does in its usage.
func (s *scheduler) ageLocked(m *Message, d int) {
	a := s.ages[m.Route]
	if a == nil {
		if s.ages == nil {
			s.ages = make(map[string]*ages)
		}
		a = &ages{}
		s.ages[m.Route] = a
	}
	a.add(m.Received.UnixNano()/int64(AgeResolution), d)
}

// ages counts a route's messages by the interval they were received in,
// in ascending order of interval from head on. Messages arrive in about the
// order they were received, so a new one almost always counts in the last
// bucket or a new one after it; one that completes is found by binary
// search; the oldest is the first bucket whose count is not zero, which is
// head: buckets emptied at the front are skipped as they empty, the ones
// emptied behind it are dropped when the array would otherwise grow.
type ages struct {
	buckets []ageBucket
	head    int
}

type ageBucket struct {
	interval int64 // received time / AgeResolution
	n        int
}

func (a *ages) add(interval int64, d int) {
	live := a.buckets[a.head:]
	if d > 0 {
		if n := len(live); n == 0 || live[n-1].interval < interval {
			a.append(ageBucket{interval, 1})
			return
		}
		if live[len(live)-1].interval == interval {
			live[len(live)-1].n++
			return
		}
	}
	i := sort.Search(len(live), func(i int) bool { return live[i].interval >= interval })
	if i < len(live) && live[i].interval == interval {
		live[i].n += d
	} else if d > 0 { // older than the last (recovery, a replay): insert in order
		a.append(ageBucket{}) // room at the end; may drop empty buckets, so search again
		live = a.buckets[a.head:]
		i = sort.Search(len(live)-1, func(i int) bool { return live[i].interval >= interval })
		copy(live[i+1:], live[i:len(live)-1])
		live[i] = ageBucket{interval, 1}
	}
	for a.head < len(a.buckets) && a.buckets[a.head].n == 0 {
		a.head++
	}
	if a.head == len(a.buckets) {
		a.buckets, a.head = a.buckets[:0], 0
	}
}

// append adds b at the end, first dropping empty buckets if the array is
// full, so that it holds at most twice the buckets with messages.
func (a *ages) append(b ageBucket) {
	if len(a.buckets) == cap(a.buckets) && len(a.buckets) > 0 {
		kept := a.buckets[:0]
		for _, x := range a.buckets[a.head:] {
			if x.n != 0 {
				kept = append(kept, x)
			}
		}
		clear(a.buckets[len(kept):])
		a.buckets, a.head = kept, 0
	}
	a.buckets = append(a.buckets, b)
}

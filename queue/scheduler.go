package queue

import (
	"context"
	"sync"
	"time"
)

// Limits bound the in-memory backlog: messages accepted but not completed.
type Limits struct {
	Messages int   // 0: unlimited
	Bytes    int64 // 0: unlimited
	// Routes bound each named route's share (same meaning per field); past
	// one, Append fails with ErrRouteBacklogFull.
	Routes map[string]Limits
}

// usage is what is counted against a limit.
type usage struct {
	n     int
	bytes int64
}

func (u usage) over(l Limits, size int64) bool {
	return (l.Messages > 0 && u.n >= l.Messages) || (l.Bytes > 0 && u.bytes+size > l.Bytes && u.n > 0)
}

// scheduler holds every pending message in memory and decides which may run:
// a message whose key is empty runs as soon as a worker is free; messages
// sharing a key run one at a time in the order they were pushed. It is
// independent of the storage backend. Safe for concurrent use.
type scheduler struct {
	limits Limits

	mu       sync.Mutex
	ready    fifo              // may run now
	keys     map[string]*fifo  // key -> messages waiting behind the running one; present while the key is busy
	spare    []*fifo           // fifos of keys that went idle, for the next busy key
	inflight map[ID]struct{}   // claimed by Next, not yet done
	retries  map[ID]retryState // claimed messages whose Retry is being written (Lookup shows it)
	reserved int               // messages counted against the limit
	waiting  int               // messages waiting for a retry's NotBefore
	bytes    int64             // bytes counted against the limit
	routes   map[string]*usage // per route
	ages     map[string]*ages  // per route: messages by the time they were received (oldest.go)
	closed   bool
	held     bool          // hold: no message is handed out (the log cannot write outcomes)
	wake     chan struct{} // one token: a waiter should look at ready again
	stop     chan struct{} // closed by close
}

func newScheduler(l Limits) *scheduler {
	return &scheduler{
		limits:   l,
		keys:     make(map[string]*fifo),
		inflight: make(map[ID]struct{}),
		retries:  make(map[ID]retryState),
		routes:   make(map[string]*usage),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
}

// reserve counts m against the backlog, or reports errBacklogFull or
// ErrRouteBacklogFull.
func (s *scheduler) reserve(m *Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	size := m.Size()
	if (usage{s.reserved, s.bytes}).over(s.limits, size) {
		return errBacklogFull
	}
	if l, ok := s.limits.Routes[m.Route]; ok && s.routeUsage(m.Route).over(l, size) {
		return errRouteFull
	}
	s.countLocked(m, 1)
	return nil
}

// unreserve returns a reservation that was not pushed.
func (s *scheduler) unreserve(m *Message) {
	s.mu.Lock()
	s.countLocked(m, -1)
	s.mu.Unlock()
}

func (s *scheduler) routeUsage(route string) usage {
	if u := s.routes[route]; u != nil {
		return *u
	}
	return usage{}
}

// countLocked adds (d = 1) or removes (d = -1) m from the counts.
func (s *scheduler) countLocked(m *Message, d int) {
	size := m.Size()
	s.reserved += d
	s.bytes += int64(d) * size
	u := s.routes[m.Route] // every route's, for its limit and for metrics
	if u == nil {
		u = &usage{}
		s.routes[m.Route] = u
	}
	u.n += d
	u.bytes += int64(d) * size
	s.ageLocked(m, d)
}

// push schedules reserved messages in order. Recovery pushes without a
// reservation (force): what was accepted before a restart is never refused.
func (s *scheduler) push(ms []*Message, force bool) {
	s.mu.Lock()
	for _, m := range ms {
		if force {
			s.countLocked(m, 1)
		}
		if m.Dead { // recovered dead letter: not run; a parked one holds its key
			s.countLocked(m, -1)
			if m.Parked && m.Key != "" {
				if _, busy := s.keys[m.Key]; !busy {
					s.keys[m.Key] = s.newFifoLocked()
				}
			}
			continue
		}
		if force && m.NotBefore.After(time.Now()) { // recovered while waiting to retry
			if m.Key != "" {
				if q, busy := s.keys[m.Key]; busy {
					q.push(m)
					continue
				}
				s.keys[m.Key] = s.newFifoLocked()
			}
			s.delayLocked(m)
			continue
		}
		if m.Key == "" {
			s.ready.push(m)
			continue
		}
		if q, busy := s.keys[m.Key]; busy {
			q.push(m)
			continue
		}
		s.keys[m.Key] = s.newFifoLocked()
		s.ready.push(m)
	}
	s.mu.Unlock()
	s.signal()
}

func (s *scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next claims the next runnable message.
func (s *scheduler) next(ctx context.Context) (*Message, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, errClosed
		}
		if m := s.popLocked(); m != nil {
			s.inflight[m.ID] = struct{}{}
			more := s.ready.len() > 0
			s.mu.Unlock()
			if more {
				s.signal() // pass the token on to another waiter
			}
			return m, nil
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.stop:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// popLocked takes the next ready message, unless the scheduler is held.
func (s *scheduler) popLocked() *Message {
	if s.held {
		return nil
	}
	return s.ready.pop()
}

// hold stops (true) or resumes (false) handing out messages; messages
// already claimed are not affected.
func (s *scheduler) hold(on bool) {
	s.mu.Lock()
	s.held = on
	s.mu.Unlock()
	if !on {
		s.signal()
	}
}

// done releases m's reservation and key, letting the next message of the key run.
func (s *scheduler) done(m *Message) {
	s.mu.Lock()
	delete(s.inflight, m.ID)
	s.countLocked(m, -1)
	woke := s.releaseKeyLocked(m.Key)
	s.mu.Unlock()
	if woke {
		s.signal()
	}
}

// releaseKeyLocked lets the next message of key run, or frees the key.
func (s *scheduler) releaseKeyLocked(key string) bool {
	if key == "" {
		return false
	}
	q := s.keys[key]
	if q == nil {
		return false
	}
	if n := q.pop(); n != nil {
		s.ready.push(n)
		return true
	}
	s.freeFifoLocked(q)
	delete(s.keys, key)
	return false
}

// maxSpare bounds the idle fifos kept for reuse, and spareCap the array a
// kept fifo may hold on to: a burst on one key must not pin its memory.
const maxSpare, spareCap = 1024, 64

// newFifoLocked returns an empty fifo for a key that becomes busy, reusing
// one whose key went idle (a keyed message then costs no allocation).
func (s *scheduler) newFifoLocked() *fifo {
	if n := len(s.spare); n > 0 {
		f := s.spare[n-1]
		s.spare[n-1] = nil
		s.spare = s.spare[:n-1]
		return f
	}
	return &fifo{}
}

// freeFifoLocked keeps f, which must be empty, for newFifoLocked.
func (s *scheduler) freeFifoLocked(f *fifo) {
	if f == nil || len(s.spare) >= maxSpare {
		return
	}
	if cap(f.items) > spareCap {
		f.items = nil
	}
	f.items, f.head = f.items[:0], 0
	s.spare = append(s.spare, f)
}

// park releases m's reservation but keeps its key held (a parked dead letter).
func (s *scheduler) park(m *Message) {
	s.mu.Lock()
	delete(s.inflight, m.ID)
	s.countLocked(m, -1)
	s.mu.Unlock()
}

// unpark releases the key a parked dead letter held.
func (s *scheduler) unpark(key string) {
	s.mu.Lock()
	woke := s.releaseKeyLocked(key)
	s.mu.Unlock()
	if woke {
		s.signal()
	}
}

// replay schedules a dead letter again. A parked one takes its key's head,
// which it still holds; another queues like a new message.
func (s *scheduler) replay(m *Message, parked bool) {
	s.mu.Lock()
	if parked && m.Key != "" {
		if _, busy := s.keys[m.Key]; busy {
			s.countLocked(m, 1)
			s.ready.push(m)
			s.mu.Unlock()
			s.signal()
			return
		}
	}
	s.mu.Unlock()
	s.push([]*Message{m}, true)
}

// later takes m (claimed, not done) back and makes it runnable again at
// m.NotBefore. Its key stays busy and its reservation counted meanwhile.
func (s *scheduler) later(m *Message) {
	s.mu.Lock()
	delete(s.inflight, m.ID)
	delete(s.retries, m.ID)
	s.delayLocked(m)
	s.mu.Unlock()
}

func (s *scheduler) delayLocked(m *Message) {
	s.waiting++
	time.AfterFunc(time.Until(m.NotBefore), func() {
		s.mu.Lock()
		s.waiting--
		if s.closed {
			s.mu.Unlock()
			return
		}
		s.ready.push(m)
		s.mu.Unlock()
		s.signal()
	})
}

// retryState is what a claimed message's Retry writes: Lookup shows it
// from the call to Retry until later (the write is done and the message
// waits for NotBefore), so that no moment shows the attempt before.
type retryState struct {
	attempts  uint32
	notBefore time.Time
	state     []byte
}

// retrying notes the retry of m (claimed) that Retry is about to write.
func (s *scheduler) retrying(m *Message) {
	s.mu.Lock()
	s.retries[m.ID] = retryState{m.Attempts, m.NotBefore, m.State}
	s.mu.Unlock()
}

func (s *scheduler) forgetRetry(id ID) {
	s.mu.Lock()
	delete(s.retries, id)
	s.mu.Unlock()
}

// claimed reports whether id is claimed by a worker and, if its retry is
// being written, what the retry says.
func (s *scheduler) claimed(id ID) (inflight bool, r retryState, retrying bool) {
	s.mu.Lock()
	_, inflight = s.inflight[id]
	r, retrying = s.retries[id]
	s.mu.Unlock()
	return inflight, r, retrying
}

// routeBacklog reports one route's messages and bytes.
func (s *scheduler) routeBacklog(route string) (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.routeUsage(route)
	return u.n, u.bytes
}

// backlog reports the messages and bytes counted against the limits.
func (s *scheduler) backlog() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reserved, s.bytes
}

func (s *scheduler) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.stop) // wakes every waiter; they see closed
	}
}

// fifo is a slice-backed queue that reuses its array.
type fifo struct {
	items []*Message
	head  int
}

func (f *fifo) push(m *Message) { f.items = append(f.items, m) }

func (f *fifo) len() int { return len(f.items) - f.head }

func (f *fifo) pop() *Message {
	if f.head == len(f.items) {
		return nil
	}
	m := f.items[f.head]
	f.items[f.head] = nil
	f.head++
	if f.head == len(f.items) {
		f.items, f.head = f.items[:0], 0
	} else if f.head > 1024 && f.head*2 > len(f.items) {
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items, f.head = f.items[:n], 0
	}
	return m
}

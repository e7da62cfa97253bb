package queue

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// TestAgesAgainstModel adds and removes messages received at random times,
// mostly in order, and checks after every step that the oldest interval
// agrees with a plain count of the messages, and that the array never
// grows past twice the most intervals that had messages at once.
func TestAgesAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var a ages
	live := map[int64]int{} // interval -> messages
	var order []int64       // every live message's interval, to pick one to remove
	now := int64(1000)
	peak := 0 // the most intervals with messages at once
	for step := range 50000 {
		if len(order) == 0 || (len(order) < 500 && rng.IntN(100) < 52) {
			iv := now
			switch r := rng.IntN(100); {
			case r < 70:
				now += int64(rng.IntN(2))
				iv = now
			case r < 90:
				iv = now - int64(rng.IntN(50)) // a little out of order
			default:
				iv = now - int64(rng.IntN(5000)) // recovered or replayed
			}
			a.add(iv, 1)
			live[iv]++
			order = append(order, iv)
		} else {
			j := rng.IntN(len(order))
			if rng.IntN(4) == 0 {
				j = 0 // often the oldest-added
			}
			iv := order[j]
			order[j] = order[len(order)-1]
			order = order[:len(order)-1]
			a.add(iv, -1)
			if live[iv]--; live[iv] == 0 {
				delete(live, iv)
			}
		}
		want, ok := int64(0), false
		for iv := range live {
			if !ok || iv < want {
				want, ok = iv, true
			}
		}
		got, gotOK := a.buckets, a.head < len(a.buckets)
		if gotOK != ok || (ok && got[a.head].interval != want) {
			t.Fatalf("step %d: head %v (present %v), want %d (present %v)", step, got[a.head:], gotOK, want, ok)
		}
		for _, b := range got[a.head:] {
			if b.n < 0 || (b.n > 0 && live[b.interval] != b.n) {
				t.Fatalf("step %d: bucket %+v, model %d", step, b, live[b.interval])
			}
		}
		peak = max(peak, len(live))
		if c := cap(got); c > 2*peak+8 {
			t.Fatalf("step %d: room for %d buckets, at most %d intervals ever had messages at once", step, c, peak)
		}
	}
}

// TestRouteOldest follows one route's oldest message through the log:
// accepted, claimed, waiting to retry, completed; another route's
// messages do not count.
func TestRouteOldest(t *testing.T) {
	l, err := Open(Options{Dir: filepath.Join(t.TempDir(), "log"), Durability: DurabilityNone})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Ready(); err != nil {
		t.Fatal(err)
	}
	if got := l.RouteOldest("r"); !got.IsZero() {
		t.Fatalf("empty log: %v", got)
	}
	first, second := msg(1, ""), msg(2, "")
	first.Received = time.Now().Add(-time.Hour)
	other := msg(3, "")
	other.Route, other.Received = "other", time.Now().Add(-2*time.Hour)
	for _, m := range []*Message{first, second, other} {
		if err := l.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	near := func(got, want time.Time) bool {
		return !got.After(want) && want.Sub(got) < AgeResolution
	}
	if got := l.RouteOldest("r"); !near(got, first.Received) {
		t.Fatalf("two messages: oldest %v, want about %v", got, first.Received)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	claimed := map[ID]*Message{}
	for range 3 {
		m, err := l.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		claimed[m.ID] = m
	}
	// Claimed (running) messages are still without an outcome.
	if got := l.RouteOldest("r"); !near(got, first.Received) {
		t.Fatalf("claimed: oldest %v, want about %v", got, first.Received)
	}
	// Waiting to retry: still counted.
	m := claimed[first.ID]
	m.Attempts, m.NotBefore = 1, time.Now().Add(time.Hour)
	retried := make(chan error, 1)
	if err := l.Retry(m, func(err error) { retried <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-retried; err != nil {
		t.Fatal(err)
	}
	if got := l.RouteOldest("r"); !near(got, first.Received) {
		t.Fatalf("waiting to retry: oldest %v, want about %v", got, first.Received)
	}
	complete := func(m *Message) {
		t.Helper()
		done := make(chan error, 1)
		if err := l.Complete(m, &Record{Status: StatusSucceeded}, func(err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	complete(claimed[second.ID])
	if got := l.RouteOldest("r"); !near(got, first.Received) {
		t.Fatalf("the newer one done: oldest %v, want about %v", got, first.Received)
	}
	if got := l.RouteOldest("other"); !near(got, other.Received) {
		t.Fatalf("route other: oldest %v, want about %v", got, other.Received)
	}
	complete(claimed[other.ID])
	if got := l.RouteOldest("other"); !got.IsZero() {
		t.Fatalf("route other drained: oldest %v, want none", got)
	}
}

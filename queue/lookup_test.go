package queue

import (
	"context"
	"testing"
	"time"
)

// TestLookupThroughRetries: from the first failed attempt to the outcome,
// Lookup says retrying, with the attempts so far and their record (State),
// also while the retry is being written and while the next attempt is being
// made; NextAttempt is when the next attempt may start while it waits.
func TestLookupThroughRetries(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	defer l.Close()
	m := msg(1, "k")
	if err := l.Append(m); err != nil {
		t.Fatal(err)
	}
	lookup := func(want Status, attempts uint32, state string, next time.Time) {
		t.Helper()
		rec, err := l.Lookup(m.ID)
		if err != nil || rec.Status != want || rec.Attempts != attempts || string(rec.Payload) != state || !rec.NextAttempt.Equal(next) {
			t.Fatalf("Lookup: %v %v attempts %d state %q next %v; want %v attempts %d state %q next %v",
				err, rec.Status, rec.Attempts, rec.Payload, rec.NextAttempt, want, attempts, state, next)
		}
	}
	lookup(StatusAccepted, 0, "", time.Time{})
	got, err := l.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lookup(StatusProcessing, 0, "", time.Time{})

	// The first attempt failed: the retry is noted before it is written, so
	// no lookup in between shows the attempt before.
	due := time.Now().Add(100 * time.Millisecond).UTC()
	got.Attempts, got.NotBefore, got.State = 1, due, []byte("one")
	l.sched.retrying(got)
	lookup(StatusRetrying, 1, "one", due) // the log still has the message as it arrived
	written := make(chan error, 1)
	if err := l.Retry(got, func(err error) { written <- err }); err != nil || <-written != nil {
		t.Fatal("Retry failed")
	}
	lookup(StatusRetrying, 1, "one", due)

	// Its next attempt is being made: still retrying, with its record.
	again, err := l.Next(context.Background())
	if err != nil || again.ID != m.ID {
		t.Fatalf("Next: %v %v", again, err)
	}
	lookup(StatusRetrying, 1, "one", time.Time{})

	// The outcome.
	if err := complete(l, again, &Record{Status: StatusSucceeded, Attempts: 2, Payload: []byte("out")}); err != nil {
		t.Fatal(err)
	}
	lookup(StatusSucceeded, 2, "out", time.Time{})
}

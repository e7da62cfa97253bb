package worker

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/dispatch"
	"github.com/sluicehq/sluice/runtime/results"
)

// Jitter draws for decide and backoff: the smallest and the largest value
// rand.Int64N(n) can return.
func noJitter(int64) int64     { return 0 }
func fullJitter(n int64) int64 { return n - 1 }

// retryable retries a destination that did not answer, and 429 and 5xx.
func retryable(code string, status int) bool {
	return code == dispatch.CodeUnreachable || status == 429 || status >= 500
}

func delivered(status int, headers ...results.Header) *results.Outcome {
	out := &results.Outcome{Response: &results.Response{Status: status, Headers: headers}}
	if status < 200 || status > 299 {
		out.Error = &results.Error{Code: results.CodeDestinationFailed, Stage: "dispatch"}
	} else {
		out.Succeeded = true
	}
	return out
}

// reshaped is out after reply transforms answered status (and headers)
// in place of the destination's answer, which stays in Raw.
func reshaped(out *results.Outcome, status int, headers ...results.Header) *results.Outcome {
	out.Raw = out.Response
	out.Response = &results.Response{Status: status, Headers: headers}
	return out
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)
	policy := func(edit func(*RetryPolicy)) *RetryPolicy {
		p := &RetryPolicy{MaxAttempts: 4, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
			Retryable: retryable}
		if edit != nil {
			edit(p)
		}
		return p
	}
	message := func(attempts uint32, age time.Duration) *queue.Message {
		return &queue.Message{Route: "r", Attempts: attempts, Received: now.Add(-age)}
	}
	unreachable := &results.Outcome{Error: &results.Error{Code: dispatch.CodeUnreachable, Stage: "dispatch", Message: "refused"}}
	retryAt := func(d time.Duration) decision { return decision{kind: retry, at: now.Add(d), delay: d} }
	ra := func(v string) results.Header { return results.Header{Name: "retry-after", Value: v} }

	for _, tc := range []struct {
		name   string
		p      *RetryPolicy
		m      *queue.Message
		out    *results.Outcome
		jitter func(int64) int64
		want   decision
	}{
		{name: "success", p: policy(nil), m: message(0, 0), out: delivered(200), want: decision{kind: complete}},
		{name: "success on the last attempt", p: policy(nil), m: message(3, 0), out: delivered(204), want: decision{kind: complete}},
		{name: "transform failed: not retried", p: policy(nil), m: message(0, 0),
			out:  &results.Outcome{Error: &results.Error{Code: "plugin_rejected", Stage: "transform"}},
			want: decision{kind: complete}},
		{name: "reply transform failed: not retried", p: policy(nil), m: message(0, 0),
			out:  &results.Outcome{Error: &results.Error{Code: results.CodeReplyFailed, Stage: "reply"}},
			want: decision{kind: complete}},
		{name: "route gone: not retried", p: policy(nil), m: message(0, 0),
			out:  &results.Outcome{Error: &results.Error{Code: results.CodeInternal, Stage: "route"}},
			want: decision{kind: complete}},
		{name: "status the policy does not retry: dead", p: policy(nil), m: message(0, 0), out: delivered(400),
			want: decision{kind: dead}},
		{name: "status the policy does not retry: dead, parked", p: policy(func(p *RetryPolicy) { p.Park = true }),
			m: message(0, 0), out: delivered(404), want: decision{kind: dead, park: true}},
		{name: "unreachable, first attempt: backoff without jitter", p: policy(nil), m: message(0, 0), out: unreachable,
			jitter: noJitter, want: retryAt(50 * time.Millisecond)},
		{name: "unreachable, first attempt: backoff with full jitter", p: policy(nil), m: message(0, 0), out: unreachable,
			jitter: fullJitter, want: retryAt(100 * time.Millisecond)},
		{name: "503, third attempt: doubled twice", p: policy(nil), m: message(2, 0), out: delivered(503),
			jitter: fullJitter, want: retryAt(400 * time.Millisecond)},
		{name: "attempts exhausted: dead", p: policy(nil), m: message(3, 0), out: delivered(503), want: decision{kind: dead}},
		{name: "attempts exhausted: dead, parked", p: policy(func(p *RetryPolicy) { p.Park = true }), m: message(3, 0),
			out: unreachable, want: decision{kind: dead, park: true}},
		{name: "one attempt in all: dead at once", p: policy(func(p *RetryPolicy) { p.MaxAttempts = 1 }), m: message(0, 0),
			out: delivered(503), want: decision{kind: dead}},
		{name: "max_age: the wait would end past it: dead", p: policy(func(p *RetryPolicy) { p.MaxAge = time.Minute }),
			m: message(1, time.Minute-100*time.Millisecond), out: delivered(503), jitter: fullJitter, want: decision{kind: dead}},
		{name: "max_age: the wait ends right at it: retry", p: policy(func(p *RetryPolicy) { p.MaxAge = time.Minute }),
			m: message(1, time.Minute-200*time.Millisecond), out: delivered(503), jitter: fullJitter,
			want: retryAt(200 * time.Millisecond)},
		{name: "max_age passed while the attempt ran: dead, parked",
			p: policy(func(p *RetryPolicy) { p.MaxAge = time.Minute; p.Park = true }), m: message(0, 2*time.Minute),
			out: unreachable, jitter: noJitter, want: decision{kind: dead, park: true}},
		{name: "Retry-After seconds, longer than the backoff and MaxBackoff: honoured", p: policy(nil), m: message(0, 0),
			out: delivered(429, ra(" 7 ")), jitter: fullJitter, want: retryAt(7 * time.Second)},
		{name: "Retry-After seconds, shorter than the backoff: the backoff", p: policy(func(p *RetryPolicy) {
			p.InitialBackoff, p.MaxBackoff = 4*time.Second, 10*time.Second
		}), m: message(0, 0), out: delivered(503, ra("1")), jitter: fullJitter, want: retryAt(4 * time.Second)},
		{name: "Retry-After HTTP date: honoured", p: policy(nil), m: message(0, 0),
			out: delivered(503, ra(now.Add(90*time.Second).Format(http.TimeFormat))), jitter: noJitter,
			want: retryAt(90 * time.Second)},
		{name: "Retry-After HTTP date in the past: the backoff", p: policy(nil), m: message(0, 0),
			out: delivered(503, ra(now.Add(-time.Hour).Format(http.TimeFormat))), jitter: noJitter,
			want: retryAt(50 * time.Millisecond)},
		{name: "Retry-After unreadable: the backoff", p: policy(nil), m: message(0, 0),
			out: delivered(503, ra("soon")), jitter: noJitter, want: retryAt(50 * time.Millisecond)},
		{name: "Retry-After past max_age: dead", p: policy(func(p *RetryPolicy) { p.MaxAge = time.Hour }), m: message(0, 0),
			out: delivered(503, ra("3601")), jitter: noJitter, want: decision{kind: dead}},
		{name: "reply transforms made a 503 into a 400: the destination's 503 is retried", p: policy(nil), m: message(0, 0),
			out: reshaped(delivered(503, ra("30")), 400), jitter: fullJitter, want: retryAt(30 * time.Second)},
		{name: "reply transforms made a 400 into a 503: the destination's 400 is dead", p: policy(nil), m: message(0, 0),
			out: reshaped(delivered(400), 503, ra("30")), want: decision{kind: dead}},
		{name: "Retry-After on a status the policy does not retry: dead", p: policy(nil), m: message(0, 0),
			out: delivered(400, ra("1")), want: decision{kind: dead}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jitter := tc.jitter
			if jitter == nil {
				jitter = func(int64) int64 { t.Fatal("decide drew a jitter but must not wait"); return 0 }
			}
			before := *tc.m
			got := decide(tc.p, tc.m, tc.out, now, jitter)
			if got != tc.want {
				t.Fatalf("decide = %+v (%v), want %+v (%v)", got, got.kind, tc.want, tc.want.kind)
			}
			if got.kind == retry && got.at.Location() != time.UTC {
				t.Fatalf("retry at %v: not UTC", got.at)
			}
			if tc.m.Attempts != before.Attempts || !tc.m.NotBefore.Equal(before.NotBefore) || tc.m.State != nil {
				t.Fatalf("decide changed the message: %+v", tc.m)
			}
		})
	}
}

// TestDecideRetryableSees checks what the policy's Retryable is asked: the
// failure's code and the destination's status, 0 without an answer.
func TestDecideRetryableSees(t *testing.T) {
	var code string
	var status int
	p := &RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		Retryable: func(c string, s int) bool { code, status = c, s; return false }}
	m := &queue.Message{Received: time.Now()}
	decide(p, m, &results.Outcome{Error: &results.Error{Code: dispatch.CodeTimeout, Stage: "dispatch"}}, time.Now(), noJitter)
	if code != dispatch.CodeTimeout || status != 0 {
		t.Fatalf("Retryable(%q, %d), want (%q, 0)", code, status, dispatch.CodeTimeout)
	}
	decide(p, m, delivered(502), time.Now(), noJitter)
	if code != results.CodeDestinationFailed || status != 502 {
		t.Fatalf("Retryable(%q, %d), want (%q, 502)", code, status, results.CodeDestinationFailed)
	}
}

func TestBackoffBounds(t *testing.T) {
	p := &RetryPolicy{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for _, tc := range []struct {
		n        int // the attempt that failed
		lo, high time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 200 * time.Millisecond, 400 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 500 * time.Millisecond, time.Second}, // capped
		{1000, 500 * time.Millisecond, time.Second},
	} {
		if got := backoff(p, tc.n, noJitter); got != tc.lo {
			t.Errorf("backoff(%d) without jitter = %v, want %v", tc.n, got, tc.lo)
		}
		if got := backoff(p, tc.n, fullJitter); got != tc.high {
			t.Errorf("backoff(%d) with full jitter = %v, want %v", tc.n, got, tc.high)
		}
		seen := map[time.Duration]bool{}
		for range 200 {
			d := backoff(p, tc.n, rand.Int64N)
			if d < tc.lo || d > tc.high {
				t.Fatalf("backoff(%d) = %v, outside [%v, %v]", tc.n, d, tc.lo, tc.high)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d): 200 draws gave %d distinct waits: no jitter", tc.n, len(seen))
		}
	}
	for _, p := range []*RetryPolicy{{}, {InitialBackoff: 1, MaxBackoff: 1}, {InitialBackoff: time.Second, MaxBackoff: 0}} {
		if got := backoff(p, 3, fullJitter); got > 1 {
			t.Errorf("backoff under %+v = %v, want at most 1ns", p, got)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		hs   []results.Header
		want time.Duration
		ok   bool
	}{
		{nil, 0, false},
		{[]results.Header{{Name: "Content-Type", Value: "text/plain"}}, 0, false},
		{[]results.Header{{Name: "Retry-After", Value: "0"}}, 0, true},
		{[]results.Header{{Name: "RETRY-AFTER", Value: "120"}}, 2 * time.Minute, true},
		{[]results.Header{{Name: "Retry-After", Value: "-5"}}, 0, false},
		{[]results.Header{{Name: "Retry-After", Value: "1.5"}}, 0, false},
		{[]results.Header{{Name: "Retry-After", Value: now.Add(time.Minute).Format(http.TimeFormat)}}, time.Minute, true},
		{[]results.Header{{Name: "Retry-After", Value: now.Add(-time.Minute).Format(http.TimeFormat)}}, 0, true},
		{[]results.Header{{Name: "Retry-After", Value: "later"}, {Name: "Retry-After", Value: "3"}}, 3 * time.Second, true},
	} {
		got, ok := retryAfter(tc.hs, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%v) = %v, %v; want %v, %v", tc.hs, got, ok, tc.want, tc.ok)
		}
	}
}

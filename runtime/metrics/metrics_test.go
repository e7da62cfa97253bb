package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// message is every count one async message makes on its way when it is
// delivered at the first attempt: the ingress's and the worker's.
func message(r *Route) {
	r.Received()
	r.Ingested(300 * time.Microsecond)
	r.Started()
	r.Attempt(OutcomeSucceeded, 2*time.Millisecond)
	r.Finished()
	r.Completed(StatusSucceeded, 5*time.Millisecond)
}

// TestHotPathAllocs locks counting a message at zero allocations: the
// route's children are resolved at New.
func TestHotPathAllocs(t *testing.T) {
	r := New("test", []string{"a"}, []string{"p"}).Route("a")
	if allocs := testing.AllocsPerRun(1000, func() { message(r) }); allocs != 0 {
		t.Fatalf("counting a message: %v allocs, want 0", allocs)
	}
}

func TestCounts(t *testing.T) {
	m := New("test", []string{"a", "b"}, []string{"p"})
	a := m.Route("a")
	for range 3 {
		message(a)
	}
	a.Rejected("rate_limited")
	a.Rejected("rate_limited")
	a.Attempt("destination_timeout", time.Second)
	a.Retried()
	a.Completed(StatusDead, time.Minute)
	m.Unknown().Received()
	m.Unknown().Rejected("route_not_found")
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"received a", testutil.ToFloat64(m.received.WithLabelValues("a")), 3},
		{"received b", testutil.ToFloat64(m.received.WithLabelValues("b")), 0},
		{"received unknown", testutil.ToFloat64(m.received.WithLabelValues(UnknownRoute)), 1},
		{"rejected", testutil.ToFloat64(m.rejected.WithLabelValues("a", "rate_limited")), 2},
		{"rejected unknown", testutil.ToFloat64(m.rejected.WithLabelValues(UnknownRoute, "route_not_found")), 1},
		{"succeeded", testutil.ToFloat64(m.completed.WithLabelValues("a", StatusSucceeded)), 3},
		{"dead", testutil.ToFloat64(m.completed.WithLabelValues("a", StatusDead)), 1},
		{"attempts ok", testutil.ToFloat64(m.attempts.WithLabelValues("a", OutcomeSucceeded)), 3},
		{"attempts timeout", testutil.ToFloat64(m.attempts.WithLabelValues("a", "destination_timeout")), 1},
		{"retries", testutil.ToFloat64(m.retries.WithLabelValues("a")), 1},
		{"inflight", testutil.ToFloat64(m.inflight.WithLabelValues("a")), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if m.Route("c") != nil {
		t.Fatal("a route the config does not have has metrics")
	}
}

// TestNil: a driver without metrics calls the same methods on nil.
func TestNil(t *testing.T) {
	var m *Metrics
	message(m.Route("a"))
	m.Unknown().Rejected("x")
}

// BenchmarkMessage is the cost of counting one message (every hook on its
// way), from as many goroutines as GOMAXPROCS. Compare it with the time
// the ingest path spends on a message (cmd/sluice BenchmarkIngestAsync):
// the ratio is the hot path's cost of metrics.
func BenchmarkMessage(b *testing.B) {
	r := New("test", []string{"a"}, []string{"p"}).Route("a")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			message(r)
		}
	})
}

// BenchmarkIngressHooks is what the ingress adds to an accepted request:
// received and the ingest duration.
func BenchmarkIngressHooks(b *testing.B) {
	r := New("test", []string{"a"}, []string{"p"}).Route("a")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			r.Received()
			r.Ingested(time.Since(start))
		}
	})
}

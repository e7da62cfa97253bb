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

// TestWatchers: the gauges read at scrape time report what their sources
// say when gathered, and the listener's refusals count under ListenerRoute.
func TestWatchers(t *testing.T) {
	m := New("test", []string{"a", "b"}, []string{"p"})
	oldest := map[string]time.Time{"a": time.Now().Add(-90 * time.Second)}
	m.WatchOldest(func(route string) time.Time { return oldest[route] })
	instances := int64(3)
	m.WatchPlugins(func(plugin string) int64 {
		if plugin != "p" {
			t.Errorf("instances of %q", plugin)
		}
		return instances
	})
	m.Listener().Rejected("too_many_connections")
	got := map[string]float64{}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range s.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case s.GetGauge() != nil:
				got[key] = s.GetGauge().GetValue()
			case s.GetCounter() != nil:
				got[key] = s.GetCounter().GetValue()
			}
		}
	}
	if a := got["sluice_backlog_oldest_age_seconds,route=a"]; a < 90 || a > 90+60 {
		t.Errorf("oldest age of a = %v, want about 90", a)
	}
	if b, ok := got["sluice_backlog_oldest_age_seconds,route=b"]; !ok || b != 0 {
		t.Errorf("oldest age of b = %v (present %v), want 0", b, ok)
	}
	if _, ok := got["sluice_backlog_oldest_age_seconds,route=_listener"]; ok {
		t.Error("the listener has a backlog gauge")
	}
	if n := got["sluice_plugin_instances,plugin=p"]; n != 3 {
		t.Errorf("instances = %v, want 3", n)
	}
	if n := got["sluice_messages_rejected_total,code=too_many_connections,route=_listener"]; n != 1 {
		t.Errorf("listener refusals = %v, want 1", n)
	}
}

//go:build !race

// The race detector's instrumentation allocates on its own, so these exact
// counts hold only without it: this file is not built under -race.

package ingress

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/metrics"
	"github.com/sluicehq/sluice/runtime/results"
	"github.com/valyala/fasthttp"
)

// outcome is a typical final outcome of a sync route: one transform, one
// attempt, the destination's 1 KiB JSON answer.
func outcome() *results.Outcome {
	return &results.Outcome{Succeeded: true, Plugins: []string{"upper@0123abcd"},
		Response: &results.Response{Status: 200, Headers: []results.Header{{Name: "Content-Type", Value: "application/json"}},
			Body: make([]byte, 1024)},
		Attempts: []results.Attempt{{At: time.Now(), Status: 200, Latency: time.Millisecond}},
		Hops:     1, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}
}

// TestOutcomeEncodeAllocs locks the payload encoding of every completed
// message at zero allocations when the buffer is reused: it appends only.
func TestOutcomeEncodeAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  *results.Outcome
	}{
		{"response", outcome()},
		{"error", &results.Outcome{Plugins: []string{"p@0123abcd"},
			Error: &results.Error{Code: "trap", Message: "sluice_transform trapped: unreachable", Stage: "transform", Plugin: "p"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := tc.out.Encode(nil)
			if allocs := testing.AllocsPerRun(1000, func() { buf = tc.out.Encode(buf[:0]) }); allocs != 0 {
				t.Fatalf("Outcome.Encode into a reused buffer: %v allocs, want 0", allocs)
			}
		})
	}
}

// TestWriteAllocs locks the allocations of the answers on the ingest path,
// written into a reused fasthttp response.
func TestWriteAllocs(t *testing.T) {
	const id = "0192f0c4-1b2c-7d3e-8f40-123456789abc"
	out := outcome()
	for _, tc := range []struct {
		name  string
		write func(ctx *fasthttp.RequestCtx)
		want  float64
	}{
		// A sync route's reply: fasthttp copies the destination's status,
		// headers and body into its own reused buffers.
		{"outcome", func(ctx *fasthttp.RequestCtx) { writeOutcome(ctx, id, out) }, 0},
		// The 202 of every async message: the Location value and the body
		// are built by string concatenation, one allocation each.
		{"accepted", func(ctx *fasthttp.RequestCtx) { writeAccepted(ctx, id) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			tc.write(&ctx) // warm up the response's buffers
			allocs := testing.AllocsPerRun(1000, func() {
				ctx.Response.Reset()
				tc.write(&ctx)
			})
			if allocs != tc.want {
				t.Fatalf("%s: %v allocs, want %v", tc.name, allocs, tc.want)
			}
		})
	}
}

func TestKeepHeaderAllocs(t *testing.T) {
	names := [][]byte{[]byte("Content-Length"), []byte("X-Customer-Id"), []byte("Connection"), []byte("Content-Type")}
	want := []bool{false, true, false, true}
	for i, n := range names {
		if keepHeader(n) != want[i] {
			t.Fatalf("keepHeader(%s) = %v", n, !want[i])
		}
	}
	if allocs := testing.AllocsPerRun(1000, func() {
		for _, n := range names {
			keepHeader(n)
		}
	}); allocs != 0 {
		t.Fatalf("keepHeader: %v allocs, want 0", allocs)
	}
}

// TestCountAllocs locks the metrics of an accepted message at zero
// allocations: the route's counters are resolved when the config loads.
func TestCountAllocs(t *testing.T) {
	m := metrics.New("test", []string{"a"}, []string{"p"})
	s := New(Options{Routes: []Route{{Name: "a", Metrics: m.Route("a")}}, Metrics: m})
	var ctx fasthttp.RequestCtx
	writeAccepted(&ctx, "0192f0c4-1b2c-7d3e-8f40-123456789abc")
	name := []byte("a")
	if allocs := testing.AllocsPerRun(1000, func() { s.count(&ctx, name, time.Now()) }); allocs != 0 {
		t.Fatalf("counting an accepted message: %v allocs, want 0", allocs)
	}
}

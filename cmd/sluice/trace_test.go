package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/tracectx"
)

// traceOf parses the traceparent a destination received.
func traceOf(t *testing.T, h http.Header) tracectx.Context {
	t.Helper()
	v := h.Get("Traceparent")
	c, ok := tracectx.Parse(v)
	if !ok || len(v) != 55 {
		t.Fatalf("the destination got no valid traceparent: %q (%v)", v, h)
	}
	return c
}

// TestTraceContextReachesTheDestination sends messages through the real
// server to a real destination: a sender's W3C traceparent continues (same
// trace id, a new span id, its tracestate passed on), an invalid one or none
// starts a trace, and the result document carries the trace id.
func TestTraceContextReachesTheDestination(t *testing.T) {
	dest := newDestination(t, nil)
	ts := startServer(t, withRepo(`
routes:
  - name: s
    mode: sync
    destination: {url: `+dest.URL+`}
`), t.TempDir())

	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	for _, tc := range []struct {
		name, traceparent, tracestate string
		keep                          bool // the sender's trace continues
	}{
		{"continued", "00-" + traceID + "-" + parent + "-01", "vendor=abc,other=x", true},
		{"later version", "01-" + traceID + "-" + parent + "-01-extra", "vendor=abc", true},
		{"upper case", "00-" + strings.ToUpper(traceID) + "-" + parent + "-01", "vendor=abc", false},
		{"zero trace id", "00-" + strings.Repeat("0", 32) + "-" + parent + "-01", "vendor=abc", false},
		{"version ff", "ff-" + traceID + "-" + parent + "-01", "", false},
		{"too long", "00-" + traceID + "-" + parent + "-01-", "", false},
		{"none", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(dest.all())
			var hdr []string
			if tc.traceparent != "" {
				hdr = append(hdr, "traceparent", tc.traceparent)
			}
			if tc.tracestate != "" {
				hdr = append(hdr, "tracestate", tc.tracestate)
			}
			r := ts.post("s", `{"n":1}`, hdr...)
			if r.status != 201 {
				t.Fatalf("POST: %d %s", r.status, r.body)
			}
			got := dest.all()
			if len(got) != n+1 {
				t.Fatalf("the destination got %d requests, want 1", len(got)-n)
			}
			c := traceOf(t, got[n].header)
			switch {
			case tc.keep && (c.TraceIDString() != traceID || c.SpanIDString() == parent || !c.Sampled()):
				t.Fatalf("traceparent %q: want trace %s with a new span id, sampled", got[n].header.Get("Traceparent"), traceID)
			case tc.keep && got[n].header.Get("Tracestate") != tc.tracestate:
				t.Fatalf("tracestate %q, want %q passed on", got[n].header.Get("Tracestate"), tc.tracestate)
			case !tc.keep && (c.TraceIDString() == traceID || got[n].header.Get("Tracestate") != ""):
				t.Fatalf("an invalid or missing traceparent must start a new trace without tracestate: %v", got[n].header)
			}
			res := ts.waitFinal(r.header.Get("Sluice-Correlation-Id"))
			if res["trace_id"] != c.TraceIDString() {
				t.Fatalf("result trace_id %v, want %s", res["trace_id"], c.TraceIDString())
			}
		})
	}
}

// TestTraceContextAcrossRetries: an async message keeps its trace through
// the log and every attempt; each attempt is a new span of the same trace.
func TestTraceContextAcrossRetries(t *testing.T) {
	f := &flaky{script: map[string][]int{"twice": {500, 503}}, seen: map[string]int{}}
	dest := newDestination(t, f.respond)
	ts := startServer(t, withRepo(`
routes:
  - name: r
    mode: async
    destination: {url: `+dest.URL+`}
    retry: {max_attempts: 3, initial_backoff: 20ms, max_backoff: 100ms}
`), t.TempDir())
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	r := ts.post("r", "twice", "traceparent", "00-"+traceID+"-b7ad6b7169203331-00", "tracestate", "congo=t61rcWkgMzE")
	if r.status != 202 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	res := ts.waitFinal(r.json(t)["correlation_id"].(string))
	if res["status"] != "succeeded" || res["trace_id"] != traceID {
		t.Fatalf("want succeeded with trace_id %s: %v", traceID, res)
	}
	got := dest.all()
	if len(got) != 3 {
		t.Fatalf("the destination got %d attempts, want 3", len(got))
	}
	spans := map[string]bool{"b7ad6b7169203331": true}
	for i, g := range got {
		c := traceOf(t, g.header)
		if c.TraceIDString() != traceID || c.Sampled() || g.header.Get("Tracestate") != "congo=t61rcWkgMzE" {
			t.Fatalf("attempt %d: traceparent %q tracestate %q, want trace %s, not sampled, tracestate kept",
				i+1, g.header.Get("Traceparent"), g.header.Get("Tracestate"), traceID)
		}
		if spans[c.SpanIDString()] {
			t.Fatalf("attempt %d reuses span id %s: each attempt is a new span", i+1, c.SpanIDString())
		}
		spans[c.SpanIDString()] = true
	}
}

// TestTraceContextSurvivesARestart: a trace the ingress started is stored
// with the message; the attempt after a restart is in the same trace.
func TestTraceContextSurvivesARestart(t *testing.T) {
	f := &flaky{script: map[string][]int{"later": {503}}, headers: map[int]http.Header{503: {"Retry-After": {"1"}}},
		seen: map[string]int{}}
	dest := newDestination(t, f.respond)
	data := t.TempDir()
	yaml := withRepo(`
routes:
  - name: r
    mode: async
    destination: {url: ` + dest.URL + `}
    retry: {max_attempts: 3, initial_backoff: 20ms, max_backoff: 100ms}
`)
	ts := startServer(t, yaml, data)
	r := ts.post("r", "later") // no traceparent: the ingress starts the trace
	if r.status != 202 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	id := r.json(t)["correlation_id"].(string)
	deadline := time.Now().Add(60 * time.Second)
	for ts.do("GET", "/v1/results/"+id, "", nil).json(t)["status"] != "retrying" {
		if time.Now().After(deadline) {
			t.Fatal("the first attempt never failed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ts.stop()
	ts = startServer(t, yaml, data)
	res := ts.waitFinal(id)
	got := dest.all()
	if res["status"] != "succeeded" || len(got) != 2 {
		t.Fatalf("want 2 attempts, then succeeded: %d attempts, %v", len(got), res)
	}
	before, after := traceOf(t, got[0].header), traceOf(t, got[1].header)
	if before.TraceID != after.TraceID || before.SpanID == after.SpanID || res["trace_id"] != after.TraceIDString() {
		t.Fatalf("across the restart: traceparent %q then %q, result trace_id %v: want one trace, two spans",
			got[0].header.Get("Traceparent"), got[1].header.Get("Traceparent"), res["trace_id"])
	}
}

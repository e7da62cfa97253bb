package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/tracectx"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is a real OTLP/HTTP trace receiver: it decodes the protobuf
// export requests it is sent (ExportTraceServiceRequest is TracesData on
// the wire: resource_spans = 1) and keeps the spans.
type otlpReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []*tracepb.Span
	requests int
	bad      []string
	status   int // the answer; 0: 200
}

func newOTLPReceiver(t *testing.T, status int) *otlpReceiver {
	o := &otlpReceiver{status: status}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		o.mu.Lock()
		defer o.mu.Unlock()
		o.requests++
		var req tracepb.TracesData
		if err := proto.Unmarshal(body, &req); err != nil || r.URL.Path != "/v1/traces" ||
			r.Header.Get("Content-Type") != "application/x-protobuf" || r.Header.Get("X-Collector-Key") != "k-123" {
			o.bad = append(o.bad, fmt.Sprintf("%s %s %v", r.URL.Path, r.Header, err))
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		if o.status != 0 {
			w.WriteHeader(o.status)
			return
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				o.spans = append(o.spans, ss.Spans...)
			}
		}
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *otlpReceiver) got() (spans []*tracepb.Span, requests int, bad []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*tracepb.Span(nil), o.spans...), o.requests, append([]string(nil), o.bad...)
}

// tracingConfig is the tracing block pointing at o.
func (o *otlpReceiver) tracingConfig(ratio string) string {
	return fmt.Sprintf("tracing: {otlp_endpoint: %s, sample_ratio: %s, service_name: sluice-test, headers: {X-Collector-Key: k-123}}\n", o.URL, ratio)
}

// spawnTraced writes yaml and starts the real binary with it.
func spawnTraced(t *testing.T, yaml string) *process {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+filepath.Join(dir, "data")+"\nwasm_cache_dir: "+wasmCache+"\n"+yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p := spawn(t, bin, cfg, freeAddr(t))
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.kill9()
		}
	})
	return p
}

// post sends body to route with the headers (name, value pairs).
func (p *process) post(route, body string, hdr ...string) (int, http.Header, map[string]any) {
	p.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+p.addr+"/in/"+route, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, resp.Header, v
}

// waitFinal polls a result until it is final.
func (p *process) waitFinal(id string) map[string]any {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + p.addr + "/v1/results/" + id)
		if err != nil {
			p.t.Fatal(err)
		}
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if s := v["status"]; s == "succeeded" || s == "failed" || s == "dead" {
			return v
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("result %s not final: %v", id, v)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// terminate sends SIGTERM and waits for a clean exit; then p.logs is safe
// to read.
func (p *process) terminate() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			p.t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs)
		}
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		p.t.Fatalf("sluice did not exit after SIGTERM\n%s", p.logs)
	}
}

func spanHex(b []byte) string { return hex.EncodeToString(b) }

func attr(s *tracepb.Span, key string) any {
	for _, a := range s.Attributes {
		if a.Key == key {
			switch v := a.Value.Value.(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue
			case *commonpb.AnyValue_IntValue:
				return v.IntValue
			}
		}
	}
	return nil
}

// inTrace returns the spans of a trace by name, in the order received.
func inTrace(spans []*tracepb.Span, traceID string) map[string][]*tracepb.Span {
	m := map[string][]*tracepb.Span{}
	for _, s := range spans {
		if spanHex(s.TraceId) == traceID {
			m[s.Name] = append(m[s.Name], s)
		}
	}
	return m
}

// TestSpansExportedOverOTLP runs the real binary with tracing on against a
// real OTLP/HTTP receiver. A sync message through a transform and an async
// message that is retried once and called back: every stage is a span of
// the sender's trace under the ingest span, the destination's (and the
// callback's) traceparent names the span that called it, and the spans
// still queued when SIGTERM arrives are sent before the process exits.
func TestSpansExportedOverOTLP(t *testing.T) {
	rcv := newOTLPReceiver(t, 0)
	f := &flaky{script: map[string][]int{`{"n":2}`: {503}}, seen: map[string]int{}}
	dest := newDestination(t, f.respond)
	cb := newDestination(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(204) })
	p := spawnTraced(t, withRepo(rcv.tracingConfig("1")+`
plugins:
  - name: upper
    path: {{REPO}}/runtime/wasm/testdata/upper.wasm
  - name: echo
    path: {{REPO}}/runtime/wasm/testdata/echo.wasm
  - name: reply
    path: {{REPO}}/runtime/wasm/testdata/reply.wasm
routes:
  - name: s
    mode: sync
    validate: {plugins: [echo]}
    transforms: [upper]
    reply_transforms: [reply]
    destination: {url: '`+dest.URL+`/hook?token=s3cret'}
  - name: a
    mode: async
    destination: {url: `+dest.URL+`}
    retry: {max_attempts: 3, initial_backoff: 20ms, max_backoff: 100ms}
    callback: {url: `+cb.URL+`}
`))
	const (
		syncTrace, syncParent   = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
		asyncTrace, asyncParent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	)
	status, _, _ := p.post("s", `{"n":1}`, "traceparent", "00-"+syncTrace+"-"+syncParent+"-01", "tracestate", "v=1")
	if status != 200 && status != 201 {
		t.Fatalf("sync POST: %d", status)
	}
	status, _, body := p.post("a", `{"n":2}`, "traceparent", "00-"+asyncTrace+"-"+asyncParent+"-01")
	if status != 202 {
		t.Fatalf("async POST: %d %v", status, body)
	}
	res := p.waitFinal(body["correlation_id"].(string))
	if res["status"] != "succeeded" || res["trace_id"] != asyncTrace {
		t.Fatalf("async result: %v", res)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(cb.all()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no callback")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.terminate() // the spans are still in their batch: the shutdown sends them
	spans, _, bad := rcv.got()
	if len(bad) > 0 {
		t.Fatalf("the receiver refused exports: %v", bad)
	}

	// The destination saw each call's span id as the traceparent's parent-id.
	calls := map[string]tracectx.Context{}
	for _, g := range dest.all() {
		c := traceOf(t, g.header)
		calls[c.SpanIDString()] = c
	}

	sync := inTrace(spans, syncTrace)
	ingest := one(t, sync, "ingest s")
	if spanHex(ingest.ParentSpanId) != syncParent || ingest.Kind != tracepb.Span_SPAN_KIND_SERVER || ingest.TraceState != "v=1" ||
		attr(ingest, "sluice.route") != "s" || attr(ingest, "http.request.method") != "POST" || attr(ingest, "http.request.body.size") != int64(7) ||
		ingest.StartTimeUnixNano == 0 || ingest.EndTimeUnixNano < ingest.StartTimeUnixNano {
		t.Fatalf("sync ingest span: %v", ingest)
	}
	in := spanHex(ingest.SpanId)
	for _, name := range []string{"queue wait s", "plugin upper", "plugin reply", "plugin echo", "POST"} {
		if s := one(t, sync, name); spanHex(s.ParentSpanId) != in {
			t.Fatalf("span %q: parent %s, want the ingest span %s", name, spanHex(s.ParentSpanId), in)
		}
	}
	if pl := one(t, sync, "plugin upper"); attr(pl, "sluice.plugin.name") != "upper" || !strings.HasPrefix(attr(pl, "sluice.plugin.version").(string), "upper@") ||
		attr(pl, "sluice.plugin.fuel_used") == nil || attr(pl, "sluice.plugin.fuel_used").(int64) <= 0 {
		t.Fatalf("plugin span: %v", pl)
	}
	for name, stage := range map[string]string{"plugin upper": "transform", "plugin reply": "reply", "plugin echo": "validate"} {
		if pl := one(t, sync, name); attr(pl, "sluice.plugin.stage") != stage {
			t.Fatalf("span %q: stage %v, want %s", name, attr(pl, "sluice.plugin.stage"), stage)
		}
	}
	d := one(t, sync, "POST")
	if _, ok := calls[spanHex(d.SpanId)]; !ok || d.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Fatalf("the destination span %s is not the traceparent the destination got (%v)", spanHex(d.SpanId), calls)
	}
	if attr(d, "url.full") != dest.URL+"/hook" || attr(d, "http.response.status_code") != int64(200) || attr(d, "server.address") != "127.0.0.1" {
		t.Fatalf("destination span attributes (the query stays out of url.full): %v", d.Attributes)
	}

	async := inTrace(spans, asyncTrace)
	ingest = one(t, async, "ingest a")
	if spanHex(ingest.ParentSpanId) != asyncParent || attr(ingest, "http.response.status_code") != int64(202) {
		t.Fatalf("async ingest span: %v", ingest)
	}
	in = spanHex(ingest.SpanId)
	if n := len(async["queue wait a"]); n != 2 {
		t.Fatalf("%d queue wait spans, want one per attempt", n)
	}
	var attempts, callbacks []*tracepb.Span
	for _, s := range async["POST"] {
		if attr(s, "sluice.hop") == "callback" {
			callbacks = append(callbacks, s)
		} else {
			attempts = append(attempts, s)
		}
	}
	if len(attempts) != 2 || len(callbacks) != 1 {
		t.Fatalf("%d destination spans and %d callback spans, want 2 and 1", len(attempts), len(callbacks))
	}
	for i, s := range append(attempts, callbacks...) {
		if spanHex(s.ParentSpanId) != in {
			t.Fatalf("client span %d: parent %s, want the ingest span %s", i, spanHex(s.ParentSpanId), in)
		}
	}
	for i, s := range attempts {
		if _, ok := calls[spanHex(s.SpanId)]; !ok {
			t.Fatalf("attempt %d's span %s is not a traceparent the destination got", i+1, spanHex(s.SpanId))
		}
	}
	if bytes.Equal(attempts[0].SpanId, attempts[1].SpanId) {
		t.Fatal("the retry reused the first attempt's span")
	}
	if attr(attempts[0], "error.type") != "503" || attempts[0].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || attr(attempts[1], "error.type") != nil {
		t.Fatalf("attempts: first must fail with 503, second succeed: %v / %v", attempts[0], attempts[1])
	}
	got := traceOf(t, cb.all()[0].header)
	if got.TraceIDString() != asyncTrace || got.SpanIDString() != spanHex(callbacks[0].SpanId) {
		t.Fatalf("the callback got traceparent %v, want the callback span %s of trace %s", got, spanHex(callbacks[0].SpanId), asyncTrace)
	}
}

func one(t *testing.T, byName map[string][]*tracepb.Span, name string) *tracepb.Span {
	t.Helper()
	if len(byName[name]) != 1 {
		names := []string{}
		for n, s := range byName {
			names = append(names, fmt.Sprintf("%s×%d", n, len(s)))
		}
		t.Fatalf("want one span %q, have %v", name, names)
	}
	return byName[name][0]
}

// TestSampleRatioZero: at sample_ratio 0 a new trace is not exported, but
// it still reaches the destination (propagation does not depend on
// export), and a sender's sampled trace is still followed (parent-based).
func TestSampleRatioZero(t *testing.T) {
	rcv := newOTLPReceiver(t, 0)
	dest := newDestination(t, nil)
	p := spawnTraced(t, rcv.tracingConfig("0")+`
routes:
  - {name: s, mode: sync, destination: {url: `+dest.URL+`}}
`)
	if status, _, _ := p.post("s", `{}`); status != 201 {
		t.Fatalf("POST: %d", status)
	}
	const sampled = "4bf92f3577b34da6a3ce929d0e0e4736"
	if status, _, _ := p.post("s", `{}`, "traceparent", "00-"+sampled+"-00f067aa0ba902b7-01"); status != 201 {
		t.Fatalf("POST: %d", status)
	}
	p.terminate()
	got := dest.all()
	if len(got) != 2 {
		t.Fatalf("the destination got %d requests", len(got))
	}
	fresh := traceOf(t, got[0].header)
	if fresh.Sampled() || fresh.TraceIDString() == sampled {
		t.Fatalf("the unsampled new trace reached the destination as %v", fresh)
	}
	spans, _, bad := rcv.got()
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	if len(inTrace(spans, fresh.TraceIDString())) != 0 {
		t.Fatal("a trace sampled out at ratio 0 was exported")
	}
	if tr := inTrace(spans, sampled); len(tr["ingest s"]) != 1 || len(tr["POST"]) != 1 || len(spans) != 3 {
		t.Fatalf("the sender's sampled trace: %d spans exported, want ingest, queue wait and the destination call", len(spans))
	}
}

// TestCollectorFailureDoesNotAffectMessages: a collector that answers 500,
// or none at all, costs the messages nothing; the failure is logged once
// (rate-limited), not per batch.
func TestCollectorFailureDoesNotAffectMessages(t *testing.T) {
	failing := newOTLPReceiver(t, http.StatusInternalServerError)
	down := newOTLPReceiver(t, 0)
	down.Close()
	for _, tc := range []struct {
		name string
		rcv  *otlpReceiver
	}{{"500", failing}, {"down", down}} {
		t.Run(tc.name, func(t *testing.T) {
			dest := newDestination(t, nil)
			p := spawnTraced(t, tc.rcv.tracingConfig("1")+`
routes:
  - {name: a, mode: async, destination: {url: `+dest.URL+`}}
`)
			var ids []string
			for i := range 20 {
				status, _, body := p.post("a", fmt.Sprintf(`{"n":%d}`, i))
				if status != 202 {
					t.Fatalf("POST: %d %v", status, body)
				}
				ids = append(ids, body["correlation_id"].(string))
			}
			for _, id := range ids {
				if res := p.waitFinal(id); res["status"] != "succeeded" {
					t.Fatalf("result %v", res)
				}
			}
			if tc.rcv == failing { // a batch before the shutdown's
				deadline := time.Now().Add(60 * time.Second)
				for _, n, _ := tc.rcv.got(); n == 0; _, n, _ = tc.rcv.got() {
					if time.Now().After(deadline) {
						t.Fatal("no export reached the collector")
					}
					time.Sleep(20 * time.Millisecond)
				}
				p.post("a", `{"n":"last"}`) // its spans go in the shutdown's batch
			}
			p.terminate()
			if len(dest.all()) < 20 {
				t.Fatalf("the destination got %d messages, want 20", len(dest.all()))
			}
			logs := p.logs.String()
			if n := strings.Count(logs, "exporting spans failed"); n != 1 {
				t.Fatalf("%d export warnings, want 1 (rate-limited):\n%s", n, logs)
			}
			if tc.rcv == failing {
				if _, n, _ := tc.rcv.got(); n < 2 {
					t.Fatalf("%d export requests, want at least 2 (one warning for both)", n)
				}
			}
		})
	}
}

// TestCallbackCarriesTraceparent: with span export off, a callback still
// goes out in the message's trace (a new span id), as deliveries do.
func TestCallbackCarriesTraceparent(t *testing.T) {
	dest := newDestination(t, nil)
	cb := newDestination(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(204) })
	ts := startServer(t, withRepo(`
routes:
  - name: a
    mode: async
    destination: {url: `+dest.URL+`}
    callback: {url: `+cb.URL+`}
`), t.TempDir())
	const traceID, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	r := ts.post("a", `{}`, "traceparent", "00-"+traceID+"-"+parent+"-01")
	if r.status != 202 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(cb.all()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no callback")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := traceOf(t, cb.all()[0].header)
	d := traceOf(t, dest.all()[0].header)
	if c.TraceIDString() != traceID || !c.Sampled() || c.SpanIDString() == parent || c.SpanID == d.SpanID {
		t.Fatalf("callback traceparent %q (destination's %q): want trace %s, sampled, a span of its own",
			cb.all()[0].header.Get("Traceparent"), dest.all()[0].header.Get("Traceparent"), traceID)
	}
}

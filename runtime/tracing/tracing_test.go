package tracing

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/tracectx"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an OTLP/HTTP receiver: it decodes what it is sent.
type collector struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	service  []string
	headers  []http.Header
	status   int // answer; 0: 200
	requests int
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	// ExportTraceServiceRequest is TracesData on the wire (resource_spans =
	// 1), and trace/v1 has no gRPC dependencies.
	var req tracepb.TracesData
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	c.headers = append(c.headers, r.Header.Clone())
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	if c.status != 0 {
		w.WriteHeader(c.status)
		return
	}
	for _, rs := range req.ResourceSpans {
		for _, a := range rs.Resource.Attributes {
			if a.Key == "service.name" {
				c.service = append(c.service, a.Value.GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
}

func (c *collector) got() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...)
}

func TestExportDecodes(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	var dropped sync.Map
	tr := New(Options{URL: srv.URL + "/v1/traces", SampleRatio: 1, Service: "edge", Version: "v9",
		Headers: map[string]string{"X-Api-Key": "k1"}, Interval: time.Hour,
		Dropped: func(reason string, n int) { dropped.Store(reason, n) }})
	parent, _ := tracectx.Parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	root := tr.Start(parent, true)
	if root.TraceID != parent.TraceID || root.SpanID == parent.SpanID || !root.Sampled() {
		t.Fatalf("Start(parent) = %+v", root)
	}
	start := time.Unix(1700000000, 5)
	tr.Record(&Span{Context: root, Parent: parent.SpanID, RemoteParent: true, State: "a=b", Name: "ingest", Kind: KindServer,
		Start: start, End: start.Add(time.Millisecond), Attrs: []Attr{String("sluice.route", "orders"), Int("http.response.status_code", 202)}})
	child := root.Child()
	tr.Record(&Span{Context: child, Parent: root.SpanID, Name: "POST", Kind: KindClient, Start: start, End: start.Add(2 * time.Millisecond), Err: "boom"})
	unsampled := root
	unsampled.Flags = 0
	tr.Record(&Span{Context: unsampled.Child(), Name: "not sampled"})
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := col.got()
	if len(spans) != 2 {
		t.Fatalf("collector got %d spans, want 2", len(spans))
	}
	in, out := spans[0], spans[1]
	if hex.EncodeToString(in.TraceId) != "4bf92f3577b34da6a3ce929d0e0e4736" || !bytes.Equal(in.ParentSpanId, parent.SpanID[:]) ||
		!bytes.Equal(in.SpanId, root.SpanID[:]) || in.Name != "ingest" || in.Kind != tracepb.Span_SPAN_KIND_SERVER ||
		in.TraceState != "a=b" || in.StartTimeUnixNano != uint64(start.UnixNano()) || in.EndTimeUnixNano != uint64(start.Add(time.Millisecond).UnixNano()) ||
		in.Flags != 0x301 {
		t.Fatalf("ingest span = %v", in)
	}
	if len(in.Attributes) != 2 || in.Attributes[0].Key != "sluice.route" || in.Attributes[0].Value.GetStringValue() != "orders" ||
		in.Attributes[1].Value.GetIntValue() != 202 {
		t.Fatalf("ingest attributes = %v", in.Attributes)
	}
	if !bytes.Equal(out.ParentSpanId, root.SpanID[:]) || out.Kind != tracepb.Span_SPAN_KIND_CLIENT ||
		out.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || out.Status.GetMessage() != "boom" {
		t.Fatalf("client span = %v", out)
	}
	if col.service[0] != "edge" || col.headers[0].Get("X-Api-Key") != "k1" {
		t.Fatalf("service %v, headers %v", col.service, col.headers[0])
	}
	if _, ok := dropped.Load(DroppedExportFailed); ok {
		t.Fatal("a span was counted dropped")
	}
}

func TestSampling(t *testing.T) {
	for _, ratio := range []float64{0, 0.25, 1} {
		tr := &Tracer{bound: ratioBound(ratio)}
		n := 0
		const runs = 20000
		for range runs {
			if tr.Start(tracectx.Context{}, false).Sampled() {
				n++
			}
		}
		if got := float64(n) / runs; got < ratio-0.02 || got > ratio+0.02 {
			t.Errorf("ratio %v: sampled %v of new traces", ratio, got)
		}
	}
	// A parent's flag wins over the ratio.
	tr := &Tracer{bound: ratioBound(0)}
	p := tracectx.New()
	p.Flags = 1
	if !tr.Start(p, true).Sampled() {
		t.Error("a sampled parent's child is not sampled at ratio 0")
	}
	tr.bound = ratioBound(1)
	p.Flags = 0
	if tr.Start(p, true).Sampled() {
		t.Error("an unsampled parent's child is sampled at ratio 1")
	}
}

func TestFailedExportIsCountedAndNeverBlocks(t *testing.T) {
	col := &collector{status: http.StatusInternalServerError}
	srv := httptest.NewServer(col)
	defer srv.Close()
	var mu sync.Mutex
	counts := map[string]int{}
	tr := New(Options{URL: srv.URL + "/v1/traces", SampleRatio: 1, Service: "sluice", QueueSize: 4, BatchSize: 2, Interval: time.Hour,
		Dropped: func(reason string, n int) { mu.Lock(); counts[reason] += n; mu.Unlock() }})
	c := tracectx.New()
	c.Flags = 1
	for range 1000 { // never blocks, whatever the collector does
		tr.Record(&Span{Context: c.Child(), Name: "x"})
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if counts[DroppedQueueFull]+counts[DroppedExportFailed] != 1000 || counts[DroppedExportFailed] == 0 {
		t.Fatalf("dropped = %v, want 1000 in all, some failed exports", counts)
	}
}

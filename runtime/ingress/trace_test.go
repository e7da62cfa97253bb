package ingress

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/tracectx"
)

func TestTraceHeaders(t *testing.T) {
	const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	base := []queue.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "X-Customer", Value: "7"}}
	with := func(hs ...queue.Header) []queue.Header { return append(append([]queue.Header(nil), base...), hs...) }
	traceparent := func(hs []queue.Header) (tracectx.Context, string, bool) {
		h := messageHeaders(hs)
		return tracectx.From(h)
	}

	// A valid one is kept as it came, tracestate with it.
	in := with(queue.Header{Name: "Traceparent", Value: valid}, queue.Header{Name: "Tracestate", Value: "a=1"})
	out := traceHeaders(in)
	if c, st, ok := traceparent(out); !ok || c.String() != valid || st != "a=1" || len(out) != 4 {
		t.Fatalf("valid traceparent not kept: %v", out)
	}
	// An invalid one is replaced by a new trace; its tracestate goes.
	out = traceHeaders(with(queue.Header{Name: "traceparent", Value: "00-zz"}, queue.Header{Name: "tracestate", Value: "a=1"}))
	if c, st, ok := traceparent(out); !ok || c.String() == valid || st != "" || len(out) != 3 {
		t.Fatalf("invalid traceparent: want a new trace without tracestate: %v", out)
	}
	// None: a new trace.
	out = traceHeaders(with())
	if _, _, ok := traceparent(out); !ok || len(out) != 3 {
		t.Fatalf("no traceparent: want a new trace: %v", out)
	}
}

// messageHeaders looks stored headers up by name for the test.
type messageHeaders []queue.Header

func (h messageHeaders) Header(name string) (string, bool) {
	for _, x := range h {
		if strings.EqualFold(x.Name, name) {
			return x.Value, true
		}
	}
	return "", false
}

// BenchmarkTraceHeaders is what trace context costs a message at the
// ingress: checking the sender's traceparent, or starting a trace.
func BenchmarkTraceHeaders(b *testing.B) {
	const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	base := []queue.Header{{Name: "Host", Value: "x"}, {Name: "Content-Type", Value: "application/json"},
		{Name: "User-Agent", Value: "fasthttp"}}
	for _, tc := range []struct {
		name string
		hs   []queue.Header
	}{
		{"new trace", base},
		{"sender's trace", append(append([]queue.Header(nil), base...), queue.Header{Name: "traceparent", Value: valid})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]queue.Header, 0, 8)
			for b.Loop() {
				buf = traceHeaders(append(buf[:0], tc.hs...))
			}
		})
	}
}

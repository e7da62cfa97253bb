package worker

import (
	"strings"

	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/dispatch"
	"github.com/sluicehq/sluice/runtime/tracectx"
)

// TraceID is the trace a message belongs to (lower-case hex), from the
// traceparent the ingress stored with it; empty for a message stored
// before Sluice kept trace context.
func TraceID(m *queue.Message) string {
	hs := messageHeaders(m.Headers)
	c, _, ok := tracectx.From(&hs)
	if !ok {
		return ""
	}
	return c.TraceIDString()
}

// traceHeaders sets a destination call's traceparent: the message's trace
// with a new span id (each attempt is a new span), and passes its
// tracestate on. A message without a stored trace context (from before
// Sluice kept one) goes out with a new trace. Set last, so neither
// forward_headers, destination headers nor a transform can break the
// trace.
func traceHeaders(hs []dispatch.Header, msg tracectx.Header) []dispatch.Header {
	c, state, ok := tracectx.From(msg)
	if !ok {
		c = tracectx.New()
	}
	hs = setHeader(hs, tracectx.TraceparentHeader, c.Child().String())
	if state != "" {
		hs = setHeader(hs, tracectx.TracestateHeader, state)
	} else {
		hs = deleteHeader(hs, tracectx.TracestateHeader)
	}
	return hs
}

func deleteHeader(hs []dispatch.Header, name string) []dispatch.Header {
	kept := hs[:0]
	for _, h := range hs {
		if !strings.EqualFold(h.Name, name) {
			kept = append(kept, h)
		}
	}
	return kept
}

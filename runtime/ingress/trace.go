package ingress

import (
	"strings"
	"time"

	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/tracectx"
	"github.com/sluicehq/sluice/runtime/tracing"
	"github.com/valyala/fasthttp"
)

// traceHeaders keeps a valid traceparent (and its tracestate) in a
// message's stored headers, or starts a trace: a missing or invalid
// traceparent is replaced by a new one and the tracestate that came with an
// invalid one is dropped (W3C Trace Context). Stored with the message, the
// trace survives the async hop, retries and restarts.
func traceHeaders(hs []queue.Header) []queue.Header {
	for _, h := range hs {
		if strings.EqualFold(h.Name, tracectx.TraceparentHeader) {
			if _, ok := tracectx.Parse(strings.TrimSpace(h.Value)); ok {
				return hs
			}
			break
		}
	}
	kept := hs[:0]
	for _, h := range hs {
		if !strings.EqualFold(h.Name, tracectx.TraceparentHeader) && !strings.EqualFold(h.Name, tracectx.TracestateHeader) {
			kept = append(kept, h)
		}
	}
	return append(kept, queue.Header{Name: tracectx.TraceparentHeader, Value: tracectx.New().String()})
}

// ingestSpan is what the ingress learns about a request's span while it
// handles it; used only when tracing is on (Options.Tracer).
type ingestSpan struct {
	ctx      tracectx.Context // the ingest span; zero until decided
	parent   tracectx.Context // the sender's span, when remote
	remote   bool             // the request came with a valid traceparent
	state    string           // its tracestate
	acked    time.Time        // the durable append returned
	bodySize int
}

// spanHeaders is traceHeaders with tracing on: the ingest span is a child of
// the sender's span (or the root of a new trace, sampled at the configured
// ratio), and the message keeps the ingest span's traceparent, so that the
// spans of its later stages are the ingest span's children.
func (s *Server) spanHeaders(hs []queue.Header, sp *ingestSpan) []queue.Header {
	at := -1
	for i, h := range hs {
		if strings.EqualFold(h.Name, tracectx.TraceparentHeader) {
			sp.parent, sp.remote = tracectx.Parse(strings.TrimSpace(h.Value))
			at = i
			break
		}
	}
	kept := hs[:0]
	for i, h := range hs {
		switch {
		case i == at:
		case strings.EqualFold(h.Name, tracectx.TracestateHeader):
			if sp.remote {
				sp.state = h.Value
				kept = append(kept, h)
			}
		case !strings.EqualFold(h.Name, tracectx.TraceparentHeader):
			kept = append(kept, h)
		}
	}
	sp.ctx = s.opts.Tracer.Start(sp.parent, sp.remote)
	return append(kept, queue.Header{Name: tracectx.TraceparentHeader, Value: sp.ctx.String()})
}

// recordIngest records the ingest span of a request to /in/{route}: from
// the request to the durable append's acknowledgement (or to the answer,
// for a request refused before that).
func (s *Server) recordIngest(ctx *fasthttp.RequestCtx, route []byte, start time.Time, sp *ingestSpan) {
	if sp.ctx == (tracectx.Context{}) { // refused before the message was built
		v := ctx.Request.Header.Peek(tracectx.TraceparentHeader)
		sp.parent, sp.remote = tracectx.Parse(strings.TrimSpace(string(v)))
		if sp.remote {
			sp.state = string(ctx.Request.Header.Peek(tracectx.TracestateHeader))
		}
		sp.ctx = s.opts.Tracer.Start(sp.parent, sp.remote)
	}
	if !sp.ctx.Sampled() {
		return
	}
	end := sp.acked
	if end.IsZero() {
		end = time.Now()
	}
	span := &tracing.Span{Context: sp.ctx, RemoteParent: sp.remote, State: sp.state, Name: "ingest", Kind: tracing.KindServer,
		Start: start, End: end}
	if sp.remote {
		span.Parent = sp.parent.SpanID
	}
	if r := s.routes[string(route)]; r != nil { // a route from the config: span names stay few
		span.Name = "ingest " + r.Name
		span.Attrs = append(span.Attrs, tracing.String("sluice.route", r.Name))
	}
	status := ctx.Response.StatusCode()
	span.Attrs = append(span.Attrs,
		tracing.String("sluice.correlation_id", string(ctx.Response.Header.Peek("Sluice-Correlation-Id"))),
		tracing.String("http.request.method", string(ctx.Method())),
		tracing.Int("http.request.body.size", int64(max(sp.bodySize, ctx.Request.Header.ContentLength(), 0))),
		tracing.Int("http.response.status_code", int64(status)))
	if status >= 400 {
		code := string(ctx.Response.Header.Peek("Sluice-Error-Code"))
		span.Err = code
		span.Attrs = append(span.Attrs, tracing.String("error.type", code))
	}
	s.opts.Tracer.Record(span)
}

package worker

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/dispatch"
	"github.com/sluicehq/sluice/runtime/registry"
	"github.com/sluicehq/sluice/runtime/tracectx"
	"github.com/sluicehq/sluice/runtime/tracing"
	"github.com/sluicehq/sluice/runtime/wasm"
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

// TraceParent is the traceparent the ingress stored with a message (empty
// for a message stored before Sluice kept trace context): the outcome
// keeps it, so that the callback joins the trace.
func TraceParent(m *queue.Message) string {
	hs := messageHeaders(m.Headers)
	c, _, ok := tracectx.From(&hs)
	if !ok {
		return ""
	}
	return c.String()
}

// traceHeaders sets a destination call's traceparent: the message's trace
// with a new span id (each attempt is a new span; with tracing on, the
// destination span), and passes its tracestate on. It returns the context
// it sent. A message without a stored trace context (from before Sluice
// kept one) goes out with a new trace. Set last, so neither
// forward_headers, destination headers nor a transform can break the
// trace.
func traceHeaders(hs []dispatch.Header, msg tracectx.Header) ([]dispatch.Header, tracectx.Context) {
	c, state, ok := tracectx.From(msg)
	if !ok {
		c = tracectx.New()
	}
	c = c.Child()
	hs = setHeader(hs, tracectx.TraceparentHeader, c.String())
	if state != "" {
		hs = setHeader(hs, tracectx.TracestateHeader, state)
	} else {
		hs = deleteHeader(hs, tracectx.TracestateHeader)
	}
	return hs, c
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

// The spans of a message's stages, recorded when tracing is on and the
// message's trace is sampled: each is a child of the span whose
// traceparent the ingress stored with the message (the ingest span).

// startSpans reads the message's stored trace context (w.hdrs is set) and
// records the queue wait: from acceptance, or for a retry from when it
// became due, to this pick-up.
func (w *worker) startSpans(m *queue.Message) {
	c, state, ok := tracectx.From(&w.hdrs)
	w.spans = ok && c.Sampled()
	if !w.spans {
		return
	}
	w.trace, w.traceState = c, state
	start := m.Received
	if m.Attempts > 0 && !m.NotBefore.IsZero() {
		start = m.NotBefore
	}
	w.record(&tracing.Span{Context: c.Child(), Name: "queue wait " + m.Route, Kind: tracing.KindInternal,
		Start: start, End: time.Now(), Attrs: []tracing.Attr{
			tracing.String("sluice.route", m.Route),
			tracing.String("sluice.correlation_id", uuid.UUID(m.ID).String()),
			tracing.Int("sluice.attempt", int64(m.Attempts)+1)}})
}

// record records a span under the message's stored one.
func (w *worker) record(s *tracing.Span) {
	s.Parent, s.State = w.trace.SpanID, w.traceState
	w.pool.Tracer.Record(s)
}

// pluginSpan records one call of a transform or reply transform (stage);
// inst is nil when no instance could be made.
func (w *worker) pluginSpan(stage string, v *registry.Version, inst *wasm.Instance, start time.Time, err error) {
	w.record(newPluginSpan(w.trace, stage, v, inst, start, err))
}

// newPluginSpan is a plugin call's span, a child of parent: its name,
// version, sha256, the stage that called it (transform, reply, validate),
// the fuel it used and its error code.
func newPluginSpan(parent tracectx.Context, stage string, v *registry.Version, inst *wasm.Instance, start time.Time, err error) *tracing.Span {
	p := v.Plugin
	s := &tracing.Span{Context: parent.Child(), Parent: parent.SpanID, Name: "plugin " + p.Name, Kind: tracing.KindInternal,
		Start: start, End: time.Now(),
		Attrs: []tracing.Attr{tracing.String("sluice.plugin.name", p.Name), tracing.String("sluice.plugin.version", p.Version),
			tracing.String("sluice.plugin.sha256", p.SHA256), tracing.String("sluice.plugin.stage", stage)}}
	if inst != nil {
		if fuel, ok := inst.FuelUsed(); ok {
			s.Attrs = append(s.Attrs, tracing.Int("sluice.plugin.fuel_used", fuel))
		}
	}
	if err != nil {
		code := wasm.CodeFailed
		var we *wasm.Error
		if errors.As(err, &we) {
			code = we.Code
		}
		s.Err = code
		s.Attrs = append(s.Attrs, tracing.String("error.type", code))
	}
	return s
}

// destinationSpan records a delivery attempt as an HTTP client span: c is
// the context whose traceparent the destination was sent; status 0 is no
// answer, code the failure's error code.
func (w *worker) destinationSpan(c tracectx.Context, m *queue.Message, rawURL string, start time.Time, status int, code string) {
	full, host, port := spanURL(rawURL)
	s := &tracing.Span{Context: c, Name: "POST", Kind: tracing.KindClient, Start: start, End: time.Now(),
		Attrs: []tracing.Attr{tracing.String("http.request.method", "POST"), tracing.String("url.full", full),
			tracing.String("server.address", host), tracing.Int("server.port", port),
			tracing.String("sluice.route", m.Route), tracing.String("sluice.correlation_id", uuid.UUID(m.ID).String()),
			tracing.Int("sluice.attempt", int64(m.Attempts)+1), tracing.String("sluice.hop", "destination")}}
	if status != 0 {
		s.Attrs = append(s.Attrs, tracing.Int("http.response.status_code", int64(status)))
	}
	if code != "" {
		if status != 0 {
			code = strconv.Itoa(status) // semantic conventions: the status code is the error type
		}
		s.Err = code
		s.Attrs = append(s.Attrs, tracing.String("error.type", code))
	}
	w.record(s)
}

// spanURL is a destination URL as a span shows it: without credentials,
// query or fragment (they may carry secrets), and its host and port.
func spanURL(raw string) (full, host string, port int64) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", 0
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	port, _ = strconv.ParseInt(u.Port(), 10, 32)
	if port == 0 {
		port = map[string]int64{"http": 80, "https": 443}[u.Scheme]
	}
	return u.String(), u.Hostname(), port
}

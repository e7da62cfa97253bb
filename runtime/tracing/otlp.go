package tracing

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The OTLP protobuf messages Sluice writes, by field number
// (opentelemetry-proto, collector/trace/v1 and trace/v1).
const (
	fRequestResourceSpans = 1 // ExportTraceServiceRequest.resource_spans

	fResourceSpansResource   = 1 // ResourceSpans.resource
	fResourceSpansScopeSpans = 2 // ResourceSpans.scope_spans

	fResourceAttributes = 1 // Resource.attributes

	fScopeSpansScope = 1 // ScopeSpans.scope
	fScopeSpansSpans = 2 // ScopeSpans.spans

	fScopeName    = 1 // InstrumentationScope.name
	fScopeVersion = 2 // InstrumentationScope.version

	fSpanTraceID      = 1
	fSpanSpanID       = 2
	fSpanTraceState   = 3
	fSpanParentSpanID = 4
	fSpanName         = 5
	fSpanKind         = 6
	fSpanStart        = 7 // fixed64 unix nanos
	fSpanEnd          = 8 // fixed64 unix nanos
	fSpanAttributes   = 9
	fSpanStatus       = 15
	fSpanFlags        = 16 // fixed32: trace flags, bit 8 "parent known local/remote", bit 9 "parent remote"

	fStatusMessage = 2
	fStatusCode    = 3 // 2: error

	fKeyValueKey   = 1
	fKeyValueValue = 2

	fAnyString = 1
	fAnyInt    = 3
)

// scopeName is the instrumentation scope of every span.
const scopeName = "github.com/sluicehq/sluice"

// encoder appends length-delimited messages: a nested message is written
// into scratch and then copied in with its length.
type encoder struct {
	scratch [][]byte // one buffer per nesting depth
}

// nested appends field num holding the message fill writes, at depth d.
func (e *encoder) nested(b []byte, num protowire.Number, d int, fill func([]byte) []byte) []byte {
	for len(e.scratch) <= d {
		e.scratch = append(e.scratch, nil)
	}
	inner := fill(e.scratch[d][:0])
	e.scratch[d] = inner
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, inner)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func (e *encoder) attr(b []byte, num protowire.Number, d int, a Attr) []byte {
	return e.nested(b, num, d, func(b []byte) []byte {
		b = appendString(b, fKeyValueKey, a.Key)
		return e.nested(b, fKeyValueValue, d+1, func(b []byte) []byte {
			if a.IsInt {
				b = protowire.AppendTag(b, fAnyInt, protowire.VarintType)
				return protowire.AppendVarint(b, uint64(a.Int)) // #nosec G115 -- protobuf's int64 encoding
			}
			b = protowire.AppendTag(b, fAnyString, protowire.BytesType)
			return protowire.AppendString(b, a.Str)
		})
	})
}

func unixNano(t time.Time) uint64 {
	n := t.UnixNano()
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// Encode appends the ExportTraceServiceRequest for spans, from one service.
func (e *encoder) request(b []byte, service, version string, spans []*Span) []byte {
	return e.nested(b, fRequestResourceSpans, 0, func(b []byte) []byte {
		b = e.nested(b, fResourceSpansResource, 1, func(b []byte) []byte {
			b = e.attr(b, fResourceAttributes, 2, String("service.name", service))
			if version != "" {
				b = e.attr(b, fResourceAttributes, 2, String("service.version", version))
			}
			return b
		})
		return e.nested(b, fResourceSpansScopeSpans, 1, func(b []byte) []byte {
			b = e.nested(b, fScopeSpansScope, 2, func(b []byte) []byte {
				b = appendString(b, fScopeName, scopeName)
				return appendString(b, fScopeVersion, version)
			})
			for _, s := range spans {
				b = e.nested(b, fScopeSpansSpans, 2, func(b []byte) []byte { return e.span(b, s) })
			}
			return b
		})
	})
}

func (e *encoder) span(b []byte, s *Span) []byte {
	b = protowire.AppendTag(b, fSpanTraceID, protowire.BytesType)
	b = protowire.AppendBytes(b, s.Context.TraceID[:])
	b = protowire.AppendTag(b, fSpanSpanID, protowire.BytesType)
	b = protowire.AppendBytes(b, s.Context.SpanID[:])
	b = appendString(b, fSpanTraceState, s.State)
	if s.Parent != ([8]byte{}) {
		b = protowire.AppendTag(b, fSpanParentSpanID, protowire.BytesType)
		b = protowire.AppendBytes(b, s.Parent[:])
	}
	b = appendString(b, fSpanName, s.Name)
	b = protowire.AppendTag(b, fSpanKind, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(s.Kind)) // #nosec G115 -- a small enum
	b = protowire.AppendTag(b, fSpanStart, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, unixNano(s.Start))
	b = protowire.AppendTag(b, fSpanEnd, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, unixNano(s.End))
	for _, a := range s.Attrs {
		b = e.attr(b, fSpanAttributes, 3, a)
	}
	if s.Err != "" {
		b = e.nested(b, fSpanStatus, 3, func(b []byte) []byte {
			b = appendString(b, fStatusMessage, s.Err)
			b = protowire.AppendTag(b, fStatusCode, protowire.VarintType)
			return protowire.AppendVarint(b, 2)
		})
	}
	flags := uint32(s.Context.Flags) | 1<<8
	if s.RemoteParent {
		flags |= 1 << 9
	}
	b = protowire.AppendTag(b, fSpanFlags, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, flags)
}

// send exports one batch; a failure drops it (counted) and is logged at
// most once a minute.
func (t *Tracer) send(spans []*Span) {
	var e encoder
	body := e.request(nil, t.o.Service, t.o.Version, spans)
	err := t.post(body)
	if err == nil {
		return
	}
	t.dropped(DroppedExportFailed, len(spans))
	now := time.Now().UnixNano()
	if last := t.lastWarn.Load(); now-last >= int64(time.Minute) && t.lastWarn.CompareAndSwap(last, now) {
		t.o.Log.Warn("exporting spans failed; dropped (this warning repeats at most once a minute)",
			"spans", len(spans), "endpoint", t.o.URL, "err", err)
	}
}

func (t *Tracer) post(body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), t.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.o.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	for k, v := range t.o.Headers {
		req.Header.Set(k, v)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, math.MaxInt16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: %s answered %d", errStatus, t.o.URL, resp.StatusCode)
	}
	return nil
}

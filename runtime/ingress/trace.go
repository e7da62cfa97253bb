package ingress

import (
	"strings"

	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/tracectx"
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

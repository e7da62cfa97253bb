// Package tracectx is W3C Trace Context (https://www.w3.org/TR/trace-context/)
// for Sluice's messages: the ingress accepts a sender's traceparent or
// starts a trace, the message keeps it in its stored headers (so async,
// retried and restarted deliveries keep it), and every destination call
// goes out with a traceparent of the same trace and a new span id. None of
// this depends on exporting spans.
package tracectx

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strings"
)

// Header names (lower case, as HTTP/2 sends them; lookups ignore case).
const (
	TraceparentHeader = "traceparent"
	TracestateHeader  = "tracestate"
)

// Context is a traceparent: the trace, the caller's span and the flags.
type Context struct {
	TraceID [16]byte
	SpanID  [8]byte
	Flags   byte // bit 0: sampled
}

// headerLen is the length of a version 00 traceparent.
const headerLen = 55

// Parse validates a traceparent header value. Per the spec a version 00
// header is exactly 55 characters of lower-case hex and dashes, the trace
// and span ids are not all zeros, version ff is invalid, and a later
// version may carry more fields after a dash.
func Parse(s string) (Context, bool) {
	var c Context
	if len(s) < headerLen || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return c, false
	}
	var ver [1]byte
	if !decodeHex(ver[:], s[0:2]) || ver[0] == 0xff {
		return c, false
	}
	if ver[0] == 0 && len(s) != headerLen {
		return c, false
	}
	if len(s) > headerLen && s[headerLen] != '-' {
		return c, false
	}
	var flags [1]byte
	if !decodeHex(c.TraceID[:], s[3:35]) || !decodeHex(c.SpanID[:], s[36:52]) || !decodeHex(flags[:], s[53:55]) {
		return c, false
	}
	if c.TraceID == ([16]byte{}) || c.SpanID == ([8]byte{}) {
		return c, false
	}
	c.Flags = flags[0]
	if ver[0] != 0 {
		c.Flags &= 1 // the flags this version knows
	}
	return c, true
}

// decodeHex decodes lower-case hex only (the spec forbids upper case).
func decodeHex(dst []byte, s string) bool {
	for i := range dst {
		hi, ok1 := nibble(s[2*i])
		lo, ok2 := nibble(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func nibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// New starts a trace: random trace and span ids, not sampled.
func New() Context {
	var c Context
	binary.BigEndian.PutUint64(c.TraceID[:8], nonZero())
	binary.BigEndian.PutUint64(c.TraceID[8:], rand.Uint64()) // #nosec G404 -- see nonZero
	binary.BigEndian.PutUint64(c.SpanID[:], nonZero())
	return c
}

// Child is a new span in the same trace: the same trace id and flags, a new
// span id.
func (c Context) Child() Context {
	binary.BigEndian.PutUint64(c.SpanID[:], nonZero())
	return c
}

// nonZero is a random non-zero id half. Trace and span ids identify, they
// do not authenticate: W3C asks for randomness, not secrecy, and math/rand/v2's
// generator (ChaCha8, seeded by the OS) gives it without a syscall.
func nonZero() uint64 {
	for {
		if v := rand.Uint64(); v != 0 { // #nosec G404 -- an identifier, not a secret
			return v
		}
	}
}

// Sampled reports the sampled flag.
func (c Context) Sampled() bool { return c.Flags&1 != 0 }

// AppendHeader appends the version 00 traceparent value.
func (c Context) AppendHeader(b []byte) []byte {
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, c.TraceID[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, c.SpanID[:])
	b = append(b, '-')
	return hex.AppendEncode(b, []byte{c.Flags})
}

// String is the traceparent value.
func (c Context) String() string {
	var buf [headerLen]byte
	return string(c.AppendHeader(buf[:0]))
}

// TraceIDString is the trace id in lower-case hex (32 characters), as
// tracing backends show it.
func (c Context) TraceIDString() string { return hex.EncodeToString(c.TraceID[:]) }

// SpanIDString is the span id in lower-case hex (16 characters).
func (c Context) SpanIDString() string { return hex.EncodeToString(c.SpanID[:]) }

// Header looks a header up by name, ignoring case.
type Header interface {
	Header(name string) (string, bool)
}

// From reads a message's stored trace context: its traceparent and
// tracestate headers. ok is false when the message has no valid
// traceparent (one stored before Sluice kept trace context).
func From(h Header) (c Context, state string, ok bool) {
	v, found := h.Header(TraceparentHeader)
	if !found {
		return c, "", false
	}
	if c, ok = Parse(strings.TrimSpace(v)); !ok {
		return c, "", false
	}
	state, _ = h.Header(TracestateHeader)
	return c, state, true
}

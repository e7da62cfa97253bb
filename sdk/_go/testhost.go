//go:build !wasip1

package sluice

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TestHost stands in for the Sluice host in builds other than GOOS=wasip1, so that a plugin's handler can be
// unit-tested with a plain `go test`: it plays one message through the registered [Handler] exactly as the host
// would (sluice_alloc, copy, sluice_transform) and records what the plugin told it.
//
// A TestHost may be shared by parallel tests: calls are serialized, because the SDK's guest state is global,
// as it is in a real instance.
type TestHost struct {
	// Meta holds the metadata by ABI key: "route", "correlation_id", "content_type", "received_at", "plugin",
	// and "header:<Name>". Header names match case-insensitively, as on the real host.
	Meta map[string]string
	// Now is what [Now] returns during a call. The zero value means the real clock.
	Now time.Time
}

// Result is what the plugin reported to the host for one message.
type Result struct {
	// Code is sluice_transform's return value: 0 success, 1 rejected, anything else a plugin failure.
	Code int32
	// Output is the last body passed to set_output (empty if none).
	Output []byte
	// Error is the last rejection message passed to set_error.
	Error string
	// ContentType is the last content type passed to set_content_type ("" if none).
	ContentType string
	// Headers holds the headers passed to set_header, by name as given; nil if none.
	Headers map[string]string
	// Logs holds the records passed to log, in order.
	Logs []LogRecord
}

// LogRecord is one call to the host's log function.
type LogRecord struct {
	Level   Level
	Message string
}

// Rejected reports whether the plugin rejected the message.
func (r Result) Rejected() bool { return r.Code == codeReject }

var (
	testMu   sync.Mutex                // serializes TestHost.Call
	testCall atomic.Pointer[callState] // the call in progress; nil outside TestHost.Call
)

type callState struct {
	host   *TestHost
	result Result
}

// Call runs the registered handler on a copy of body and returns what the plugin reported.
func (h *TestHost) Call(body []byte) Result {
	testMu.Lock()
	defer testMu.Unlock()
	call := &callState{host: h}
	testCall.Store(call)
	defer testCall.Store(nil)

	buf := g.alloc(int32(len(body)))
	copy(buf, body)
	in, ok := g.input(addrOf(buf), int32(len(body)))
	if !ok {
		panic("sluice: TestHost: input buffer mismatch")
	}
	call.result.Code = g.transform(in)
	return call.result
}

func hostSetOutput(b []byte) {
	if call := testCall.Load(); call != nil {
		call.result.Output = append([]byte{}, b...)
	}
}

func hostSetError(s string) {
	if call := testCall.Load(); call != nil {
		call.result.Error = s
	}
}

func hostSetContentType(s string) {
	if call := testCall.Load(); call != nil {
		call.result.ContentType = s
	}
}

func hostSetHeader(name, value string) {
	call := testCall.Load()
	if call == nil {
		return
	}
	if call.result.Headers == nil {
		call.result.Headers = make(map[string]string)
	}
	call.result.Headers[name] = value
}

func hostMeta(key, buf []byte) int32 {
	call := testCall.Load()
	if call == nil {
		return -1
	}
	v, ok := call.host.lookup(string(key))
	if !ok {
		return -1
	}
	if len(v) <= len(buf) {
		copy(buf, v)
	}
	return int32(len(v))
}

func (h *TestHost) lookup(key string) (string, bool) {
	if v, ok := h.Meta[key]; ok {
		return v, true
	}
	name, isHeader := strings.CutPrefix(key, "header:")
	if !isHeader {
		return "", false
	}
	for k, v := range h.Meta {
		if kn, ok := strings.CutPrefix(k, "header:"); ok && strings.EqualFold(kn, name) {
			return v, true
		}
	}
	return "", false
}

func hostLog(level Level, msg string) {
	call := testCall.Load()
	if call == nil {
		fmt.Fprintf(os.Stderr, "sluice %s: %s\n", level, msg)
		return
	}
	call.result.Logs = append(call.result.Logs, LogRecord{Level: level, Message: msg})
}

func hostNow() int64 {
	if call := testCall.Load(); call != nil && !call.host.Now.IsZero() {
		return call.host.Now.UnixNano()
	}
	return time.Now().UnixNano()
}

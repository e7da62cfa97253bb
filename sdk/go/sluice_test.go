//go:build !wasip1

package sluice

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAllocReusesBuffer(t *testing.T) {
	g.in = nil
	tests := []struct {
		name     string
		size     int32
		wantCap  int
		wantSame bool // same backing array as the previous step
	}{
		{"empty first call still has an address", 0, minInputCap, false},
		{"small fits the first buffer", 100, minInputCap, true},
		{"exact fit", minInputCap, minInputCap, true},
		{"grows by doubling", minInputCap + 1, 2 * minInputCap, false},
		{"shrinking request reuses", 10, 2 * minInputCap, true},
		{"big jump grows to the request", 10 * minInputCap, 10 * minInputCap, false},
	}
	var prev uintptr
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := g.alloc(tt.size)
			if len(b) != int(tt.size) || cap(b) != tt.wantCap {
				t.Fatalf("alloc(%d): len %d cap %d, want len %d cap %d", tt.size, len(b), cap(b), tt.size, tt.wantCap)
			}
			if addr := addrOf(b); addr == 0 || (addr == prev) != tt.wantSame {
				t.Fatalf("alloc(%d): address %#x, previous %#x, want same = %v", tt.size, addr, prev, tt.wantSame)
			}
			prev = addrOf(b)
		})
	}
	if b := g.alloc(-1); b != nil {
		t.Fatalf("alloc(-1) = %d bytes, want nil", len(b))
	}
}

func TestInputBounds(t *testing.T) {
	g.in = nil
	buf := g.alloc(16)
	base := addrOf(buf)
	c := uintptr(cap(buf))
	tests := []struct {
		name string
		addr uintptr
		n    int32
		ok   bool
	}{
		{"whole allocation", base, 16, true},
		{"empty", 0, 0, true},
		{"inside capacity past len", base + 16, 32, true},
		{"up to the end of capacity", base, int32(c), true},
		{"past the end", base + c - 1, 2, false},
		{"start past the end", base + c + 1, 1, false},
		{"before the buffer", base - 1, 1, false},
		{"negative length", base, -1, false},
		{"null pointer", 0, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := g.input(tt.addr, tt.n)
			if ok != tt.ok {
				t.Fatalf("input(%#x, %d) ok = %v, want %v", tt.addr, tt.n, ok, tt.ok)
			}
			if ok && len(b) != int(tt.n) {
				t.Fatalf("input(%#x, %d) = %d bytes", tt.addr, tt.n, len(b))
			}
			if ok && tt.n > 0 && addrOf(b) != tt.addr {
				t.Fatalf("input(%#x, %d) starts at %#x", tt.addr, tt.n, addrOf(b))
			}
		})
	}
}

func TestCallOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		handler   Handler
		body      string
		wantCode  int32
		wantOut   string
		wantError string
		wantLog   string // substring of the only log record, if any
	}{
		{
			name:     "echo aliases the input",
			handler:  func(m *Message) ([]byte, error) { return m.Body, nil },
			body:     "hello",
			wantCode: codeOK,
			wantOut:  "hello",
		},
		{
			name:     "transform",
			handler:  func(m *Message) ([]byte, error) { return bytes.ToUpper(m.Body), nil },
			body:     "hello",
			wantCode: codeOK,
			wantOut:  "HELLO",
		},
		{
			name:     "empty input",
			handler:  func(m *Message) ([]byte, error) { return append(m.Body, "x"...), nil },
			body:     "",
			wantCode: codeOK,
			wantOut:  "x",
		},
		{
			name:     "nil output is an empty body",
			handler:  func(m *Message) ([]byte, error) { return nil, nil },
			body:     "dropped",
			wantCode: codeOK,
		},
		{
			name:      "Reject",
			handler:   func(m *Message) ([]byte, error) { return nil, Reject(`"name" is required`) },
			body:      "{}",
			wantCode:  codeReject,
			wantError: `"name" is required`,
		},
		{
			name:      "any error rejects, output ignored",
			handler:   func(m *Message) ([]byte, error) { return m.Body, errors.New("nope") },
			body:      "x",
			wantCode:  codeReject,
			wantError: "nope",
		},
		{
			name:      "panic is a plugin failure",
			handler:   func(m *Message) ([]byte, error) { panic("boom") },
			body:      "x",
			wantCode:  codeFailure,
			wantError: "handler panicked: boom",
			wantLog:   "handler panicked: boom",
		},
		{
			name:     "no handler is a plugin failure",
			handler:  nil,
			body:     "x",
			wantCode: codeFailure,
			wantLog:  "call sluice.Handle from an init function",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Handle(tt.handler)
			res := (&TestHost{}).Call([]byte(tt.body))
			if res.Code != tt.wantCode || string(res.Output) != tt.wantOut || res.Error != tt.wantError {
				t.Fatalf("got code %d output %q error %q, want %d %q %q",
					res.Code, res.Output, res.Error, tt.wantCode, tt.wantOut, tt.wantError)
			}
			if tt.wantLog == "" && len(res.Logs) > 0 {
				t.Fatalf("unexpected logs %v", res.Logs)
			}
			if tt.wantLog != "" && (len(res.Logs) != 1 || res.Logs[0].Level != LevelError ||
				!strings.Contains(res.Logs[0].Message, tt.wantLog)) {
				t.Fatalf("logs %v, want one error containing %q", res.Logs, tt.wantLog)
			}
		})
	}
}

func TestOutputIsCopiedBeforeReuse(t *testing.T) {
	Handle(func(m *Message) ([]byte, error) { return m.Body, nil })
	h := &TestHost{}
	first := h.Call([]byte("first"))
	h.Call([]byte("SECOND"))
	if string(first.Output) != "first" {
		t.Fatalf("first output changed to %q after the buffer was reused", first.Output)
	}
}

func TestMetadata(t *testing.T) {
	long := strings.Repeat("v", 3*minMetaCap+7)
	received := time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC)
	h := &TestHost{
		Meta: map[string]string{
			"route":            "orders",
			"correlation_id":   "c-1",
			"content_type":     "application/json",
			"received_at":      received.Format(time.RFC3339Nano),
			"plugin":           "mapper",
			"header:X-Request": "r-9",
			"long":             long,
			"empty":            "",
		},
		Now: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	type got struct {
		route, corr, ct, plugin, hdr, hdrMissing string
		received, now                            time.Time
		long, empty                              string
		longOK, emptyOK, missingOK               bool
	}
	var g1 got
	Handle(func(m *Message) ([]byte, error) {
		g1.route, g1.corr, g1.ct, g1.plugin = m.Route(), m.CorrelationID(), m.ContentType(), m.Plugin()
		g1.hdr, g1.hdrMissing = m.Header("x-REQUEST"), m.Header("X-Other")
		g1.received, g1.now = m.ReceivedAt(), Now()
		g1.long, g1.longOK = m.Meta("long")
		g1.empty, g1.emptyOK = m.Meta("empty")
		_, g1.missingOK = m.Meta("missing")
		return nil, nil
	})
	h.Call(nil)
	want := got{
		route: "orders", corr: "c-1", ct: "application/json", plugin: "mapper", hdr: "r-9",
		received: received, now: h.Now, long: long, longOK: true, emptyOK: true,
	}
	if g1 != want {
		t.Fatalf("got %+v\nwant %+v", g1, want)
	}
}

func TestReceivedAtMissingOrInvalid(t *testing.T) {
	for _, meta := range []map[string]string{nil, {"received_at": "yesterday"}} {
		var at time.Time
		Handle(func(m *Message) ([]byte, error) { at = m.ReceivedAt(); return nil, nil })
		(&TestHost{Meta: meta}).Call(nil)
		if !at.IsZero() {
			t.Fatalf("meta %v: ReceivedAt = %v, want zero", meta, at)
		}
	}
}

func TestOutputSetters(t *testing.T) {
	Handle(func(m *Message) ([]byte, error) {
		m.SetContentType("text/plain")
		m.SetHeader("X-A", "1")
		m.SetHeader("X-A", "2")
		m.SetHeader("X-B", "3")
		Log(LevelDebug, "plain")
		Logf(LevelWarn, "n=%d", 7)
		return []byte("ok"), nil
	})
	res := (&TestHost{}).Call(nil)
	if res.ContentType != "text/plain" || res.Headers["X-A"] != "2" || res.Headers["X-B"] != "3" || len(res.Headers) != 2 {
		t.Fatalf("content type %q headers %v", res.ContentType, res.Headers)
	}
	want := []LogRecord{{LevelDebug, "plain"}, {LevelWarn, "n=7"}}
	if len(res.Logs) != len(want) || res.Logs[0] != want[0] || res.Logs[1] != want[1] {
		t.Fatalf("logs %v, want %v", res.Logs, want)
	}
}

func TestLevelString(t *testing.T) {
	for l, want := range map[Level]string{LevelDebug: "debug", LevelInfo: "info", LevelWarn: "warn", LevelError: "error", 9: "level(9)"} {
		if got := l.String(); got != want {
			t.Errorf("Level(%d).String() = %q, want %q", int32(l), got, want)
		}
	}
}

// The SDK's per-message path must not allocate: the input buffer, the Message and the metadata buffers are
// reused. (The host stand-in is not on this path: with no call in progress its imports do nothing.)
func TestTransformDoesNotAllocate(t *testing.T) {
	Handle(func(m *Message) ([]byte, error) { return m.Body, nil })
	body := []byte(`{"name":"ada"}`)
	allocs := testing.AllocsPerRun(1000, func() {
		buf := g.alloc(int32(len(body)))
		copy(buf, body)
		in, _ := g.input(addrOf(buf), int32(len(buf)))
		if g.transform(in) != codeOK {
			t.Fatal("transform failed")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per message, want 0", allocs)
	}
	Handle(func(m *Message) ([]byte, error) { m.Header("X-Something"); m.Meta("route"); return nil, nil })
	if allocs := testing.AllocsPerRun(1000, func() { g.transform(body) }); allocs != 0 {
		t.Fatalf("%v allocations per message with absent metadata, want 0", allocs)
	}
}

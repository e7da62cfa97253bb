package wasm

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

type headers map[string]string

func (h headers) Header(name string) (string, bool) {
	v, ok := h[strings.ToLower(name)]
	return v, ok
}

func load(t testing.TB, h *Host, name string, l Limits) *Plugin {
	t.Helper()
	bin, err := os.ReadFile("testdata/" + name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Load(context.Background(), name, bin, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func newHost(t testing.TB) *Host {
	h, err := NewHost(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func instance(t testing.TB, p *Plugin) *Instance {
	t.Helper()
	i, err := p.Instantiate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(i.Close)
	return i
}

func TestEchoReadsMetaAndSetsHeaders(t *testing.T) {
	i := instance(t, load(t, newHost(t), "echo", Limits{}))
	for range 3 { // warm instance reused
		c := &Call{Input: []byte(`{"a":1}`), Route: "orders", CorrelationID: "id-1", Headers: headers{}}
		if err := i.Transform(c); err != nil {
			t.Fatal(err)
		}
		if string(c.Output) != `{"a":1}` || c.OutContentType != "text/plain" {
			t.Fatalf("output %q content type %q", c.Output, c.OutContentType)
		}
		if len(c.OutHeaders) != 1 || c.OutHeaders[0] != (Header{"X-Echo-Route", "orders"}) {
			t.Fatalf("headers %+v", c.OutHeaders)
		}
	}
}

func TestFailures(t *testing.T) {
	h := newHost(t)
	for _, tc := range []struct {
		fixture string
		limits  Limits
		code    string
		discard bool
		msg     string
	}{
		{"reject", Limits{}, CodeRejected, false, "rejected by fixture"},
		{"trap", Limits{}, CodeFailed, true, "unreachable"},
		{"loop", Limits{Timeout: 50 * time.Millisecond}, CodeTimeout, true, "exceeded its 50ms limit"},
		{"badptr", Limits{}, CodeInvalidOutput, true, "outside guest memory"},
		{"grow", Limits{MemoryPages: 16}, CodeFailed, true, "returned 2"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			i := instance(t, load(t, h, tc.fixture, tc.limits))
			err := i.Transform(&Call{Input: []byte("hello")})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Code != tc.code || e.Discard != tc.discard || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("got code=%s discard=%v msg=%q; want %s %v %q", e.Code, e.Discard, e.Message, tc.code, tc.discard, tc.msg)
			}
			if i.Closed() != tc.discard {
				t.Fatalf("instance closed = %v", i.Closed())
			}
		})
	}
}

func TestLoadRefusesModulesWithoutABI(t *testing.T) {
	h := newHost(t)
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name + ".wasm")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	echo := read("echo")
	for _, tc := range []struct {
		name string
		bin  []byte
		want string
	}{
		{"noabi", read("noabi"), "missing export sluice_abi_version); exported functions found: [sluice_alloc sluice_transform]"},
		{"abi2", read("abi2"), "speaks ABI version 2, this host speaks 1"},
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), "not a WebAssembly module"},
		{"truncated", echo[:len(echo)/2], "compiling"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.Load(context.Background(), tc.name, tc.bin, Limits{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func BenchmarkTransformEcho1KiB(b *testing.B) {
	i := instance(b, load(b, newHost(b), "echo", Limits{}))
	c := &Call{Input: make([]byte, 1024), Route: "r", Headers: headers{}}
	b.ReportAllocs()
	for b.Loop() {
		if err := i.Transform(c); err != nil {
			b.Fatal(err)
		}
	}
}

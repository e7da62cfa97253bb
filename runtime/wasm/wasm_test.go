package wasm

import (
	"bytes"
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
		{"trap", Limits{}, CodeTrap, true, "unreachable"},
		{"loop", Limits{}, CodeFuel, true, "spent its fuel budget of 100000000"},
		{"slow", Limits{Fuel: 1 << 60, Timeout: 50 * time.Millisecond}, CodeTimeout, true, "ran past its 50ms limit"},
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
		{"truncated", echo[:len(echo)/2], "truncated or corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.Load(context.Background(), tc.name, tc.bin, Limits{})
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidModule || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v, want invalid_module containing %q", err, tc.want)
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

// TestHostileFixtures runs every hostile fixture (testdata/hostile) through the
// host: each fails its own call with a precise code, fast, and the instance is
// discarded; modules that must not load are refused with invalid_module.
func TestHostileFixtures(t *testing.T) {
	h := newHost(t)
	for _, tc := range []struct {
		fixture string
		code    string
		msg     string
	}{
		{"loop", CodeFuel, "spent its fuel budget"},
		{"calltree", CodeFuel, "spent its fuel budget"},
		{"membomb", CodeMemoryLimit, "of 256 pages"},
		{"recursion", CodeDepth, "deeper than 10000 calls"},
		{"unreachable", CodeTrap, "unreachable"},
		{"oob", CodeTrap, "out of bounds memory access"},
		{"badoutput", CodeInvalidOutput, "outside guest memory"},
		{"hugeoutput", CodeInvalidOutput, "exceeds the output limit of 16777216"},
		{"gopanic", CodeFailed, "handler panicked: gopanic fixture: deliberate panic"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			bin, err := os.ReadFile("testdata/hostile/" + tc.fixture + ".wasm")
			if err != nil {
				t.Fatal(err)
			}
			limits := Limits{Timeout: time.Minute} // the limit under test must stop it, not the clock
			if tc.fixture == "membomb" {
				limits.MemoryPages = 256 // reached well within the timeout, even under -race
			}
			p, err := h.Load(context.Background(), tc.fixture, bin, limits)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			i := instance(t, p)
			start := time.Now()
			err = i.Transform(&Call{Input: []byte("hello"), Headers: headers{}})
			took := time.Since(start)
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code || !strings.Contains(e.Message, tc.msg) || !e.Discard || !i.Closed() {
				t.Fatalf("err = %v (discard %v, closed %v); want %s containing %q, instance discarded", err, e != nil && e.Discard, i.Closed(), tc.code, tc.msg)
			}
			t.Logf("%s: %s in %v", tc.fixture, e.Message, took)
			// A fresh instance of the same plugin still works for normal input.
			if tc.fixture == "gopanic" {
				j := instance(t, p)
				c := &Call{Input: []byte("ok"), Headers: headers{}}
				if err := j.Transform(c); err != nil || string(c.Output) != "ok" {
					t.Fatalf("fresh instance: %v %q", err, c.Output)
				}
			}
		})
	}
	for _, tc := range []struct{ fixture, msg string }{
		{"unknownimport", "unknown imports: sluice.launch_missiles (no such host function"},
		{"notwasm", "not a WebAssembly module"},
		{"truncated", "truncated or corrupt"},
		{"hugemem", "minimum memory of 65536 pages (4 GiB), over its limit of 1024 pages (64 MiB)"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			bin, err := os.ReadFile("testdata/hostile/" + tc.fixture + ".wasm")
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.Load(context.Background(), tc.fixture, bin, Limits{})
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidModule || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("Load: %v; want invalid_module containing %q", err, tc.msg)
			}
		})
	}
	t.Run("oversized module", func(t *testing.T) {
		bin, _ := os.ReadFile("testdata/echo.wasm")
		_, err := h.Load(context.Background(), "big", bin, Limits{MaxModuleSize: 100})
		if err == nil || !strings.Contains(err.Error(), "over the 100-byte limit") {
			t.Fatalf("Load: %v", err)
		}
	})
}

// wasiCommands are the WASI command fixtures (testdata/wasi) that behave the
// same: upper-case stdin to stdout; "fail" exits with status 3.
func wasiCommands(t *testing.T) []string {
	var names []string
	for _, n := range []string{"upper-go", "upper-c", "upper-rust"} {
		if _, err := os.Stat("testdata/wasi/" + n + ".wasm"); err == nil {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		t.Fatal("no WASI command fixtures")
	}
	return names
}

func TestWASICommandPlugins(t *testing.T) {
	h := newHost(t)
	for _, name := range wasiCommands(t) {
		t.Run(name, func(t *testing.T) {
			bin, err := os.ReadFile("testdata/wasi/" + name + ".wasm")
			if err != nil {
				t.Fatal(err)
			}
			p, err := h.Load(context.Background(), name, bin, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			if p.ABI != ABIWASI {
				t.Fatalf("detected ABI %q, want wasi (it exports _start)", p.ABI)
			}
			i := instance(t, p)
			input := []byte("hello, World! \x00\xff ünïcode")
			for range 2 { // one fresh instance per message; the handle is reusable
				c := &Call{Input: input, Route: "orders", Headers: headers{}}
				if err := i.Transform(c); err != nil {
					t.Fatal(err)
				}
				if want := asciiUpper(input); !bytes.Equal(c.Output, want) {
					t.Fatalf("output %q, want %q", c.Output, want)
				}
			}
			c := &Call{Input: nil, Headers: headers{}}
			if err := i.Transform(c); err != nil || len(c.Output) != 0 {
				t.Fatalf("empty input: %v %q", err, c.Output)
			}
			err = i.Transform(&Call{Input: []byte("fail"), Headers: headers{}})
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeFailed || !strings.Contains(e.Message, "exited with status 3") ||
				!strings.Contains(e.Message, `refusing the input "fail"`) {
				t.Fatalf("fail: %v; want plugin_failed with the status and stderr", err)
			}
			// Limits hold for commands too: a tiny fuel budget (C needs ~170 units
			// for this input, Rust ~210, Go ~19,000) and output limit.
			small, err := h.LoadABI(context.Background(), name+"-small", bin, ABIWASI, Limits{Fuel: 100})
			if err != nil {
				t.Fatal(err)
			}
			defer small.Close(context.Background())
			err = instance(t, small).Transform(&Call{Input: input, Headers: headers{}})
			if !errors.As(err, &e) || e.Code != CodeFuel {
				t.Fatalf("fuel 100: %v; want fuel_exhausted", err)
			}
			tiny, err := h.LoadABI(context.Background(), name+"-tiny", bin, ABIWASI, Limits{MaxOutput: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer tiny.Close(context.Background())
			err = instance(t, tiny).Transform(&Call{Input: input, Headers: headers{}})
			if !errors.As(err, &e) || e.Code != CodeInvalidOutput {
				t.Fatalf("max output 4: %v; want invalid_output", err)
			}
		})
	}
}

func TestWASIABIMismatch(t *testing.T) {
	h := newHost(t)
	echo, _ := os.ReadFile("testdata/echo.wasm")
	if _, err := h.LoadABI(context.Background(), "echo", echo, ABIWASI, Limits{}); err == nil ||
		!strings.Contains(err.Error(), "abi: wasi needs an exported _start") {
		t.Fatalf("native module as wasi: %v", err)
	}
	cmd, _ := os.ReadFile("testdata/wasi/upper-go.wasm")
	if _, err := h.LoadABI(context.Background(), "cmd", cmd, ABINative, Limits{}); err == nil ||
		!strings.Contains(err.Error(), "exports _start (a WASI command)") {
		t.Fatalf("command as native: %v", err)
	}
}

func asciiUpper(b []byte) []byte {
	out := bytes.Clone(b)
	for i, c := range out {
		if 'a' <= c && c <= 'z' {
			out[i] = c - 32
		}
	}
	return out
}

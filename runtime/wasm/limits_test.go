package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/wasm/wasmbin"
)

// Hostile modules for the structural limits, assembled by hand: small and
// quick to build, while compiling them would cost seconds to hours or run
// the machine out of memory (measurements in RATIONALE.md, "WASM host").

// genModule describes a generated module. Every function has type 0,
// () -> (); the module exports nothing, so one that gets past the limits
// compiles and is then refused for not speaking the ABI.
type genModule struct {
	types   int      // type section entries (at least 1)
	globals int      // mutable i32 globals
	bodies  [][]byte // function bodies (see fn)
}

func uleb(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendSection(out []byte, id byte, payload []byte) []byte {
	return append(uleb(append(out, id), uint64(len(payload))), payload...)
}

func (g genModule) bytes() []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	p := uleb(nil, uint64(max(g.types, 1)))
	for range max(g.types, 1) {
		p = append(p, 0x60, 0, 0)
	}
	out = appendSection(out, 1, p)
	p = uleb(nil, uint64(len(g.bodies)))
	p = append(p, make([]byte, len(g.bodies))...) // every function: type 0
	out = appendSection(out, 3, p)
	if g.globals > 0 {
		p = uleb(nil, uint64(g.globals))
		for range g.globals {
			p = append(p, 0x7f, 0x01, 0x41, 0x00, 0x0b) // (global (mut i32) (i32.const 0))
		}
		out = appendSection(out, 6, p)
	}
	n := 0
	for _, b := range g.bodies {
		n += len(b) + 5
	}
	p = uleb(make([]byte, 0, n+5), uint64(len(g.bodies)))
	for _, b := range g.bodies {
		p = append(uleb(p, uint64(len(b))), b...)
	}
	return appendSection(out, 10, p)
}

// fn returns a function body: locals i32 locals, then code, then end.
func fn(locals uint64, code []byte) []byte {
	b := []byte{0}
	if locals > 0 {
		b = append(uleb([]byte{1}, locals), 0x7f)
	}
	return append(append(b, code...), 0x0b)
}

// times repeats an instruction sequence n times.
func times(n int, code ...byte) []byte { return bytes.Repeat(code, n) }

// sameBodies returns n copies of one body (sharing its bytes).
func sameBodies(n int, body []byte) [][]byte {
	bs := make([][]byte, n)
	for i := range bs {
		bs[i] = body
	}
	return bs
}

var (
	opBlockEnd = []byte{0x02, 0x40, 0x0b} // block end
	opLoopEnd  = []byte{0x03, 0x40, 0x0b} // loop end
	opCall0    = []byte{0x10, 0x00}       // call 0
)

// TestStructuralLimitsRefuseBeforeCompiling loads modules built to cost the
// machine: each is refused with invalid_module naming the limit, the value
// and the key to raise, and none reaches the compiler.
func TestStructuralLimitsRefuseBeforeCompiling(t *testing.T) {
	h := newHost(t)
	for _, tc := range []struct {
		name string
		mod  func() []byte
		want []string
	}{
		// 12.5 s and 540 MB to compile once metered (4 s unmetered).
		{"1M empty functions", func() []byte { return genModule{bodies: sameBodies(1_000_000, fn(0, nil))}.bytes() },
			[]string{"defines 1000000 functions, over the limit of 50000", "plugin_defaults.max_functions"}},
		// The review's 40 MB body peaked at 2.97 GB.
		{"40 MiB function", func() []byte { return genModule{bodies: [][]byte{fn(0, times(40<<20, 0x01))}}.bytes() },
			[]string{"has 41943047 bytes of code, over the limit of 8388608", "plugin_defaults.max_code_size"}},
		{"1 MiB function", func() []byte { return genModule{bodies: [][]byte{fn(0, times(1<<20, 0x01))}}.bytes() },
			[]string{"function 0 is 1048578 bytes, over the limit of 131072", "plugin_defaults.max_function_size"}},
		{"600,000 types", func() []byte { return genModule{types: 600_000, bodies: [][]byte{fn(0, nil)}}.bytes() },
			[]string{"declares 600000 types", "(600000 types), over the limit of 500000", "plugin_defaults.max_declarations"}},
		// A chain of blocks is quadratic: 100 KB of block/end compiled for 12 s.
		{"20,000-block chain", func() []byte { return genModule{bodies: [][]byte{fn(0, times(20_000, opBlockEnd...))}}.bytes() },
			[]string{"would take too long to compile", "~40003 basic blocks", "plugin_defaults.max_compile_work"}},
		// Metered loops are worse: 10,000 (30 KB) compiled for 68 s.
		{"10,000-loop chain", func() []byte { return genModule{bodies: [][]byte{fn(0, times(10_000, opLoopEnd...))}}.bytes() },
			[]string{"would take too long to compile", "~40003 basic blocks", "max_compile_work"}},
		// wazero allocates a byte per local before compiling: 4 GiB here.
		{"4 billion locals", func() []byte { return genModule{bodies: [][]byte{fn(1<<32-1, nil)}}.bytes() },
			[]string{"would take too long to compile", "4294967295 locals", "max_compile_work"}},
		// Every call redefines every mutable global: 10,000 x 1,000 ran out of memory (1.7 GB per 10^7).
		{"mutable globals x calls", func() []byte {
			return genModule{globals: 10_000, bodies: [][]byte{fn(0, times(1_000, opCall0...))}}.bytes()
		}, []string{"would take too long to compile", "1000 calls", "max_compile_work"}},
		// wazero walks every type for every function: 30,000 x 30,000.
		{"functions x types", func() []byte {
			return genModule{types: 30_000, bodies: sameBodies(30_000, fn(0, nil))}.bytes()
		}, []string{"would take too long to compile", "max_compile_work"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := tc.mod()
			before := h.compilations.Load()
			start := time.Now()
			_, err := h.Load(context.Background(), "hostile", bin, Limits{})
			took := time.Since(start)
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidModule {
				t.Fatalf("Load: %v; want invalid_module", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q does not contain %q", e.Message, w)
				}
			}
			if n := h.compilations.Load() - before; n != 0 {
				t.Errorf("%d compilations: the module reached the compiler", n)
			}
			t.Logf("%d-byte module refused in %v: %s", len(bin), took.Round(time.Millisecond), e.Message)
		})
	}
}

// TestStructuralLimitsBoundaries checks each limit's edge on small modules
// and small limits: a module at the limit is compiled (and then refused for
// not speaking the ABI), one past it is refused before compiling.
func TestStructuralLimitsBoundaries(t *testing.T) {
	h := newHost(t)
	stats := func(bin []byte) (wasmbin.Counts, wasmbin.CodeStats) {
		c, err := wasmbin.Count(bin)
		if err != nil {
			t.Fatal(err)
		}
		m, err := wasmbin.Parse(bin)
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.CodeStats(bin)
		if err != nil {
			t.Fatal(err)
		}
		return c, s
	}
	chain := func(n int) []byte { return genModule{bodies: [][]byte{fn(3, times(n, opBlockEnd...))}}.bytes() }
	for _, tc := range []struct {
		key      string
		at, over []byte
		limits   func(at []byte) Limits
	}{
		{"max_functions", genModule{bodies: sameBodies(10, fn(0, nil))}.bytes(), genModule{bodies: sameBodies(11, fn(0, nil))}.bytes(),
			func([]byte) Limits { return Limits{MaxFunctions: 10} }},
		{"max_function_size", genModule{bodies: [][]byte{fn(0, times(98, 0x01))}}.bytes(), genModule{bodies: [][]byte{fn(0, times(99, 0x01))}}.bytes(),
			func([]byte) Limits { return Limits{MaxFunctionSize: 100} }},
		{"max_code_size", genModule{bodies: [][]byte{fn(0, times(50, 0x01))}}.bytes(), genModule{bodies: [][]byte{fn(0, times(51, 0x01))}}.bytes(),
			func(at []byte) Limits { c, _ := stats(at); return Limits{MaxCodeSize: c.CodeSize} }},
		{"max_declarations", genModule{types: 5, bodies: [][]byte{fn(0, nil)}}.bytes(), genModule{types: 6, bodies: [][]byte{fn(0, nil)}}.bytes(),
			func([]byte) Limits { return Limits{MaxDeclarations: 5} }},
		{"max_compile_work", chain(100), chain(101),
			func(at []byte) Limits { _, s := stats(at); return Limits{MaxCompileWork: s.Work} }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			l := tc.limits(tc.at)
			before := h.compilations.Load()
			_, err := h.Load(context.Background(), "at", tc.at, l)
			if err == nil || !strings.Contains(err.Error(), "does not speak Sluice ABI") || h.compilations.Load() != before+1 {
				t.Fatalf("at the limit: %v (compilations %d); want it compiled, then refused for the ABI", err, h.compilations.Load()-before)
			}
			_, err = h.Load(context.Background(), "over", tc.over, l)
			if err == nil || !strings.Contains(err.Error(), "plugin_defaults."+tc.key) || h.compilations.Load() != before+1 {
				t.Fatalf("past the limit: %v (compilations %d); want it refused before compiling", err, h.compilations.Load()-before)
			}
		})
	}
}

// repoModules are the repository's real plugins and the host's fixtures.
func repoModules(t testing.TB) map[string][]byte {
	t.Helper()
	var files []string
	for _, g := range []string{"../../plugins/*/*.wasm", "../../plugins/*/*/*.wasm", "testdata/*.wasm", "testdata/*/*.wasm",
		"../../benchmarks/*/testdata/*.wasm"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	out := map[string][]byte{}
	for _, f := range files {
		if b := filepath.Base(f); b == "notwasm.wasm" || b == "truncated.wasm" {
			continue
		}
		bin, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = bin
	}
	if len(out) < 10 {
		t.Fatalf("found only %d modules", len(out))
	}
	return out
}

// TestRepoPluginsWithinDefaultLimits: every real plugin passes the default
// structural limits. It logs the largest values, the measure for the
// defaults (RATIONALE.md).
func TestRepoPluginsWithinDefaultLimits(t *testing.T) {
	l := Limits{}.withDefaults()
	var most struct {
		functions, body, code, decls int
		work                         int64
	}
	for name, bin := range repoModules(t) {
		c, err := wasmbin.Count(bin)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := checkCounts(c, l); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		m, err := wasmbin.Parse(bin)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s, err := m.CodeStats(bin)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := checkCode(s, l); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		most.functions, most.body, most.code = max(most.functions, c.Functions), max(most.body, s.MaxBody), max(most.code, c.CodeSize)
		most.decls, most.work = max(most.decls, c.Declarations()), max(most.work, s.Work)
	}
	t.Logf("largest: %d functions (limit %d), body %d bytes (%d), code %d bytes (%d), %d declarations (%d), work %.3g (%.3g)",
		most.functions, l.MaxFunctions, most.body, l.MaxFunctionSize, most.code, l.MaxCodeSize,
		most.decls, l.MaxDeclarations, float64(most.work), float64(l.MaxCompileWork))
}

// worstModules are, for each structural limit, a module that costs about
// the most to compile within the default limits.
func worstModules() map[string][]byte {
	const fnMax = 128<<10 - 3 // a body of DefaultMaxFunctionSize: locals byte, code, end
	call := fn(0, times(fnMax/2, opCall0...))
	live := fn(0, append(times(fnMax/3, 0x41, 0x01), times(fnMax/3, 0x1a)...)) // many values live at once
	localsIfs := times(1840, 0x20, 0x00, 0x04, 0x40, 0x0b)                     // if (local 0) end
	for i := range 1000 {                                                      // then read every local
		localsIfs = append(uleb(append(localsIfs, 0x20), uint64(i)), 0x1a)
	}
	all := append([][]byte{fn(0, times(4500, opLoopEnd...))}, sameBodies(6, call)...)
	all = append(all, sameBodies(50, live)...)
	all = append(all, sameBodies(DefaultMaxFunctions-len(all), fn(0, nil))...)
	return map[string][]byte{
		"calls":     genModule{bodies: sameBodies(19, call)}.bytes(),
		"live":      genModule{bodies: sameBodies(63, live)}.bytes(),
		"functions": genModule{bodies: sameBodies(DefaultMaxFunctions, fn(0, nil))}.bytes(),
		"loops":     genModule{bodies: [][]byte{fn(0, times(5560, opLoopEnd...))}}.bytes(),
		"localsifs": genModule{bodies: [][]byte{fn(1000, localsIfs)}}.bytes(),
		"types":     genModule{types: 22_000, bodies: sameBodies(22_000, fn(0, nil))}.bytes(),
		"globals":   genModule{globals: 1000, bodies: [][]byte{fn(0, times(2475, opCall0...))}}.bytes(),
		"all":       genModule{bodies: all}.bytes(),
	}
}

// BenchmarkCompileWithinLimits loads (compiles) the costliest modules the
// default limits let through; RATIONALE.md records the numbers. Run with
// -benchtime=1x: each is seconds of one core.
func BenchmarkCompileWithinLimits(b *testing.B) {
	for name, bin := range worstModules() {
		b.Run(name, func(b *testing.B) {
			h, err := NewHost("", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			for b.Loop() {
				// A fresh runtime each time: nothing is cached in memory
				// across runtimes without a shared compiled module.
				_, err := h.Load(context.Background(), name, bin, Limits{})
				if err == nil || !strings.Contains(err.Error(), "does not speak Sluice ABI") {
					b.Fatalf("%s: %v; want it compiled, then refused for the ABI", name, err)
				}
			}
		})
	}
}

func TestWorstModulesAreWithinLimits(t *testing.T) {
	l := Limits{}.withDefaults()
	for name, bin := range worstModules() {
		c, err := wasmbin.Count(bin)
		if err != nil {
			t.Fatal(err)
		}
		m, err := wasmbin.Parse(bin)
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.CodeStats(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(checkCounts(c, l), checkCode(s, l)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// Each is near a limit, or it would not be the worst.
		near := c.Functions*10 > l.MaxFunctions*9 || c.CodeSize*10 > l.MaxCodeSize*9 || s.Work*10 > l.MaxCompileWork*9
		if !near {
			t.Errorf("%s: %s is not near any limit", name, fmt.Sprintf("%d functions, %d bytes of code, work %d", c.Functions, c.CodeSize, s.Work))
		}
	}
}

package wasmbin

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// module assembles a module: types () -> () (at least one), mutable i32
// globals, and function bodies (locals and code, without the end) of type 0.
func module(types, globals int, bodies ...[]byte) []byte {
	sec := func(out []byte, id byte, p []byte) []byte {
		return append(appendU32(append(out, id), uint32(len(p))), p...)
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	p := appendU32(nil, uint32(max(types, 1)))
	for range max(types, 1) {
		p = append(p, 0x60, 0, 0)
	}
	out = sec(out, secType, p)
	p = appendU32(nil, uint32(len(bodies)))
	p = append(p, make([]byte, len(bodies))...)
	out = sec(out, secFunction, p)
	if globals > 0 {
		p = appendU32(nil, uint32(globals))
		for range globals {
			p = append(p, 0x7f, 0x01, 0x41, 0x00, 0x0b)
		}
		out = sec(out, secGlobal, p)
	}
	p = appendU32(nil, uint32(len(bodies)))
	for _, b := range bodies {
		p = appendU32(p, uint32(len(b)+1))
		p = append(append(p, b...), 0x0b)
	}
	return sec(out, secCode, p)
}

func TestCountReadsSectionHeaders(t *testing.T) {
	c, err := Count(fixtures(t)["echo.wasm"])
	if err != nil {
		t.Fatal(err)
	}
	// echo: 4 imports, 3 defined functions, a memory, 4 exports.
	if c.Imports != 4 || c.Functions != 3 || c.Bodies != 3 || c.Memories != 1 || c.Exports != 4 || c.CodeSize == 0 {
		t.Fatalf("counts %+v", c)
	}
	if c.Declarations() != c.Types+c.Imports+c.Tables+c.Memories+c.Globals+c.Exports+c.Elements+c.Data+c.Tags {
		t.Fatalf("declarations %d", c.Declarations())
	}

	// A million functions are counted without decoding one: no allocation
	// per entry.
	bodies := make([][]byte, 1_000_000)
	for i := range bodies {
		bodies[i] = []byte{0}
	}
	big := module(1, 0, bodies...)
	if allocs := testing.AllocsPerRun(3, func() { Count(big) }); allocs > 10 {
		t.Fatalf("Count allocates %v times", allocs)
	}
	if c, _ := Count(big); c.Functions != 1_000_000 || c.Bodies != 1_000_000 {
		t.Fatalf("counts %+v", c)
	}

	// Sections are bounded: 2,000 empty custom sections are refused.
	many := bytes.Clone(big[:8])
	for range 2000 {
		many = append(many, 0, 1, 0)
	}
	if _, err := Count(many); err == nil || !strings.Contains(err.Error(), "more than 1000 sections") {
		t.Fatalf("Count: %v", err)
	}
}

func TestCodeStatsWork(t *testing.T) {
	rep := func(n int, code ...byte) []byte { return bytes.Repeat(code, n) }
	w := func(blocks, locals int) int64 {
		return int64(float64(blocks) * (float64(blocks) + float64(locals*locals)/8))
	}
	for _, tc := range []struct {
		name              string
		bin               []byte
		work              int64
		blocks, locals    int
		calls, maxBodyIdx int
	}{
		// Per function: blocks·(blocks + locals²/8) + types + imports + globals (+2 for the metering).
		{"empty", module(1, 0, []byte{0}), w(3, 0) + 3, 3, 0, 0, 0},
		{"block chain", module(1, 0, append([]byte{0}, rep(100, 0x02, 0x40, 0x0b)...)), w(3+200, 0) + 3, 203, 0, 0, 0},
		{"loop chain", module(1, 0, append([]byte{0}, rep(100, 0x03, 0x40, 0x0b)...)), w(3+400, 0) + 3, 403, 0, 0, 0},
		{"ifs and else", module(1, 0, append([]byte{1, 1, 0x7f}, rep(10, 0x20, 0x00, 0x04, 0x40, 0x05, 0x0b)...)), w(3+30, 1) + 3, 33, 1, 0, 0},
		{"br_table", module(1, 0, []byte{1, 1, 0x7f, 0x02, 0x40, 0x20, 0x00, 0x0e, 3, 0, 0, 0, 0, 0x0b}), w(3+2+1+3, 1) + 3, 9, 1, 0, 0},
		{"locals", module(1, 0, []byte{2, 100, 0x7f, 28, 0x7e}), w(3, 128) + 3, 3, 128, 0, 0},
		// Per call: imports + 200·(mutable globals + 2); per function the globals too.
		{"calls and globals", module(1, 5, append([]byte{0}, rep(10, 0x10, 0x00)...)), w(3, 0) + 1 + 7 + 10*200*7, 3, 0, 10, 0},
		// Functions × types.
		{"types", module(10, 0, []byte{0}, []byte{0}), 2 * (w(3, 0) + 10 + 2), 3, 0, 0, 0},
		{"largest body", module(1, 0, []byte{0}, append([]byte{0}, rep(10, 0x01)...), []byte{0}), 3 * (w(3, 0) + 3), 3, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.bin)
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.CodeStats(tc.bin)
			if err != nil {
				t.Fatal(err)
			}
			if s.Work != tc.work || s.MaxWorkBlocks != tc.blocks || s.MaxWorkLocals != tc.locals || s.MaxWorkCalls != tc.calls || s.MaxBodyFunc != tc.maxBodyIdx {
				t.Fatalf("stats %+v; want work %d, blocks %d, locals %d, calls %d, largest body %d",
					s, tc.work, tc.blocks, tc.locals, tc.calls, tc.maxBodyIdx)
			}
		})
	}

	// 2^32-1 locals in a 10-byte body: counted, not allocated.
	huge := module(1, 0, []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f})
	m, _ := Parse(huge)
	if s, err := m.CodeStats(huge); err != nil || s.Work < 1e18 || s.MaxWorkLocals != 1<<32-1 {
		t.Fatalf("stats %+v, %v", s, err)
	}
	// Twice that many, in two functions: the work saturates.
	twice := module(1, 0, []byte{2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f}, []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f})
	m, _ = Parse(twice)
	if s, err := m.CodeStats(twice); err != nil || s.Work != math.MaxInt64 {
		t.Fatalf("stats %+v, %v", s, err)
	}
}

// FuzzCodeStats: the limit checks never panic, and any module Instrument
// accepts gets stats (the host checks them before instrumenting).
func FuzzCodeStats(f *testing.F) {
	for _, b := range fixtures(f) {
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add(module(3, 2, []byte{1, 2, 0x7f, 0x02, 0x40, 0x0e, 1, 0, 0, 0x0b, 0x10, 0x00}))
	f.Fuzz(func(t *testing.T, bin []byte) {
		if _, err := Count(bin); err != nil {
			return
		}
		m, err := Parse(bin)
		if err != nil {
			return
		}
		_, statsErr := m.CodeStats(bin)
		if _, err := Instrument(bin, Meter{Fuel: 100, Depth: 10}); err == nil && statsErr != nil {
			t.Fatalf("Instrument accepts the module, CodeStats does not: %v", statsErr)
		}
	})
}

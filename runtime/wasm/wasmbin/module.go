// Package wasmbin reads the WebAssembly binary format far enough to describe a
// module (imports, exports, memory), to estimate what compiling it costs
// (Count, CodeStats) and to rewrite its code for metering (Instrument). It is
// not a validator: wazero validates what it compiles.
package wasmbin

import (
	"fmt"
	"strings"
)

// Section ids.
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secTable    = 4
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secElement  = 9
	secCode     = 10
	secData     = 11
	secDataCnt  = 12
	secTag      = 13
)

// order is each known section's position in a module; custom sections go anywhere.
var order = map[byte]int{secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCnt: 11, secCode: 12, secData: 13}

// Extern kinds.
const (
	KindFunc   = "func"
	KindTable  = "table"
	KindMemory = "memory"
	KindGlobal = "global"
	KindTag    = "tag"
)

var kinds = [...]string{KindFunc, KindTable, KindMemory, KindGlobal, KindTag}

// FuncType is a function signature, in text-format value type names.
type FuncType struct {
	Params, Results []string
}

func (t FuncType) String() string {
	return "(" + strings.Join(t.Params, ", ") + ") -> (" + strings.Join(t.Results, ", ") + ")"
}

// Import is one import.
type Import struct {
	Module, Name, Kind string
	Type               *FuncType `json:",omitempty"` // functions only
}

// Export is one export.
type Export struct {
	Name, Kind string
	Index      uint32
	Type       *FuncType `json:",omitempty"` // functions only
}

// Memory describes a memory (imported or defined), in 64 KiB pages.
type Memory struct {
	MinPages uint64
	MaxPages uint64 `json:",omitempty"`
	HasMax   bool
	Imported bool
}

// Module is what Parse learned about a module.
type Module struct {
	Types    []FuncType
	Imports  []Import
	Exports  []Export
	Memories []Memory
	// Funcs holds the type index of every function, imported ones first.
	Funcs          []uint32
	importedFuncs  int
	globals        int // imported + defined
	mutableGlobals int
	localNames     int // functions in the name section's local names
	sections       []section
}

type section struct {
	id         byte
	start, end int // payload bounds in the module bytes
	headerAt   int // where the section's id byte is
}

// valTypes names the value types by their encoding.
var valTypes = map[byte]string{0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128",
	0x70: "funcref", 0x6f: "externref"}

func (r *reader) valType() string {
	c := r.byte()
	t, ok := valTypes[c]
	if !ok && r.err == nil {
		r.fail("unknown value type %#x", c)
	}
	return t
}

// Parse reads the module's header and the sections it describes. The code
// section is located but not decoded.
func Parse(bin []byte) (*Module, error) {
	secs, err := sections(bin)
	if err != nil {
		return nil, err
	}
	m := &Module{sections: secs}
	for _, s := range secs {
		payload := bin[s.start:s.end]
		sr := &reader{b: payload}
		m.parseSection(s.id, sr)
		if sr.err == nil && !sr.done() && s.id != secCustom && s.id <= secExport {
			sr.fail("%d bytes after the section's last entry", len(payload)-sr.off)
		}
		if sr.err != nil {
			return nil, fmt.Errorf("section %d at byte %d: %w", s.id, s.headerAt, sr.err)
		}
	}
	for i := range m.Exports {
		e := &m.Exports[i]
		if e.Kind == KindFunc && int(e.Index) < len(m.Funcs) && int(m.Funcs[e.Index]) < len(m.Types) {
			t := m.Types[m.Funcs[e.Index]]
			e.Type = &t
		}
	}
	return m, nil
}

// sections checks the module's header and splits it into sections, in an
// order the format allows.
func sections(bin []byte) ([]section, error) {
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return nil, fmt.Errorf("not a WebAssembly module (no \\0asm magic)")
	}
	if v := bin[4:8]; string(v) != "\x01\x00\x00\x00" {
		return nil, fmt.Errorf("unsupported WebAssembly binary version % x (want 01 00 00 00); components are not modules", v)
	}
	var secs []section
	r := &reader{b: bin, off: 8}
	last := 0
	for !r.done() {
		at := r.off
		id := r.byte()
		size := r.u32()
		start := r.off
		r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("section at byte %d: %w (the module is truncated or corrupt)", at, r.err)
		}
		if id != secCustom {
			pos, ok := order[id]
			if !ok {
				return nil, fmt.Errorf("section at byte %d: unknown section id %d", at, id)
			}
			if pos <= last {
				return nil, fmt.Errorf("section at byte %d: section %d out of order or repeated", at, id)
			}
			last = pos
		}
		if len(secs) == maxSections {
			return nil, fmt.Errorf("section at byte %d: more than %d sections", at, maxSections)
		}
		secs = append(secs, section{id: id, start: start, end: start + int(size), headerAt: at})
	}
	return secs, nil
}

func (m *Module) parseSection(id byte, r *reader) {
	switch id {
	case secCustom:
		if r.name() != "name" || r.err != nil {
			r.err = nil // a custom section's contents are not checked
			return
		}
		// Count the functions with local names: wazero looks each function
		// up in that list (CodeStats). Only the subsections' headers are read.
		for !r.done() {
			sub, size := r.byte(), r.u32()
			payload := r.bytes(int(size))
			if sub == 2 && r.err == nil {
				m.localNames = int((&reader{b: payload}).u32())
			}
		}
		r.err = nil
	case secType:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			if f := r.byte(); f != 0x60 {
				r.fail("type form %#x is not a function type", f)
				return
			}
			var t FuncType
			for k := r.u32(); k > 0 && r.err == nil; k-- {
				t.Params = append(t.Params, r.valType())
			}
			for k := r.u32(); k > 0 && r.err == nil; k-- {
				t.Results = append(t.Results, r.valType())
			}
			m.Types = append(m.Types, t)
		}
	case secImport:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			imp := Import{Module: r.name(), Name: r.name()}
			kind := r.byte()
			if int(kind) >= len(kinds) {
				r.fail("unknown import kind %d", kind)
				return
			}
			imp.Kind = kinds[kind]
			switch kind {
			case 0:
				ti := r.u32()
				if int(ti) < len(m.Types) {
					t := m.Types[ti]
					imp.Type = &t
				}
				m.Funcs = append(m.Funcs, ti)
				m.importedFuncs++
			case 1:
				r.byte()
				r.limits()
			case 2:
				min, max, hasMax := r.limits()
				m.Memories = append(m.Memories, Memory{MinPages: min, MaxPages: max, HasMax: hasMax, Imported: true})
			case 3:
				r.valType()
				if r.byte() == 1 {
					m.mutableGlobals++
				}
				m.globals++
			case 4:
				r.byte()
				r.u32()
			}
			m.Imports = append(m.Imports, imp)
		}
	case secFunction:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			m.Funcs = append(m.Funcs, r.u32())
		}
	case secTable:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.byte()
			r.limits()
		}
	case secMemory:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			min, max, hasMax := r.limits()
			m.Memories = append(m.Memories, Memory{MinPages: min, MaxPages: max, HasMax: hasMax})
		}
	case secGlobal:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.valType()
			if r.byte() == 1 {
				m.mutableGlobals++
			}
			skipConstExpr(r)
			m.globals++
		}
	case secExport:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			e := Export{Name: r.name()}
			kind := r.byte()
			if int(kind) >= len(kinds) {
				r.fail("unknown export kind %d", kind)
				return
			}
			e.Kind, e.Index = kinds[kind], r.u32()
			m.Exports = append(m.Exports, e)
		}
	}
}

// skipConstExpr skips a constant expression up to and including its end.
func skipConstExpr(r *reader) {
	for r.err == nil {
		op := r.byte()
		if op == 0x0b {
			return
		}
		skipImmediates(r, op)
	}
}
